-- Notifications that failed for a reason that may pass (a mail server down, Twilio busy), and when
-- to try each again. Kept by the notifier from the outcomes it reads in the log, so it survives
-- restarts and follows the log: a NotificationSent or a final NotificationFailed removes the row.
CREATE TABLE lodge_notifier_retries (
    cause            TEXT NOT NULL,
    contact_id       TEXT NOT NULL,
    channel          TEXT NOT NULL,
    invite_id        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    attempts         bigint NOT NULL,
    first_failed_at  TEXT NOT NULL,
    next_at          TEXT NOT NULL,
    last_reason      TEXT NOT NULL,
    PRIMARY KEY (cause, contact_id, channel)
);
CREATE INDEX lodge_notifier_retries_next ON lodge_notifier_retries (next_at);
