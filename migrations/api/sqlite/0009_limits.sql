-- A staff view link dies with the staff token that made it (its id; older links have none and
-- open nothing more).
ALTER TABLE lodge_staff_views ADD COLUMN made_with TEXT;

-- Limits on what one contact, or one address, may do in a while (portal passwords tried, links
-- opened, messages, uploads, forms): one row per slot taken, kept while its window lasts. Not
-- events: a refusal leaves nothing on the record and costs one short transaction.
CREATE TABLE lodge_limits (
    id        TEXT PRIMARY KEY,
    key       TEXT NOT NULL,
    -- Milliseconds since 1970.
    taken_at  INTEGER NOT NULL
);
CREATE INDEX lodge_limits_key ON lodge_limits (key, taken_at);
