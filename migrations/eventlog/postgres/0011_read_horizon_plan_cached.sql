-- The same horizon as 0003, in PL/pgSQL. A SQL function that cannot be inlined is parsed and
-- planned again on every call: measured at 0.3-0.6 ms, most of the time of a subscription's read of
-- a few new events, several hundred times a second under load. PL/pgSQL keeps the plan for the
-- session: 0.03-0.04 ms. The query, and so what a reader may read, is unchanged.
CREATE OR REPLACE FUNCTION lodge_read_horizon() RETURNS xid8
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        SELECT coalesce(min(running), pg_snapshot_xmax(pg_current_snapshot()))
        FROM pg_snapshot_xip(pg_current_snapshot()) AS running
        WHERE running::xid NOT IN (
            SELECT a.backend_xid FROM pg_stat_activity a
            WHERE a.backend_xid IS NOT NULL
              AND a.datid IS DISTINCT FROM (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
        )
    );
END
$$;
