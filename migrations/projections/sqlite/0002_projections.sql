-- Projections: one row per projector. Read models live in tables named `{table}__g{generation}`,
-- read through a view named `{table}` that points at the live generation, so that a rebuild can fill
-- a new generation while the live one keeps serving, then switch the views over in one transaction.
CREATE TABLE lodge_projections (
    name             TEXT PRIMARY KEY,
    generation       INTEGER NOT NULL,
    -- The last event applied to the live generation (0: none yet).
    position         INTEGER NOT NULL,
    -- Set when the projector stopped on an event it cannot handle.
    failed_position  INTEGER,
    error            TEXT,
    updated_at       TEXT NOT NULL
);
