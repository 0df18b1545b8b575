//! The log on SQLite, the embedded default.
//!
//! One writer connection behind an async mutex takes every append (SQLite has one write lock anyway;
//! queueing in-process avoids busy-waiting on it), and a small pool serves reads, which WAL mode lets
//! run beside the writer. Durability: WAL with `synchronous=FULL`, so a commit survives power loss.

use std::str::FromStr;
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
use crate::hash;
use crate::row::EventRow;
use crate::types::{AppendOutcome, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent, StreamId};
use crate::verify::{Verifier, VerifyReport, VerifyRow};
use crate::wakeup::Wakeup;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

const EVENT_COLUMNS: &str =
    "position, event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at, hash";

pub(crate) struct SqliteLog {
    writer: Mutex<SqliteConnection>,
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

/// RFC 3339 with exactly six fractional digits, so that stored text sorts in time order.
fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
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

fn stored_command(row: &SqliteRow) -> Result<StoredCommand, sqlx::Error> {
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
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(Self {
            writer: Mutex::new(writer),
            readers,
            wakeup: Wakeup::new(),
        })
    }

    pub(crate) async fn migrate(&self) -> Result<(), LogError> {
        let mut writer = self.writer.lock().await;
        MIGRATOR.run(&mut *writer).await?;
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
        let now = append::now_micros();
        let recorded_at = format_time(now);

        let mut writer = self.writer.lock().await;
        // IMMEDIATE takes the write lock at once: a transaction that read first and wrote later could
        // fail to upgrade when another process wrote in between.
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;

        let previous = sqlx::query(
            "SELECT stream_id, fingerprint, first_version, last_version, last_position, recorded_at
             FROM lodge_commands WHERE command_id = ?",
        )
        .bind(metadata.command_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = previous {
            return stored_command(&row)?.replay(metadata.command_id, stream, &prepared.fingerprint);
        }

        let head: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, last_hash FROM lodge_streams WHERE stream_id = ?")
                .bind(stream.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let (version, mut last_hash) = match head {
            Some((version, hash)) => (version as u64, hash.try_into().unwrap_or(hash::GENESIS)),
            None => (0, hash::GENESIS),
        };
        if let Some(required) = expected.required()
            && required != version
        {
            return Err(LogError::VersionConflict {
                stream: stream.clone(),
                expected,
                actual: (version > 0).then_some(version),
            });
        }

        let mut last_position = 0;
        for (offset, event) in events.iter().enumerate() {
            let event_version = version + 1 + offset as u64;
            last_hash = hash::chain(&last_hash, event_version, now, &prepared.content_hashes[offset]);
            last_position = sqlx::query_scalar(
                "INSERT INTO lodge_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at, hash)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING position",
            )
            .bind(prepared.event_ids[offset])
            .bind(stream.as_str())
            .bind(event_version as i64)
            .bind(&event.event_type)
            .bind(event.schema_version as i64)
            .bind(&event.data)
            .bind(&prepared.metadata_json)
            .bind(&recorded_at)
            .bind(&last_hash[..])
            .fetch_one(&mut *tx)
            .await?;
        }
        let last_version = version + events.len() as u64;
        sqlx::query(
            "INSERT INTO lodge_streams (stream_id, version, last_hash) VALUES (?, ?, ?)
             ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash",
        )
        .bind(stream.as_str())
        .bind(last_version as i64)
        .bind(&last_hash[..])
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO lodge_commands (command_id, stream_id, fingerprint, first_version, last_version, last_position, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(metadata.command_id)
        .bind(stream.as_str())
        .bind(&prepared.fingerprint[..])
        .bind((version + 1) as i64)
        .bind(last_version as i64)
        .bind(last_position)
        .bind(&recorded_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        drop(writer);

        self.wakeup.ring();
        Ok(AppendOutcome {
            stream_id: stream.clone(),
            first_version: version + 1,
            last_version,
            last_position: Position(last_position),
            recorded_at: now,
            duplicate: false,
        })
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
        if rows.is_empty() && after != Position::START {
            self.check_position(after).await?;
        }
        recorded(rows)
    }

    async fn check_position(&self, position: Position) -> Result<(), LogError> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT position FROM lodge_events WHERE position = ?")
            .bind(position.0)
            .fetch_optional(&self.readers)
            .await?;
        exists.map(|_| ()).ok_or(LogError::UnknownPosition(position))
    }

    pub(crate) async fn command_outcome(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, LogError> {
        let row = sqlx::query(
            "SELECT stream_id, fingerprint, first_version, last_version, last_position, recorded_at
             FROM lodge_commands WHERE command_id = ?",
        )
        .bind(command_id)
        .fetch_optional(&self.readers)
        .await?;
        row.map(|row| stored_command(&row)?.into_outcome()).transpose()
    }

    pub(crate) async fn verify(&self) -> Result<VerifyReport, LogError> {
        let mut verifier = Verifier::default();
        {
            let mut rows = sqlx::query(
                "SELECT e.position, e.event_id, e.stream_id, e.stream_version, e.event_type, e.schema_version,
                        e.data, e.metadata, e.recorded_at, e.hash, s.version AS head_version, s.last_hash AS head_hash
                 FROM lodge_events e LEFT JOIN lodge_streams s ON s.stream_id = e.stream_id
                 ORDER BY e.stream_id, e.stream_version",
            )
            .fetch(&self.readers);
            while let Some(row) = rows.try_next().await? {
                let head_version: Option<i64> = row.try_get("head_version")?;
                let head_hash: Option<Vec<u8>> = row.try_get("head_hash")?;
                let keep_going = verifier.check(VerifyRow {
                    event: event_row(&row)?,
                    head: head_version.zip(head_hash),
                });
                if !keep_going {
                    break;
                }
            }
        }
        let orphans: Vec<String> = sqlx::query_scalar(
            "SELECT s.stream_id FROM lodge_streams s
             WHERE NOT EXISTS (SELECT 1 FROM lodge_events e WHERE e.stream_id = s.stream_id)
             ORDER BY s.stream_id LIMIT 1",
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(verifier.finish(orphans))
    }

    pub(crate) async fn close(&self) {
        self.readers.close().await;
    }
}
