-- The console's staff accounts beside the log (docs/decisions/0010, 0029): what proves who a member
-- is, kept as hashes only. Who they are and their role are events (the team stream); each sign-in
-- is on the record too (the sign-ins stream).

-- A member's password, as an argon2id hash; none until they choose one from a sign-in link.
CREATE TABLE lodge_staff_credentials (
    staff_id       TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,
    changed_at     TEXT NOT NULL
);

-- One-time sign-in links (`lodge staff add`, an owner's invitation, a password reset): the SHA-256
-- of the link's token. A link opens once, before it expires; a newer one for the member replaces it.
CREATE TABLE lodge_staff_sign_in_links (
    token_hash  TEXT PRIMARY KEY,
    staff_id    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX lodge_staff_sign_in_links_staff ON lodge_staff_sign_in_links (staff_id);

-- Console sessions: the SHA-256 of the session cookie. A session ends when idle too long
-- (last_seen_at), at its absolute end (expires_at), at sign-out, or when its member is deactivated.
CREATE TABLE lodge_staff_sessions (
    session_hash  TEXT PRIMARY KEY,
    -- What the session's writes are known by (as a token's id is), never a credential.
    id            TEXT NOT NULL UNIQUE,
    staff_id      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    ip            TEXT,
    user_agent    TEXT
);
CREATE INDEX lodge_staff_sessions_staff ON lodge_staff_sessions (staff_id);
