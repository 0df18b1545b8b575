-- Rebuilds in progress, one row per projection, so that an interrupted rebuild can resume.
-- phase 'streams': every invite stream is rendered into the new generation in stream order;
--   stream_cursor is the last stream done, position the log's settled head when the rebuild began.
-- phase 'catch_up': the log is followed from position until the new generation has caught up.
CREATE TABLE lodge_rebuilds (
    projection     TEXT PRIMARY KEY,
    generation     INTEGER NOT NULL,
    phase          TEXT NOT NULL,
    stream_cursor  TEXT,
    position       INTEGER NOT NULL,
    started_at     TEXT NOT NULL
);
