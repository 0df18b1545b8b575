-- Two-step sign-in for the console (docs/decisions/0031): what a member's authenticator app shares
-- with Lodge, their recovery codes as hashes, and sign-ins that passed the password and wait for the
-- code. Turning it on or off, and each sign-in with it, is on the record (the sign-ins stream).

-- The TOTP secret (RFC 6238; base32, as the app holds it: a code cannot be checked against a hash)
-- and the last time step a code was accepted for, so that a code works once.
CREATE TABLE lodge_staff_two_step (
    staff_id      TEXT PRIMARY KEY,
    secret        TEXT NOT NULL,
    last_step     BIGINT NOT NULL,
    turned_on_at  TEXT NOT NULL
);

-- Recovery codes, for a member without their phone: the SHA-256 of each; a code works once.
CREATE TABLE lodge_staff_recovery_codes (
    code_hash  TEXT PRIMARY KEY,
    staff_id   TEXT NOT NULL
);
CREATE INDEX lodge_staff_recovery_codes_staff ON lodge_staff_recovery_codes (staff_id);

-- Sign-ins half done: the password (or a sign-in link) was right, the code is still to come. The
-- SHA-256 of a short-lived cookie; gone once used or expired.
CREATE TABLE lodge_staff_pending_sign_ins (
    token_hash  TEXT PRIMARY KEY,
    staff_id    TEXT NOT NULL,
    method      TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
