//! What can go wrong while projecting.

use lodge_eventlog::{LogError, Position};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// An event this projector cannot handle: the projector stops here.
    #[error("projector {projector} stopped at the event at position {position}: {reason}")]
    Stopped {
        projector: String,
        position: Position,
        reason: String,
    },
    /// A projection cannot handle the event at `position` (returned by `Projection::writes`).
    #[error("cannot handle the event at position {position}: {reason}")]
    Unhandled { position: Position, reason: String },
    /// A rebuild switched the projection to a new generation: the projector starts again from it.
    #[error("projector {0} was switched to a rebuilt generation")]
    Switched(String),
    #[error("the event log: {0}")]
    Log(#[from] LogError),
    #[error("the read-model store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("a stored read model is malformed: {0}")]
    Malformed(String),
    #[error("`{0}` is not a database URL Lodge can use: give sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// A task of the work (a rebuild's reader or renderer) panicked or was cancelled.
    #[error("a task stopped before its end: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl ProjectionError {
    /// Whether trying again later may succeed: the database went away for a while, or was busy.
    /// Anything else (an event that cannot be handled, a malformed read model) stops a projector.
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectionError::Store(error) => lodge_eventlog::is_transient(error),
            ProjectionError::Log(error) => error.is_transient(),
            ProjectionError::Stopped { .. }
            | ProjectionError::Unhandled { .. }
            | ProjectionError::Switched(_)
            | ProjectionError::Malformed(_)
            | ProjectionError::UnsupportedUrl(_)
            | ProjectionError::Task(_) => false,
        }
    }
}

impl From<lodge_store::StoreError> for ProjectionError {
    fn from(error: lodge_store::StoreError) -> Self {
        match error {
            lodge_store::StoreError::UnsupportedUrl(url) => ProjectionError::UnsupportedUrl(url),
            lodge_store::StoreError::Database(error) => ProjectionError::Store(error),
            lodge_store::StoreError::Log(error) => ProjectionError::Log(error),
        }
    }
}
