-- The notifier's place in the log. It is no projection: a rebuild never resets it, so a rebuild
-- never sends anything again.
CREATE TABLE lodge_notifier (
    name        TEXT PRIMARY KEY,
    position    bigint NOT NULL,
    updated_at  TEXT NOT NULL
);
