-- A staff view link dies with the staff token that made it (its id; older links have none and
-- open nothing more).
ALTER TABLE lodge_staff_views ADD COLUMN made_with TEXT;

-- Limits on what one contact, or one address, may do in a while (portal passwords tried, links
-- opened, messages, uploads, forms): one row per slot taken, kept while its window lasts. Not
-- events: a refusal leaves nothing on the record and costs one round trip.
CREATE TABLE lodge_limits (
    id        TEXT PRIMARY KEY,
    key       TEXT NOT NULL,
    -- Milliseconds since 1970.
    taken_at  BIGINT NOT NULL
);
CREATE INDEX lodge_limits_key ON lodge_limits (key, taken_at);

-- Takes one slot under each of `slot_keys` (with the matching id, limit and window), all or none:
-- if every key has had fewer than its `most` slots in its last `window_ms`, takes them and returns
-- the slots left under the first key after it, negated (0 for none left); otherwise takes nothing
-- and returns the milliseconds until the last of the full keys frees a slot (at least 1). Servers
-- sharing the database take a key's slots one at a time: a transaction-scoped advisory lock of its
-- own class ('limi') per key, taken in key order so that two tries never wait on each other.
CREATE FUNCTION lodge_take_slots(slot_ids TEXT[], slot_keys TEXT[], most INTEGER[], window_ms BIGINT[], now_ms BIGINT)
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    k      TEXT;
    i      INTEGER;
    taken  INTEGER;
    oldest BIGINT;
    wait   BIGINT := 0;
    left_under_first INTEGER := 0;
BEGIN
    FOR k IN SELECT DISTINCT key FROM unnest(slot_keys) AS key ORDER BY key LOOP
        PERFORM pg_advisory_xact_lock(1818848617, hashtext(k));
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(slot_keys, 1), 0) LOOP
        DELETE FROM lodge_limits WHERE key = slot_keys[i] AND taken_at <= now_ms - window_ms[i];
        SELECT count(*), min(taken_at) INTO taken, oldest FROM lodge_limits WHERE key = slot_keys[i];
        IF taken >= most[i] THEN
            wait := greatest(wait, oldest + window_ms[i] - now_ms, 1);
        ELSIF i = 1 THEN
            left_under_first := most[i] - taken - 1;
        END IF;
    END LOOP;
    IF wait > 0 THEN
        RETURN wait;
    END IF;
    INSERT INTO lodge_limits (id, key, taken_at)
        SELECT id, key, now_ms FROM unnest(slot_ids, slot_keys) AS s(id, key);
    RETURN -left_under_first;
END
$$;
