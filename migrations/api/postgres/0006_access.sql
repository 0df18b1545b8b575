-- Who may use the API. These are not events: they hold credentials (as hashes only), and revoking
-- one must take effect at once, not when a projector gets to it.

-- Staff API tokens, one row per token. Only the SHA-256 of a token is kept; the token is printed
-- once, by `lodge token create`. Tokens created with the same email name the same staff member.
CREATE TABLE lodge_staff_tokens (
    id          TEXT PRIMARY KEY,
    staff_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- Portal sessions, opened with a portal link. Only the SHA-256 of the session cookie is kept. A
-- session lives while its link is the contact's current one (see the portal_links read model).
CREATE TABLE lodge_portal_sessions (
    session_hash  TEXT PRIMARY KEY,
    link_hash     TEXT NOT NULL,
    invite_id     TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    -- 1 once the portal password was given (or when the invite has none).
    unlocked      bigint NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX lodge_portal_sessions_contact ON lodge_portal_sessions (invite_id, contact_id);
