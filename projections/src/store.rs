//! The database that holds the read models: the log's own database, reached through sqlx's `Any`
//! driver so that one SQL text serves SQLite and PostgreSQL (both take `$1` parameters).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use lodge_eventlog::sqlite::{WriteGate, WriteTurn};
use lodge_eventlog::{Engine, EventLog, LogError, Position};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::ProjectionError;
use crate::projection::{DynProjection, Generation, Projection, Table};
use crate::tables::{add_missing_tables, create_indexes, create_tables, point_views_at};
use crate::write_transaction::WriteTransaction;

/// The advisory lock class of projector leadership ('lode'); stream locks use another.
const LEADERSHIP_LOCK_CLASS: i32 = 1_819_239_269;
/// How often a waiting process tries to take over a projector.
const LEADERSHIP_POLL: Duration = Duration::from_secs(1);
/// How often [`ReadStore::wait_for`] looks at a projector's checkpoint when no projector of this
/// process says it moved (the projector may run in another process).
const WAIT_POLL: Duration = Duration::from_millis(5);

#[derive(Clone)]
pub struct ReadStore {
    pool: AnyPool,
    engine: Engine,
    /// SQLite: this process's queue of writers to the file, shared with the log.
    gate: Option<WriteGate>,
    /// Rung by this process's projectors each time one commits a batch, by name, so that a read
    /// waiting for it looks again at once instead of at its next poll.
    applied: Arc<Mutex<HashMap<String, watch::Sender<()>>>>,
}

/// Where a projector stands, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectorStatus {
    pub name: String,
    pub generation: Generation,
    /// The last event applied (0: none yet).
    pub position: Position,
    /// Where and why the projector stopped, if it did.
    pub failure: Option<(Position, String)>,
}

pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl ReadStore {
    /// Connects to the log's database, and brings the read models' own tables (the projections'
    /// registry and the rebuilds') up to date.
    pub async fn connect(url: &str) -> Result<Self, ProjectionError> {
        sqlx::any::install_default_drivers();
        let engine = Engine::of_url(url).ok_or_else(|| ProjectionError::UnsupportedUrl(url.to_owned()))?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    // The same durability as the log's own connections. On PostgreSQL, documents
                    // are compressed with lz4 where the server has it: pglz took most of the time
                    // of writing them (docs/decisions/0015).
                    let settings = match engine {
                        Engine::Sqlite => "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL",
                        Engine::Postgres => {
                            "SET synchronous_commit = on;
                             DO $$ BEGIN
                                 IF EXISTS (SELECT FROM pg_settings
                                            WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
                                     SET default_toast_compression = 'lz4';
                                 END IF;
                             END $$"
                        }
                    };
                    connection.execute(settings).await.map(|_| ())
                })
            })
            .connect(url)
            .await?;
        let gate = match engine {
            Engine::Sqlite => Some(WriteGate::of_url(url)?),
            Engine::Postgres => None,
        };
        let store = Self {
            pool,
            engine,
            gate,
            applied: Arc::default(),
        };
        store
            .migrate(match engine {
                Engine::Sqlite => sqlx::migrate!("../migrations/projections/sqlite"),
                Engine::Postgres => sqlx::migrate!("../migrations/projections/postgres"),
            })
            .await?;
        Ok(store)
    }

    /// Runs a crate's migrations for the tables it keeps in this database (on SQLite in this
    /// process's turn at the file); see `lodge_eventlog::migrations`.
    pub async fn migrate(&self, migrator: sqlx::migrate::Migrator) -> Result<(), ProjectionError> {
        let _turn = self.turn().await;
        lodge_eventlog::migrations::of_a_crate(migrator)
            .run(&self.pool)
            .await
            .map_err(|e| ProjectionError::Store(e.into()))
    }

    /// The signal that projector `name` of this process committed a batch.
    fn applied(&self, name: &str) -> watch::Receiver<()> {
        let mut applied = self.applied.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        applied
            .entry(name.to_owned())
            .or_insert_with(|| watch::channel(()).0)
            .subscribe()
    }

    /// Says that projector `name` committed a batch (see [`ReadStore::wait_for`]).
    pub(crate) fn ring_applied(&self, name: &str) {
        let applied = self.applied.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = applied.get(name) {
            sender.send_replace(());
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Becomes the one process that runs projector `name`, waiting (polling) while another does,
    /// until `shutdown`. On PostgreSQL, leadership is a session advisory lock held by the returned
    /// connection, and the projector writes through that same connection: if the process or its
    /// connection dies, the lock goes with it and a stale leader cannot write. A SQLite database
    /// has one server, so its leader is simply the caller.
    pub async fn lead(
        &self,
        name: &str,
        shutdown: &CancellationToken,
    ) -> Result<Option<AnyConnection>, ProjectionError> {
        loop {
            let mut connection = self.pool.acquire().await?.detach();
            if self.engine == Engine::Sqlite {
                return Ok(Some(connection));
            }
            let won: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                .bind(LEADERSHIP_LOCK_CLASS)
                .bind(name)
                .fetch_one(&mut connection)
                .await?;
            if won {
                tracing::info!(projector = name, "leading");
                return Ok(Some(connection));
            }
            drop(connection);
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                _ = tokio::time::sleep(LEADERSHIP_POLL) => {}
            }
        }
    }

    /// Runs one statement that writes, outside any transaction: on SQLite in this process's turn at
    /// the file, like every other writer (docs/decisions/0016).
    pub async fn execute_write<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<sqlx::any::AnyQueryResult, ProjectionError> {
        let _turn = self.turn().await;
        Ok(query.execute(&self.pool).await?)
    }

    /// Starts a transaction that will write, on the leader's connection.
    pub async fn begin_write_on<'c>(
        &self,
        connection: &'c mut AnyConnection,
    ) -> Result<WriteTransaction<'c>, ProjectionError> {
        let turn = self.turn().await;
        let transaction = match self.engine {
            Engine::Sqlite => connection.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => connection.begin().await?,
        };
        Ok(WriteTransaction::new(transaction, turn))
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once: a transaction
    /// that read first could not take it later if another connection wrote in between.
    pub async fn begin_write(&self) -> Result<WriteTransaction<'static>, ProjectionError> {
        let turn = self.turn().await;
        let transaction = match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTransaction::new(transaction, turn))
    }

    /// SQLite: waits for this process's turn to write the file.
    async fn turn(&self) -> Option<WriteTurn> {
        match &self.gate {
            Some(gate) => Some(gate.turn().await),
            None => None,
        }
    }

    pub async fn status(&self, name: &str) -> Result<Option<ProjectorStatus>, ProjectionError> {
        let row = sqlx::query(
            "SELECT name, generation, position, failed_position, error FROM lodge_projections WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let failed: Option<i64> = row.try_get("failed_position")?;
            let error: Option<String> = row.try_get("error")?;
            Ok(ProjectorStatus {
                name: row.try_get("name")?,
                generation: Generation(row.try_get("generation")?),
                position: Position(row.try_get("position")?),
                failure: failed.map(|p| (Position(p), error.unwrap_or_default())),
            })
        })
        .transpose()
    }

    /// Registers a projection the first time it runs: its first generation's tables, the views that
    /// read them, and a checkpoint at the start of the log. Clears a recorded failure, so that a
    /// restarted (perhaps upgraded) Lodge tries the event again. A server registers every projection
    /// before it serves reads, so that the views exist; running a projector registers it too.
    pub async fn register<P: Projection>(&self) -> Result<ProjectorStatus, ProjectionError> {
        self.register_tables(P::NAME, P::TABLES).await
    }

    /// [`ReadStore::register`] for a projection behind a pointer.
    pub async fn register_dyn(&self, projection: &dyn DynProjection) -> Result<ProjectorStatus, ProjectionError> {
        self.register_tables(projection.name(), projection.tables()).await
    }

    async fn register_tables(&self, name: &str, tables: &[Table]) -> Result<ProjectorStatus, ProjectionError> {
        let mut tx = self.begin_write().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT generation FROM lodge_projections WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        match known {
            Some(generation) => {
                // First: the update locks the projection's row, so that servers registering at
                // once add missing tables one after the other.
                sqlx::query("UPDATE lodge_projections SET failed_position = NULL, error = NULL WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                let generation = Generation(generation);
                let added = add_missing_tables(&mut tx, self.engine, tables, generation).await?;
                if !added.is_empty() {
                    point_views_at(&mut tx, &added, generation).await?;
                    let names: Vec<&str> = added.iter().map(|t| t.name).collect();
                    tracing::info!(projection = name, tables = ?names, "added the tables an earlier Lodge did not have");
                }
            }
            None => {
                let generation = Generation(1);
                create_tables(&mut tx, self.engine, tables, generation).await?;
                create_indexes(&mut tx, self.engine, tables, generation).await?;
                point_views_at(&mut tx, tables, generation).await?;
                sqlx::query(
                    "INSERT INTO lodge_projections (name, generation, position, updated_at) VALUES ($1, $2, 0, $3)",
                )
                .bind(name)
                .bind(generation.0)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.status(name)
            .await?
            .ok_or_else(|| ProjectionError::Malformed(format!("projector {} vanished", name)))
    }

    /// The live generation, read inside a transaction before it writes (a rebuild's start and its
    /// switch). On PostgreSQL the row stays locked until the transaction ends, so no other rebuild
    /// switches generations meanwhile; on SQLite the write lock taken by `begin_write` does the same.
    pub(crate) async fn live_generation(
        &self,
        connection: &mut AnyConnection,
        name: &str,
    ) -> Result<Option<Generation>, ProjectionError> {
        let sql = match self.engine {
            Engine::Sqlite => "SELECT generation FROM lodge_projections WHERE name = $1",
            Engine::Postgres => "SELECT generation FROM lodge_projections WHERE name = $1 FOR SHARE",
        };
        let generation: Option<i64> = sqlx::query_scalar(sql).bind(name).fetch_optional(connection).await?;
        Ok(generation.map(Generation))
    }

    /// Moves a projector's checkpoint, inside the transaction that writes its rows. Returns false,
    /// moving nothing, when the live generation is no longer `generation` (a rebuild switched it).
    pub(crate) async fn save_position(
        connection: &mut AnyConnection,
        name: &str,
        generation: Generation,
        position: Position,
    ) -> Result<bool, ProjectionError> {
        let updated = sqlx::query(
            "UPDATE lodge_projections SET position = $3, updated_at = $4 WHERE name = $1 AND generation = $2",
        )
        .bind(name)
        .bind(generation.0)
        .bind(position.0)
        .bind(now())
        .execute(connection)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    pub(crate) async fn record_failure(
        &self,
        name: &str,
        position: Position,
        error: &str,
    ) -> Result<(), ProjectionError> {
        sqlx::query("UPDATE lodge_projections SET failed_position = $2, error = $3, updated_at = $4 WHERE name = $1")
            .bind(name)
            .bind(position.0)
            .bind(error)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether a storage error may pass if tried again (see [`lodge_eventlog::is_transient`]).
    pub(crate) fn is_transient(error: &sqlx::Error) -> bool {
        lodge_eventlog::is_transient(error)
    }

    /// Waits, at most `timeout`, until `projector` has applied the event at `position` (a position a
    /// command's outcome reported), so that a read can follow a write. Returns whether it has;
    /// fails at once if the projector has stopped on an event it cannot handle, or if the log has no
    /// event at `position` (asked only when the first look finds it not applied yet, so a wait that
    /// is already over costs nothing more). It looks again whenever this process's projector
    /// commits, and every few milliseconds otherwise.
    pub async fn wait_for(
        &self,
        log: &EventLog,
        projector: &str,
        position: Position,
        timeout: Duration,
    ) -> Result<bool, ProjectionError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut applied = self.applied(projector);
        let mut first_look = true;
        loop {
            // Seen before looking, so that a commit after the look wakes the wait below.
            applied.borrow_and_update();
            if let Some(status) = self.status(projector).await? {
                if let Some((stopped_at, reason)) = status.failure {
                    return Err(ProjectionError::Stopped {
                        projector: projector.to_owned(),
                        position: stopped_at,
                        reason,
                    });
                }
                if log.has_reached(status.position, position).await? {
                    return Ok(true);
                }
            }
            // A position never written would be waited for in vain: it is the caller's mistake.
            if std::mem::take(&mut first_look) && !log.has_event(position).await? {
                return Err(ProjectionError::Log(LogError::UnknownPosition(position)));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let _ = tokio::time::timeout(WAIT_POLL.min(deadline - now), applied.changed()).await;
        }
    }

    /// Waits between retries after a storage error.
    pub async fn pause(attempt: u32) {
        let millis = 100u64.saturating_mul(1 << attempt.min(6)).min(5_000);
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}
