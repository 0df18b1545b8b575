-- Invites whose contacts did something their sender has not yet been told of in a digest, since
-- when. Kept by the notifier from the log; the digest itself is worked out from the invite's events.
CREATE TABLE lodge_notifier_digests (
    invite_id      TEXT PRIMARY KEY,
    pending_since  TEXT NOT NULL
);

-- Invites with a reminder plan of their own (RemindersChanged), looked at on every reminder check.
CREATE TABLE lodge_notifier_reminder_plans (
    invite_id  TEXT PRIMARY KEY
);
