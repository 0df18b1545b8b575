//! Everything the log can refuse or fail at, each with its own variant.

use lodge_domain::EventDecodeError;
use uuid::Uuid;

use crate::types::{ExpectedVersion, Position, StreamId};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("stream {stream} is at {}, but {expected} was expected", actual.map_or("no stream".to_owned(), |v| format!("version {v}")))]
    VersionConflict {
        stream: StreamId,
        expected: ExpectedVersion,
        /// None when the stream does not exist.
        actual: Option<u64>,
    },
    #[error("command {command_id} was already used to append something else to stream {first_stream}")]
    CommandIdReused { command_id: Uuid, first_stream: String },
    #[error("there is no stream {0}")]
    UnknownStream(StreamId),
    #[error("there is no event at position {0}")]
    UnknownPosition(Position),
    #[error("`{0}` is not a stream id: use 1 to 200 letters, digits, `-`, `_`, `.` or `:`")]
    InvalidStreamId(String),
    #[error("nothing to append: give at least one event")]
    NoEvents,
    #[error("event {index} of the append is invalid: {reason}")]
    InvalidEvent { index: usize, reason: String },
    #[error("invalid metadata: {0}")]
    InvalidMetadata(String),
    #[error("the event at position {position} has malformed metadata: {reason}")]
    MalformedMetadata { position: Position, reason: String },
    #[error("the event at position {position} is corrupt: {reason}")]
    CorruptEvent { position: Position, reason: String },
    #[error("the event at position {position} cannot be read: {source}")]
    Decode {
        position: Position,
        source: EventDecodeError,
    },
    #[error("`{0}` is not a database URL Lodge can use: give sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot create the folder for the SQLite database {path}: {source}")]
    CreateFolder { path: String, source: std::io::Error },
    #[error("Lodge is shutting down; the append may not have happened")]
    ShuttingDown,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl LogError {
    /// Whether trying again later may succeed: the database went away for a while, or was busy.
    pub fn is_transient(&self) -> bool {
        matches!(self, LogError::Database(error) if is_transient(error))
    }
}

/// Whether a database error may pass if tried again (a lost or refused connection, a busy database,
/// a server restarting, a serialization failure), as opposed to one that would fail the same way
/// every time.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite: busy, locked. PostgreSQL: serialization failure, deadlock, connection
            // exceptions (class 08), shutting down or restarting (57P01-57P03), the database
            // being recovered (57P04 is not: dropped), out of resources (class 53).
            matches!(
                code.as_ref(),
                "5" | "6" | "40001" | "40P01" | "57P01" | "57P02" | "57P03"
            ) || code.starts_with("08")
                || code.starts_with("53")
        }
        _ => false,
    }
}
