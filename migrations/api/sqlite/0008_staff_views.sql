-- Short-lived links through which staff open a contact's portal, read-only. Only the SHA-256 of
-- each token is kept; the link opens a browser session (the token, as a cookie) until it expires.
CREATE TABLE lodge_staff_views (
    token_hash  TEXT PRIMARY KEY,
    invite_id   TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    staff_id    TEXT NOT NULL,
    staff_name  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
