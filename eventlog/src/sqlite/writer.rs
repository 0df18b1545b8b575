//! The one writer of a SQLite log. Every append is a single script run in one hand-off to SQLite's
//! thread: `BEGIN IMMEDIATE; INSERT events … RETURNING position; INSERT command; COMMIT`.
//!
//! Why a script: sqlx runs SQLite on a thread of its own, and each statement costs a round trip to
//! it (about as much as a whole one-row INSERT). To write without first reading, the writer keeps the
//! head (version and hash) of the streams it has written. The cache can only be stale when another
//! process wrote the same file; then the UNIQUE (stream_id, stream_version) constraint refuses the
//! insert and the writer reads the head and tries again. A command id seen before is refused by
//! lodge_commands' key, and its first outcome is read back.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use crate::append::{PreparedAppend, StoredCommand};
use crate::error::LogError;
use crate::hash;
use crate::types::{AppendOutcome, ExpectedVersion, Metadata, NewEvent, Position, StreamId};

/// Heads remembered at most; past this the cache starts again (a miss costs one read).
const MAX_CACHED_HEADS: usize = 100_000;
/// Events per INSERT statement: 9 parameters each, under SQLite's limit of 32,766 per statement.
const ROWS_PER_INSERT: usize = 1_000;
/// Tries when other processes keep moving the stream between our read of its head and our write.
const MAX_ATTEMPTS: usize = 5;

#[derive(Debug, Clone, Copy)]
struct Head {
    version: u64,
    hash: [u8; 32],
}

const NO_STREAM: Head = Head {
    version: 0,
    hash: hash::GENESIS,
};

pub(crate) struct Writer {
    pub(crate) connection: SqliteConnection,
    heads: HashMap<String, Head>,
}

/// Why a write script failed.
enum Refusal {
    /// Another writer got to the stream first: our idea of its head was stale.
    StreamMoved,
    /// The command id is already in lodge_commands.
    CommandSeen,
    Failed(LogError),
}

/// RFC 3339 with exactly six fractional digits, so that stored text sorts in time order.
pub(crate) fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl Writer {
    pub(crate) fn new(connection: SqliteConnection) -> Self {
        Self {
            connection,
            heads: HashMap::new(),
        }
    }

    pub(crate) async fn append(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
        metadata: &Metadata,
        prepared: &PreparedAppend,
        now: DateTime<Utc>,
    ) -> Result<AppendOutcome, LogError> {
        let mut fresh = false;
        for _ in 0..MAX_ATTEMPTS {
            let head = self.head(stream, fresh).await?;
            if let Some(required) = expected.required()
                && required != head.version
            {
                if !fresh {
                    // Our memory may be behind another process: look before refusing.
                    fresh = true;
                    continue;
                }
                // A retried command meets the stream it already moved: that is its first outcome.
                return match self.stored_command(metadata).await? {
                    Some(stored) => stored.replay(metadata.command_id, stream, &prepared.fingerprint),
                    None => Err(LogError::VersionConflict {
                        stream: stream.clone(),
                        expected,
                        actual: (head.version > 0).then_some(head.version),
                    }),
                };
            }
            match self.write(stream, head, events, metadata, prepared, now).await {
                Ok((outcome, new_head)) => {
                    self.remember(stream, new_head);
                    return Ok(outcome);
                }
                Err(Refusal::StreamMoved) => fresh = true,
                Err(Refusal::CommandSeen) => {
                    let stored = self.stored_command(metadata).await?.ok_or_else(|| {
                        LogError::Database(sqlx::Error::Protocol("a command refused as seen was not found".into()))
                    })?;
                    return stored.replay(metadata.command_id, stream, &prepared.fingerprint);
                }
                Err(Refusal::Failed(error)) => return Err(error),
            }
        }
        let head = self.head(stream, true).await?;
        Err(LogError::VersionConflict {
            stream: stream.clone(),
            expected,
            actual: (head.version > 0).then_some(head.version),
        })
    }

    async fn head(&mut self, stream: &StreamId, fresh: bool) -> Result<Head, LogError> {
        if !fresh && let Some(head) = self.heads.get(stream.as_str()) {
            return Ok(*head);
        }
        let row: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, last_hash FROM lodge_streams WHERE stream_id = ?")
                .bind(stream.as_str())
                .fetch_optional(&mut self.connection)
                .await?;
        let head = match row {
            Some((version, hash)) => Head {
                version: version as u64,
                hash: hash.try_into().unwrap_or(hash::GENESIS),
            },
            None => NO_STREAM,
        };
        self.remember(stream, head);
        Ok(head)
    }

    fn remember(&mut self, stream: &StreamId, head: Head) {
        if self.heads.len() >= MAX_CACHED_HEADS && !self.heads.contains_key(stream.as_str()) {
            self.heads.clear();
        }
        self.heads.insert(stream.as_str().to_owned(), head);
    }

    async fn stored_command(&mut self, metadata: &Metadata) -> Result<Option<StoredCommand>, LogError> {
        super::stored_command(&mut self.connection, metadata.command_id).await
    }

    /// Runs the whole append as one script, in one transaction.
    async fn write(
        &mut self,
        stream: &StreamId,
        head: Head,
        events: &[NewEvent],
        metadata: &Metadata,
        prepared: &PreparedAppend,
        now: DateTime<Utc>,
    ) -> Result<(AppendOutcome, Head), Refusal> {
        let recorded_at = format_time(now);
        let mut script = String::from("BEGIN IMMEDIATE;\n");
        for (chunk, rows) in events.chunks(ROWS_PER_INSERT).enumerate() {
            script.push_str(
                "INSERT INTO lodge_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at, hash) VALUES ",
            );
            for row in 0..rows.len() {
                script.push_str(if row == 0 {
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
                } else {
                    ", (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                });
            }
            // Positions of the last chunk only: the last event's position is what callers need.
            let last_chunk = (chunk + 1) * ROWS_PER_INSERT >= events.len();
            script.push_str(if last_chunk { " RETURNING position;\n" } else { ";\n" });
        }
        // last_insert_rowid(): the position of the last event inserted (the trigger moving the head
        // does not change it).
        script.push_str(
            "INSERT INTO lodge_commands (command_id, stream_id, fingerprint, first_version, last_version, last_position, recorded_at)
             VALUES (?, ?, ?, ?, ?, last_insert_rowid(), ?);\nCOMMIT;",
        );

        let mut query = sqlx::query(sqlx::AssertSqlSafe(script));
        let mut chain = head.hash;
        for (offset, event) in events.iter().enumerate() {
            let version = head.version + 1 + offset as u64;
            chain = hash::chain(&chain, version, now, &prepared.content_hashes[offset]);
            query = query
                .bind(prepared.event_ids[offset])
                .bind(stream.as_str().to_owned())
                .bind(version as i64)
                .bind(event.event_type.clone())
                .bind(event.schema_version as i64)
                .bind(event.data.clone())
                .bind(prepared.metadata_json.clone())
                .bind(recorded_at.clone())
                .bind(chain.to_vec());
        }
        let last_version = head.version + events.len() as u64;
        query = query
            .bind(metadata.command_id)
            .bind(stream.as_str().to_owned())
            .bind(prepared.fingerprint.to_vec())
            .bind((head.version + 1) as i64)
            .bind(last_version as i64)
            .bind(recorded_at.clone());

        let rows = match query.fetch_all(&mut self.connection).await {
            Ok(rows) => rows,
            Err(error) => {
                // A statement failed after BEGIN: end the transaction before anything else runs.
                if let Err(rollback) = sqlx::query("ROLLBACK").execute(&mut self.connection).await {
                    tracing::debug!(%rollback, "nothing to roll back");
                }
                return Err(refusal(error));
            }
        };
        let mut last_position = 0;
        for row in rows {
            last_position = last_position.max(
                row.try_get::<i64, _>("position")
                    .map_err(|e| Refusal::Failed(e.into()))?,
            );
        }
        let outcome = AppendOutcome {
            stream_id: stream.clone(),
            first_version: head.version + 1,
            last_version,
            last_position: Position(last_position),
            recorded_at: now,
            duplicate: false,
        };
        Ok((
            outcome,
            Head {
                version: last_version,
                hash: chain,
            },
        ))
    }
}

fn refusal(error: sqlx::Error) -> Refusal {
    if let sqlx::Error::Database(db) = &error
        && db.is_unique_violation()
    {
        if db.message().contains("lodge_commands.command_id") {
            return Refusal::CommandSeen;
        }
        if db.message().contains("lodge_events.stream_id") {
            return Refusal::StreamMoved;
        }
    }
    Refusal::Failed(LogError::Database(error))
}
