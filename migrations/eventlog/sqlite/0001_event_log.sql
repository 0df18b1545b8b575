-- The event log. Rows are only ever inserted: triggers refuse UPDATE and DELETE.
-- Writes are serialised by SQLite's single write lock (BEGIN IMMEDIATE), so positions are assigned
-- and committed in the same order, and readers can follow the log by position alone.
CREATE TABLE lodge_events (
    -- The rowid. No AUTOINCREMENT (an extra page write per commit): rows are never deleted, so a
    -- position is never reused.
    position        INTEGER PRIMARY KEY,
    event_id        BLOB NOT NULL UNIQUE,
    stream_id       TEXT NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version >= 1),
    event_type      TEXT NOT NULL,
    schema_version  INTEGER NOT NULL CHECK (schema_version >= 1),
    data            TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    -- UTC, RFC 3339 with exactly six fractional digits, so that text order is time order.
    recorded_at     TEXT NOT NULL,
    -- sha256(previous hash of the stream || version || recorded_at in µs || content hash)
    hash            BLOB NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version)
);

-- One row per stream: its version and the hash at its head, kept by the trigger below.
CREATE TABLE lodge_streams (
    stream_id  TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    last_hash  BLOB NOT NULL
) WITHOUT ROWID;

-- Keeping the head in a trigger saves the append a statement (each one is a hop to SQLite's thread).
CREATE TRIGGER lodge_events_move_head AFTER INSERT ON lodge_events
BEGIN
    INSERT INTO lodge_streams (stream_id, version, last_hash)
        VALUES (NEW.stream_id, NEW.stream_version, NEW.hash)
        ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash;
END;

CREATE TABLE lodge_commands (
    command_id     BLOB PRIMARY KEY,
    stream_id      TEXT NOT NULL,
    fingerprint    BLOB NOT NULL,
    first_version  INTEGER NOT NULL,
    last_version   INTEGER NOT NULL,
    last_position  INTEGER NOT NULL,
    recorded_at    TEXT NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER lodge_events_no_update BEFORE UPDATE ON lodge_events
BEGIN
    SELECT RAISE(ABORT, 'lodge_events is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER lodge_events_no_delete BEFORE DELETE ON lodge_events
BEGIN
    SELECT RAISE(ABORT, 'lodge_events is append-only: DELETE is not allowed');
END;
