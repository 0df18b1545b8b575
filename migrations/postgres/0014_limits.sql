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

-- Takes a slot under `key` if fewer than `most` were taken in the last `window_ms`, and returns the
-- slots left after it, negated (0 for none left); otherwise takes nothing and returns the
-- milliseconds until the oldest slot frees (at least 1). Servers sharing
-- the database take a key's slots one at a time (a transaction-scoped advisory lock of its own
-- class, 'limi'), so that parallel requests cannot all see room for one more.
CREATE FUNCTION lodge_take_slot(slot_id TEXT, slot_key TEXT, most INTEGER, window_ms BIGINT, now_ms BIGINT)
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    taken  INTEGER;
    oldest BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(1818848617, hashtext(slot_key));
    DELETE FROM lodge_limits WHERE key = slot_key AND taken_at <= now_ms - window_ms;
    SELECT count(*), min(taken_at) INTO taken, oldest FROM lodge_limits WHERE key = slot_key;
    IF taken >= most THEN
        RETURN greatest(oldest + window_ms - now_ms, 1);
    END IF;
    INSERT INTO lodge_limits (id, key, taken_at) VALUES (slot_id, slot_key, now_ms);
    RETURN -(most - taken - 1);
END
$$;
