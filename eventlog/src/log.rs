//! [`EventLog`]: one contract over both engines.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::error::LogError;
use crate::postgres::PostgresLog;
use crate::sqlite::SqliteLog;
use crate::subscription::Subscription;
use crate::types::{AppendOutcome, ExpectedVersion, LogSummary, Metadata, NewEvent, Position, RecordedEvent, StreamId};
use crate::verify::VerifyReport;

/// Which database holds the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        })
    }
}

#[derive(Debug, Clone)]
pub struct LogOptions {
    /// PostgreSQL connections in the pool (SQLite uses one writer and four readers).
    pub max_connections: u32,
    /// How often a caught-up subscription looks for new events when nothing wakes it.
    pub poll_interval: Duration,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            poll_interval: Duration::from_millis(500),
        }
    }
}

enum Store {
    Sqlite(SqliteLog),
    Postgres(PostgresLog),
}

/// The append-only event log. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct EventLog {
    store: Arc<Store>,
    options: Arc<LogOptions>,
}

impl EventLog {
    /// Connects to `sqlite://PATH` (the file and its folder are created) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Self, LogError> {
        Self::connect_with(url, LogOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: LogOptions) -> Result<Self, LogError> {
        let store = match Engine::of_url(url) {
            Some(Engine::Sqlite) => Store::Sqlite(SqliteLog::open(url).await?),
            Some(Engine::Postgres) => Store::Postgres(PostgresLog::connect(url, options.max_connections).await?),
            None => return Err(LogError::UnsupportedUrl(url.to_owned())),
        };
        Ok(Self {
            store: Arc::new(store),
            options: Arc::new(options),
        })
    }

    pub fn engine(&self) -> Engine {
        match *self.store {
            Store::Sqlite(_) => Engine::Sqlite,
            Store::Postgres(_) => Engine::Postgres,
        }
    }

    /// Brings the database's schema up to date (idempotent).
    pub async fn migrate(&self) -> Result<(), LogError> {
        match &*self.store {
            Store::Sqlite(log) => log.migrate().await,
            Store::Postgres(log) => log.migrate().await,
        }
    }

    /// Appends events to one stream, atomically: all of them or, on any error, none.
    ///
    /// Fails with [`LogError::VersionConflict`] when the stream is not at `expected`. A command id
    /// seen before appends nothing and returns the first outcome (`duplicate: true`), or fails with
    /// [`LogError::CommandIdReused`] when it was used for something else. Once this returns `Ok`, the
    /// events are durable.
    #[tracing::instrument(skip_all, fields(stream = %stream, command_id = %metadata.command_id, correlation_id = %metadata.correlation_id, events = events.len()))]
    pub async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
        metadata: &Metadata,
    ) -> Result<AppendOutcome, LogError> {
        match &*self.store {
            Store::Sqlite(log) => log.append(stream, expected, events, metadata).await,
            Store::Postgres(log) => log.append(stream, expected, events, metadata).await,
        }
    }

    /// Every event of a stream, in version order. Fails with [`LogError::UnknownStream`] when the
    /// stream has none.
    pub async fn read_stream(&self, stream: &StreamId) -> Result<Vec<RecordedEvent>, LogError> {
        let events = match &*self.store {
            Store::Sqlite(log) => log.read_stream(stream).await?,
            Store::Postgres(log) => log.read_stream(stream).await?,
        };
        if events.is_empty() {
            return Err(LogError::UnknownStream(stream.clone()));
        }
        Ok(events)
    }

    /// Up to `limit` events after `after` in log order ([`Position::START`] for the beginning).
    /// Fails with [`LogError::UnknownPosition`] when `after` is not the position of an event.
    ///
    /// On PostgreSQL, an event appears here once every transaction that began before it has ended:
    /// only then can nothing that commits later sort before it (docs/decisions/0002).
    pub async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, LogError> {
        let events = match &*self.store {
            Store::Sqlite(log) => log.read_all(after, limit).await?,
            Store::Postgres(log) => log.read_all(after, limit).await?,
        };
        // Only when nothing comes back is it worth asking whether the reader's place is real.
        if events.is_empty() && after != Position::START {
            let known = match &*self.store {
                Store::Sqlite(log) => log.has_position(after).await?,
                Store::Postgres(log) => log.has_position(after).await?,
            };
            if !known {
                return Err(LogError::UnknownPosition(after));
            }
        }
        Ok(events)
    }

    /// Whether the log holds an event at `position`.
    pub async fn has_event(&self, position: Position) -> Result<bool, LogError> {
        match &*self.store {
            Store::Sqlite(log) => log.has_position(position).await,
            Store::Postgres(log) => log.has_position(position).await,
        }
    }

    /// Whether a reader whose last event is `checkpoint` has read the event at `target` (log order:
    /// on PostgreSQL that is not position order, see docs/decisions/0002).
    pub async fn has_reached(&self, checkpoint: Position, target: Position) -> Result<bool, LogError> {
        if target == Position::START || checkpoint == target {
            return Ok(true);
        }
        if checkpoint == Position::START {
            return Ok(false);
        }
        match &*self.store {
            Store::Sqlite(_) => Ok(checkpoint > target),
            Store::Postgres(log) => log.has_reached(checkpoint, target).await,
        }
    }

    /// Follows the log from `after`: first the events already there, then new ones as they come.
    pub fn subscribe(&self, after: Position) -> Subscription {
        let wakeup = match &*self.store {
            Store::Sqlite(log) => log.wakeup.subscribe(),
            Store::Postgres(log) => {
                log.listen();
                log.wakeup.subscribe()
            }
        };
        Subscription::new(self.clone(), after, wakeup, self.options.poll_interval)
    }

    /// The first outcome of a command, if it appended anything.
    pub async fn command_outcome(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, LogError> {
        match &*self.store {
            Store::Sqlite(log) => log.command_outcome(command_id).await,
            Store::Postgres(log) => log.command_outcome(command_id).await,
        }
    }

    /// Up to `limit` stream ids after `after`, in id order: for walking every stream.
    pub async fn streams(&self, after: Option<&StreamId>, limit: usize) -> Result<Vec<StreamId>, LogError> {
        let ids = match &*self.store {
            Store::Sqlite(log) => log.streams(after, limit).await?,
            Store::Postgres(log) => log.streams(after, limit).await?,
        };
        ids.iter().map(|id| StreamId::parse(id)).collect()
    }

    /// Up to `limit` events of the streams after `after`, in (stream id, version) order: for reading
    /// every stream whole, in big pages (a rebuild). The last stream of a full page may be cut short.
    pub async fn read_by_stream(&self, after: Option<&StreamId>, limit: usize) -> Result<Vec<RecordedEvent>, LogError> {
        match &*self.store {
            Store::Sqlite(log) => log.read_by_stream(after, limit).await,
            Store::Postgres(log) => log.read_by_stream(after, limit).await,
        }
    }

    /// The last event a reader can read now, in log order ([`Position::START`] if none): a reader
    /// that has reached it has read everything appended before this call.
    pub async fn settled_head(&self) -> Result<Position, LogError> {
        match &*self.store {
            Store::Sqlite(log) => log.settled_head().await,
            Store::Postgres(log) => log.settled_head().await,
        }
    }

    /// How many streams and events the log holds.
    pub async fn summary(&self) -> Result<LogSummary, LogError> {
        match &*self.store {
            Store::Sqlite(log) => log.summary().await,
            Store::Postgres(log) => log.summary().await,
        }
    }

    /// Walks every stream's hash chain and reports the first broken link.
    pub async fn verify(&self) -> Result<VerifyReport, LogError> {
        match &*self.store {
            Store::Sqlite(log) => log.verify(None).await,
            Store::Postgres(log) => log.verify(None).await,
        }
    }

    /// Checks one stream's hash chain, from its stored rows.
    pub async fn verify_stream(&self, stream: &StreamId) -> Result<VerifyReport, LogError> {
        match &*self.store {
            Store::Sqlite(log) => log.verify(Some(stream)).await,
            Store::Postgres(log) => log.verify(Some(stream)).await,
        }
    }

    /// Closes the connections; later calls fail.
    pub async fn close(&self) {
        match &*self.store {
            Store::Sqlite(log) => log.close().await,
            Store::Postgres(log) => log.close().await,
        }
    }
}
