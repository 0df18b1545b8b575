//! Lodge end to end, in one test binary: the real server on a random port, the real `lodge`
//! binary, a fresh database on each engine, real SMTP, S3 and browser where they are the point.
//! One binary links the application once (each of twelve binaries linked it again, and their
//! debug builds filled CI's disk); each module below is one area.

mod support;

mod cli;
mod console;
mod console_browser;
mod console_emails;
mod console_firm;
mod console_invite_changes;
mod console_invites;
mod console_journey;
mod console_new_invite;
mod console_team;
mod console_team_record;
mod console_two_step;
mod documents;
mod invites;
mod notifier;
mod openapi;
mod operator;
mod outage;
mod portal_browser;
mod portal_pages;
mod readme_claims;
mod s3;
mod security;
mod team;
