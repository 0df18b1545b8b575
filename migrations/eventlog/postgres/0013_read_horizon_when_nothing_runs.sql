-- The read horizon of 0012, without looking at pg_stat_activity when no transaction is running:
-- the snapshot's horizon is then simply its xmax, since every transaction below it has ended.
-- Projectors and the portal cache's watcher find the horizon before each read of the log, and
-- pg_stat_activity made it the costliest statement under a steady load of appends
-- (docs/decisions/0025). When transactions are running, it does what 0012 did, in 0012's order.
CREATE OR REPLACE FUNCTION lodge_read_horizon_for_next_read() RETURNS xid8
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    elsewhere xid[];
    snapshot pg_snapshot;
BEGIN
    snapshot := pg_current_snapshot();
    IF pg_snapshot_xmin(snapshot) = pg_snapshot_xmax(snapshot) THEN
        RETURN pg_snapshot_xmax(snapshot);
    END IF;
    SELECT coalesce(array_agg(a.backend_xid), '{}') INTO elsewhere
    FROM pg_stat_activity a
    WHERE a.backend_xid IS NOT NULL
      AND a.datid IS DISTINCT FROM (SELECT d.oid FROM pg_database d WHERE d.datname = current_database());
    snapshot := pg_current_snapshot();
    RETURN (
        SELECT coalesce(min(running), pg_snapshot_xmax(snapshot))
        FROM pg_snapshot_xip(snapshot) AS running
        WHERE NOT (running::xid = ANY (elsewhere))
    );
END
$$;
