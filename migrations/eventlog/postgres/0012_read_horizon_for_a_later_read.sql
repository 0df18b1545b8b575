-- The read horizon for a read in a later statement (docs/decisions/0002), without a race that the
-- horizon of 0003/0011 has: it takes its snapshot when the statement starts and looks at
-- pg_stat_activity afterwards, so a transaction of another database that ends in between is no
-- longer there to be recognised, and holds readers back for that read (a one-shot reader such as
-- `lodge log` then stopped short, with other databases busy). Here pg_stat_activity is read first
-- and the snapshot taken afterwards (a VOLATILE function gets a fresh snapshot for each statement):
-- a transaction of another database that started in between is not recognised, but it began after
-- everything already committed, so it can hide nothing.
--
-- Safe only for a read whose snapshot is taken after this function returns: every transaction
-- below the horizon has then either finished before this snapshot, so the read sees its outcome,
-- or runs in another database. lodge_read_horizon() stays, for binaries that call it inline.
CREATE FUNCTION lodge_read_horizon_for_next_read() RETURNS xid8
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    elsewhere xid[];
    snapshot pg_snapshot;
BEGIN
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
