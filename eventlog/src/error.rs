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
