-- Readers read events of transactions older than this horizon: the oldest transaction still running
-- that could be appending to this database's log (see docs/decisions/0002-no-skipped-events.md).
--
-- pg_snapshot_xmin alone counts running transactions in every database of the cluster, so a write
-- in another database would hold Lodge's readers back. A transaction whose backend is in another
-- database can never write here (a backend never changes database), so it is left out. Everything
-- else counts, including a transaction that finished between the snapshot and the look at
-- pg_stat_activity, or whose details are hidden for lack of privileges: leaving such a one out could
-- let a reader pass an event that becomes visible later, while counting it only delays the reader.
CREATE FUNCTION lodge_read_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(running), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) AS running
    WHERE running::xid NOT IN (
        SELECT a.backend_xid FROM pg_stat_activity a
        WHERE a.backend_xid IS NOT NULL
          AND a.datid IS DISTINCT FROM (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
    )
$$;
