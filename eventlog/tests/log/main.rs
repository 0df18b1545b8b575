//! The event log against each engine, in one test binary (one link instead of one per file).

mod support;

mod command_path;
mod contract;
mod group_commit;
mod no_skipped_events;
