//! The log on SQLite, the embedded default.
//!
//! One writer connection behind an async mutex takes every append (SQLite has one write lock anyway;
//! queueing in-process avoids busy-waiting on it), and a small pool serves reads, which WAL mode lets
//! run beside the writer. Durability: WAL with `synchronous=FULL`, so a commit survives power loss.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::append::{self, StoredCommand};
use crate::error::LogError;
use crate::row::EventRow;
use crate::types::{AppendOutcome, ExpectedVersion, LogSummary, Metadata, NewEvent, Position, RecordedEvent, StreamId};
use crate::verify::{self, VerifyReport, VerifyRow};
use crate::wakeup::Wakeup;

const EVENT_COLUMNS: &str =
    "position, event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at, hash";

mod write_gate;
mod writer;

pub use write_gate::{WriteGate, WriteTurn};
use writer::Writer;

pub(crate) struct SqliteLog {
    writer: Arc<Mutex<Writer>>,
    /// Shared with the read models' writers of this process (write_gate.rs).
    gate: WriteGate,
    readers: SqlitePool,
    pub(crate) wakeup: Wakeup,
}

/// The connection settings every Lodge connection to a SQLite file uses, with the folder created.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, LogError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    if let Some(folder) = options.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| LogError::CreateFolder {
            path: options.get_filename().display().to_string(),
            source,
        })?;
    }
    Ok(options)
}

/// The pool settings of every Lodge pool on SQLite. sqlx pings each connection on every acquire by
/// default; a local file cannot be cut like a network connection, so there is no need.
pub fn pool_options(max_connections: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn event_row(row: &SqliteRow) -> Result<EventRow, sqlx::Error> {
    Ok(EventRow {
        position: row.try_get("position")?,
        event_id: row.try_get("event_id")?,
        stream_id: row.try_get("stream_id")?,
        stream_version: row.try_get("stream_version")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        data: row.try_get("data")?,
        metadata: row.try_get("metadata")?,
        recorded_at: parse_time(row.try_get("recorded_at")?)?,
        hash: row.try_get("hash")?,
    })
}

/// A command's first outcome, if it appended anything.
pub(crate) async fn stored_command<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    command_id: Uuid,
) -> Result<Option<StoredCommand>, LogError> {
    let row = sqlx::query(
        "SELECT stream_id, fingerprint, first_version, last_version, last_position, recorded_at
         FROM lodge_commands WHERE command_id = ?",
    )
    .bind(command_id)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| stored_command_from(&row)).transpose()?)
}

fn stored_command_from(row: &SqliteRow) -> Result<StoredCommand, sqlx::Error> {
    Ok(StoredCommand {
        stream_id: row.try_get("stream_id")?,
        fingerprint: row.try_get("fingerprint")?,
        first_version: row.try_get("first_version")?,
        last_version: row.try_get("last_version")?,
        last_position: row.try_get("last_position")?,
        recorded_at: parse_time(row.try_get("recorded_at")?)?,
    })
}

fn recorded(rows: Vec<SqliteRow>) -> Result<Vec<RecordedEvent>, LogError> {
    rows.iter().map(|row| event_row(row)?.into_recorded()).collect()
}

impl SqliteLog {
    pub(crate) async fn open(url: &str) -> Result<Self, LogError> {
        let options = connect_options(url)?;
        let writer = SqliteConnection::connect_with(&options).await?;
        // After connecting, so that the file exists and is keyed by its canonical path.
        let gate = WriteGate::of_file(options.get_filename());
        let readers = pool_options(4).connect_with(options).await?;
        Ok(Self {
            writer: Arc::new(Mutex::new(Writer::new(writer))),
            gate,
            readers,
            wakeup: Wakeup::new(),
        })
    }

    pub(crate) async fn migrate(&self) -> Result<(), LogError> {
        let mut writer = self.writer.lock().await;
        let _turn = self.gate.turn().await;
        crate::migrations::of_a_crate(sqlx::migrate!("../migrations/eventlog/sqlite"))
            .run(&mut writer.connection)
            .await?;
        Ok(())
    }

    pub(crate) async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
        metadata: &Metadata,
    ) -> Result<AppendOutcome, LogError> {
        let prepared = append::prepare(stream, events, metadata)?;
        let (writer, gate, stream, events, metadata) = (
            self.writer.clone(),
            self.gate.clone(),
            stream.clone(),
            events.to_vec(),
            metadata.clone(),
        );
        // On a task of its own, so that a caller that goes away cannot cut a write in half: the append
        // either happens whole or not at all, and a retry of the command gets its outcome.
        let outcome = tokio::spawn(async move {
            let mut writer = writer.lock().await;
            let _turn = gate.turn().await;
            writer
                .append(&stream, expected, &events, &metadata, &prepared, append::now_micros())
                .await
        })
        .await
        .map_err(|e| match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => LogError::ShuttingDown,
        })??;
        if !outcome.duplicate {
            self.wakeup.ring();
        }
        Ok(outcome)
    }

    pub(crate) async fn read_stream(&self, stream: &StreamId) -> Result<Vec<RecordedEvent>, LogError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM lodge_events WHERE stream_id = ? ORDER BY stream_version"
        )))
        .bind(stream.as_str())
        .fetch_all(&self.readers)
        .await?;
        recorded(rows)
    }

    pub(crate) async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, LogError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM lodge_events WHERE position > ? ORDER BY position LIMIT ?"
        )))
        .bind(after.0)
        .bind(limit as i64)
        .fetch_all(&self.readers)
        .await?;
        recorded(rows)
    }

    pub(crate) async fn streams(&self, after: Option<&StreamId>, limit: usize) -> Result<Vec<String>, LogError> {
        Ok(
            sqlx::query_scalar("SELECT stream_id FROM lodge_streams WHERE stream_id > ? ORDER BY stream_id LIMIT ?")
                .bind(after.map_or("", StreamId::as_str))
                .bind(limit as i64)
                .fetch_all(&self.readers)
                .await?,
        )
    }

    pub(crate) async fn read_by_stream(
        &self,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM lodge_events WHERE stream_id > $1 ORDER BY stream_id, stream_version LIMIT $2"
        )))
        .bind(after.map_or("", StreamId::as_str))
        .bind(limit as i64)
        .fetch_all(&self.readers)
        .await?;
        recorded(rows)
    }

    pub(crate) async fn settled_head(&self) -> Result<Position, LogError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM lodge_events")
            .fetch_one(&self.readers)
            .await?;
        Ok(head.map_or(Position::START, Position))
    }

    pub(crate) async fn has_position(&self, position: Position) -> Result<bool, LogError> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT position FROM lodge_events WHERE position = ?")
            .bind(position.0)
            .fetch_optional(&self.readers)
            .await?;
        Ok(exists.is_some())
    }

    pub(crate) async fn command_outcome(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, LogError> {
        stored_command(&self.readers, command_id)
            .await?
            .map(StoredCommand::into_outcome)
            .transpose()
    }

    pub(crate) async fn summary(&self) -> Result<LogSummary, LogError> {
        let (streams, events): (i64, i64) =
            sqlx::query_as("SELECT count(*), coalesce(sum(version), 0) FROM lodge_streams")
                .fetch_one(&self.readers)
                .await?;
        Ok(LogSummary {
            streams: streams as u64,
            events: events as u64,
        })
    }

    pub(crate) async fn verify(&self, stream: Option<&StreamId>) -> Result<VerifyReport, LogError> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(verify::events_with_heads(
            "e.position, e.event_id, e.stream_id, e.stream_version, e.event_type, e.schema_version, \
             e.data, e.metadata, e.recorded_at, e.hash",
            stream,
        )));
        if let Some(stream) = stream {
            query = query.bind(stream.as_str());
        }
        let rows = query
            .fetch(&self.readers)
            .map_err(LogError::from)
            .and_then(|row| async move {
                Ok(VerifyRow {
                    event: event_row(&row)?,
                    head: row
                        .try_get::<Option<i64>, _>("head_version")?
                        .zip(row.try_get::<Option<Vec<u8>>, _>("head_hash")?),
                })
            });
        let verifier = verify::walk(rows).await?;
        // Heads without events can only be found walking the whole log.
        let orphans: Vec<String> = match stream {
            Some(_) => Vec::new(),
            None => {
                sqlx::query_scalar(verify::ORPHAN_HEADS)
                    .fetch_all(&self.readers)
                    .await?
            }
        };
        Ok(verifier.finish(orphans))
    }

    pub(crate) async fn close(&self) {
        self.readers.close().await;
    }
}
