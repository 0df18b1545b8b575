//! Lodge's event log: the append-only history every screen of Lodge is built from.
//!
//! One contract on two engines: SQLite (embedded, the default) and PostgreSQL (production).
//! - [`EventLog::append`] appends to one stream with an expected version, atomically and durably;
//!   a repeated command id appends nothing and returns the first outcome.
//! - [`EventLog::read_stream`] and [`EventLog::read_all`] read back; [`EventLog::subscribe`] catches
//!   up and then follows live appends without ever skipping an event.
//! - [`EventLog::verify`] checks the per-stream SHA-256 hash chain.
//! - [`command::execute`] is the command path: load, fold, decide, append, retry on conflict.

mod append;
pub mod command;
mod error;
mod hash;
mod log;
pub mod migrations;
pub mod postgres;
mod redact;
mod row;
pub mod sqlite;
mod subscription;
#[cfg(feature = "testing")]
pub mod testing;
mod types;
mod verify;
mod wakeup;

pub use error::{LogError, is_transient};
pub use log::{Engine, EventLog, LogOptions};
pub use redact::redact_url;
pub use subscription::Subscription;
pub use types::{
    AppendOutcome, ExpectedVersion, LogSummary, Metadata, NewEvent, Position, RecordedEvent, Source, StreamId,
};
pub use verify::{BrokenLink, VerifyReport};
