//! The log on PostgreSQL, the production engine.
//!
//! An append is one call of the `lodge_append` SQL function: one round trip, one short transaction.
//! Appends that arrive while others are being written go together in one call of
//! `lodge_append_batch` (group commit, see `group_commit.rs`).
//! Reads follow log order (transaction_id, position) and stop below the oldest transaction still in
//! progress, so no reader ever passes an event that commits later (docs/decisions/0002).
//!
//! Wake-ups: appends ring subscribers in this process at once, and a background task sends one
//! coalesced `NOTIFY lodge_events` for other processes. NOTIFY is kept out of the append transaction
//! on purpose: PostgreSQL serialises the commits of notifying transactions on one lock, which would
//! cap concurrent appends at the speed of a single writer.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgDatabaseError, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Connection, Row, error::ErrorKind};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::append::{self, PreparedAppend, StoredCommand};
use crate::error::LogError;
use crate::row::EventRow;
use crate::types::{AppendOutcome, ExpectedVersion, LogSummary, Metadata, NewEvent, Position, RecordedEvent, StreamId};
use crate::verify::{self, VerifyReport, VerifyRow};
use crate::wakeup::Wakeup;

const CHANNEL: &str = "lodge_events";

const EVENT_COLUMNS: &str = "e.position, e.event_id, e.stream_id, e.stream_version, e.event_type, e.schema_version, \
                             e.data::text AS data, e.metadata::text AS metadata, e.recorded_at, e.hash";

/// Only events of transactions older than every transaction still running that could append here:
/// nothing that commits later can sort before them. `$1` is the horizon, found by
/// [`PostgresLog::horizon`] in a statement before the read's (migration 0012 says why it must be).
const VISIBLE: &str = "e.transaction_id < $1::xid8";

mod group_commit;

use group_commit::{GroupCommit, Signals};

pub(crate) struct PostgresLog {
    pool: PgPool,
    pub(crate) wakeup: Wakeup,
    group_commit: GroupCommit,
    listening: AtomicBool,
    shutdown: CancellationToken,
}

/// The connection settings every Lodge connection to PostgreSQL uses.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, LogError> {
    // Acknowledged means durable, whatever the server's default. Named `lodge` in the server's
    // activity unless the URL names it (`?application_name=`, as operators tell processes apart).
    let options = PgConnectOptions::from_str(url)?.options([("synchronous_commit", "on")]);
    Ok(match options.get_application_name() {
        Some(_) => options,
        None => options.application_name("lodge"),
    })
}

/// A connection idle for longer than this is pinged before use: it may have been cut meanwhile.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(30);

/// The pool settings every Lodge pool on PostgreSQL uses. sqlx pings each connection on every
/// acquire by default, a second round trip per query; only long-idle connections are checked here.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_WHEN_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// `url` with its database name replaced by `database`: for tools that create a database of their own
/// on a server they are given.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

fn event_row(row: &PgRow) -> Result<EventRow, sqlx::Error> {
    Ok(EventRow {
        position: row.try_get("position")?,
        event_id: row.try_get("event_id")?,
        stream_id: row.try_get("stream_id")?,
        stream_version: row.try_get("stream_version")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        data: row.try_get("data")?,
        metadata: row.try_get("metadata")?,
        recorded_at: row.try_get("recorded_at")?,
        hash: row.try_get("hash")?,
    })
}

fn recorded(rows: Vec<PgRow>) -> Result<Vec<RecordedEvent>, LogError> {
    rows.iter().map(|row| event_row(row)?.into_recorded()).collect()
}

/// The SQLSTATE and detail of a database error raised by `lodge_append`.
fn raised(error: &sqlx::Error) -> Option<(&str, Option<&str>)> {
    let sqlx::Error::Database(db) = error else { return None };
    let pg = db.try_downcast_ref::<PgDatabaseError>()?;
    Some((pg.code(), pg.detail()))
}

fn is_concurrent_command(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if db.kind() == ErrorKind::UniqueViolation && db.constraint() == Some("lodge_commands_pkey"))
}

/// One call of `lodge_append`.
fn append_query(
    stream: &StreamId,
    expected: ExpectedVersion,
    events: &[NewEvent],
    metadata: &Metadata,
    prepared: &PreparedAppend,
) -> Query<'static, Postgres, PgArguments> {
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let versions: Vec<i32> = events.iter().map(|e| e.schema_version as i32).collect();
    let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    let hashes: Vec<&[u8]> = prepared.content_hashes.iter().map(|h| &h[..]).collect();
    sqlx::query(
        "SELECT duplicate, first_version, last_version, last_position, recorded_at
         FROM lodge_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(stream.as_str())
    .bind(expected.required().map(|v| v as i64))
    .bind(metadata.command_id)
    .bind(&prepared.fingerprint[..])
    .bind(&prepared.event_ids)
    .bind(types)
    .bind(versions)
    .bind(data)
    .bind(&prepared.metadata_json)
    .bind(hashes)
}

fn append_outcome(row: &PgRow, stream: &StreamId) -> Result<AppendOutcome, LogError> {
    Ok(AppendOutcome {
        stream_id: stream.clone(),
        first_version: row.try_get::<i64, _>("first_version")? as u64,
        last_version: row.try_get::<i64, _>("last_version")? as u64,
        last_position: Position(row.try_get("last_position")?),
        recorded_at: row.try_get("recorded_at")?,
        duplicate: row.try_get("duplicate")?,
    })
}

fn append_error(error: sqlx::Error, stream: &StreamId, expected: ExpectedVersion, command_id: Uuid) -> LogError {
    match raised(&error) {
        Some(("LG001", detail)) => LogError::VersionConflict {
            stream: stream.clone(),
            expected,
            actual: detail.and_then(|d| d.parse::<u64>().ok()).filter(|v| *v > 0),
        },
        Some(("LG002", detail)) => LogError::CommandIdReused {
            command_id,
            first_stream: detail.unwrap_or_default().to_owned(),
        },
        _ => LogError::Database(error),
    }
}

/// Appends inside a transaction the caller controls, exactly as [`EventLog::append`] does otherwise.
/// Tests use it to hold transactions open and commit them in an order of their choosing. For a
/// stream's events to stay in version order in the log, the append must be the transaction's first
/// write (see migrations/eventlog/postgres/0002_group_commit.sql).
///
/// [`EventLog::append`]: crate::EventLog::append
#[cfg(feature = "testing")]
pub async fn append_within(
    connection: &mut sqlx::PgConnection,
    stream: &StreamId,
    expected: ExpectedVersion,
    events: &[NewEvent],
    metadata: &Metadata,
) -> Result<AppendOutcome, LogError> {
    let prepared = append::prepare(stream, events, metadata)?;
    let row = append_query(stream, expected, events, metadata, &prepared)
        .fetch_one(connection)
        .await
        .map_err(|error| append_error(error, stream, expected, metadata.command_id))?;
    append_outcome(&row, stream)
}

impl PostgresLog {
    pub(crate) async fn connect(url: &str, max_connections: u32) -> Result<Self, LogError> {
        let pool = pool_options(max_connections)
            .connect_with(connect_options(url)?)
            .await?;
        let wakeup = Wakeup::new();
        let announce = Arc::new(Notify::new());
        let signals = Signals {
            wakeup: wakeup.clone(),
            announce: announce.clone(),
        };
        let log = Self {
            group_commit: GroupCommit::new(pool.clone(), signals),
            pool,
            wakeup,
            listening: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
        };
        tokio::spawn(announce_appends(log.pool.clone(), announce, log.shutdown.clone()));
        Ok(log)
    }

    pub(crate) async fn migrate(&self) -> Result<(), LogError> {
        crate::migrations::of_a_crate(sqlx::migrate!("../migrations/eventlog/postgres"))
            .run(&self.pool)
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
        self.group_commit
            .append(stream, expected, events, metadata, prepared)
            .await
    }

    pub(crate) async fn read_stream(&self, stream: &StreamId) -> Result<Vec<RecordedEvent>, LogError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM lodge_events e WHERE e.stream_id = $1 ORDER BY e.stream_version"
        )))
        .bind(stream.as_str())
        .fetch_all(&self.pool)
        .await?;
        recorded(rows)
    }

    /// The read horizon, for a read in a later statement: that read's snapshot is then taken after
    /// the horizon's, which the horizon's safety rests on (migration 0012).
    async fn horizon(&self) -> Result<String, LogError> {
        Ok(sqlx::query_scalar("SELECT lodge_read_horizon_for_next_read()::text")
            .fetch_one(&self.pool)
            .await?)
    }

    pub(crate) async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RecordedEvent>, LogError> {
        let horizon = self.horizon().await?;
        let rows = if after == Position::START {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {EVENT_COLUMNS} FROM lodge_events e WHERE {VISIBLE}
                 ORDER BY e.transaction_id, e.position LIMIT $2"
            )))
            .bind(horizon)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?
        } else {
            // The reader's place in log order is (transaction_id, position) of the last event it read.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {EVENT_COLUMNS} FROM lodge_events e
                 WHERE (e.transaction_id, e.position) >
                       ((SELECT c.transaction_id FROM lodge_events c WHERE c.position = $2), $2)
                   AND {VISIBLE}
                 ORDER BY e.transaction_id, e.position LIMIT $3"
            )))
            .bind(horizon)
            .bind(after.0)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?
        };
        recorded(rows)
    }

    pub(crate) async fn has_reached(&self, checkpoint: Position, target: Position) -> Result<bool, LogError> {
        let reached: Option<bool> = sqlx::query_scalar(
            "SELECT (c.transaction_id, c.position) >= (t.transaction_id, t.position)
             FROM lodge_events c, lodge_events t WHERE c.position = $1 AND t.position = $2",
        )
        .bind(checkpoint.0)
        .bind(target.0)
        .fetch_optional(&self.pool)
        .await?;
        match reached {
            Some(reached) => Ok(reached),
            None if self.has_position(target).await? => Err(LogError::UnknownPosition(checkpoint)),
            None => Err(LogError::UnknownPosition(target)),
        }
    }

    pub(crate) async fn streams(&self, after: Option<&StreamId>, limit: usize) -> Result<Vec<String>, LogError> {
        Ok(
            sqlx::query_scalar("SELECT stream_id FROM lodge_streams WHERE stream_id > $1 ORDER BY stream_id LIMIT $2")
                .bind(after.map_or("", StreamId::as_str))
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub(crate) async fn read_by_stream(
        &self,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {EVENT_COLUMNS} FROM lodge_events e WHERE e.stream_id > $1 ORDER BY e.stream_id, e.stream_version LIMIT $2")))
            .bind(after.map_or("", StreamId::as_str))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        recorded(rows)
    }

    pub(crate) async fn settled_head(&self) -> Result<Position, LogError> {
        let horizon = self.horizon().await?;
        let head: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT e.position FROM lodge_events e WHERE {VISIBLE}
             ORDER BY e.transaction_id DESC, e.position DESC LIMIT 1"
        )))
        .bind(horizon)
        .fetch_optional(&self.pool)
        .await?;
        Ok(head.map_or(Position::START, Position))
    }

    pub(crate) async fn has_position(&self, position: Position) -> Result<bool, LogError> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT position FROM lodge_events WHERE position = $1")
            .bind(position.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(exists.is_some())
    }

    pub(crate) async fn command_outcome(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, LogError> {
        let row = sqlx::query(
            "SELECT stream_id, fingerprint, first_version, last_version, last_position, recorded_at
             FROM lodge_commands WHERE command_id = $1",
        )
        .bind(command_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            StoredCommand {
                stream_id: row.try_get("stream_id")?,
                fingerprint: row.try_get("fingerprint")?,
                first_version: row.try_get("first_version")?,
                last_version: row.try_get("last_version")?,
                last_position: row.try_get("last_position")?,
                recorded_at: row.try_get("recorded_at")?,
            }
            .into_outcome()
        })
        .transpose()
    }

    pub(crate) async fn summary(&self) -> Result<LogSummary, LogError> {
        let (streams, events): (i64, i64) =
            sqlx::query_as("SELECT count(*), coalesce(sum(version), 0)::bigint FROM lodge_streams")
                .fetch_one(&self.pool)
                .await?;
        Ok(LogSummary {
            streams: streams as u64,
            events: events as u64,
        })
    }

    pub(crate) async fn verify(&self, stream: Option<&StreamId>) -> Result<VerifyReport, LogError> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(verify::events_with_heads(EVENT_COLUMNS, stream)));
        if let Some(stream) = stream {
            query = query.bind(stream.as_str());
        }
        let rows = query
            .fetch(&self.pool)
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
            None => sqlx::query_scalar(verify::ORPHAN_HEADS).fetch_all(&self.pool).await?,
        };
        Ok(verifier.finish(orphans))
    }

    /// Starts listening for other processes' appends, once, when the first subscription needs it.
    pub(crate) fn listen(&self) {
        if !self.listening.swap(true, Ordering::AcqRel) {
            tokio::spawn(listen_for_appends(
                self.pool.clone(),
                self.wakeup.clone(),
                self.shutdown.clone(),
            ));
        }
    }

    pub(crate) async fn close(&self) {
        self.shutdown.cancel();
        self.pool.close().await;
    }
}

impl Drop for PostgresLog {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Other processes hear of this process's appends at most this long after they commit.
const ANNOUNCE_EVERY: Duration = Duration::from_millis(10);

/// Sends one NOTIFY for all the appends of a short window. Without the window, busy writers would
/// send a NOTIFY (a query and a transaction of its own) for nearly every append.
async fn announce_appends(pool: PgPool, announce: Arc<Notify>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = announce.notified() => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(ANNOUNCE_EVERY) => {}
        }
        if let Err(error) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&pool)
            .await
        {
            // Other processes still poll; a lost notification only delays them.
            tracing::debug!(%error, "could not announce appends to other processes");
        }
    }
}

/// Rings this process's subscribers when another process appends.
async fn listen_for_appends(pool: PgPool, wakeup: Wakeup, shutdown: CancellationToken) {
    loop {
        let error = tokio::select! {
            _ = shutdown.cancelled() => return,
            error = listen_until_error(&pool, &wakeup) => error,
        };
        tracing::debug!(%error, "listening for appends failed; retrying");
        wakeup.ring();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn listen_until_error(pool: &PgPool, wakeup: &Wakeup) -> sqlx::Error {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(error) => return error,
    };
    if let Err(error) = listener.listen(CHANNEL).await {
        return error;
    }
    loop {
        // Ok(None) means the connection was lost and re-established: notifications may have been
        // missed, so ring anyway.
        match listener.try_recv().await {
            Ok(_) => wakeup.ring(),
            Err(error) => return error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(with_database("postgres://localhost", "t1"), "postgres://localhost/t1");
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "t1"),
            "postgresql://u:p@h/t1?sslmode=disable"
        );
    }
}
