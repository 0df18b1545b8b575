//! The read models' registry in the store (`lodge_projections`: each projection's live generation,
//! checkpoint and failure), and waiting for a projector to reach a position. The pool, SQLite's
//! write gate and leadership are the store's (`lodge_store`); the tables are this crate's.

use std::time::Duration;

use chrono::Utc;
use lodge_eventlog::{Engine, EventLog, LogError, Position};
use lodge_store::{AsConnection, Store, on, write_on};
use sqlx::Row;

use crate::error::ProjectionError;
use crate::projection::{DynProjection, Generation, Projection, Table};
use crate::tables::{add_missing_tables, create_indexes, create_tables, point_views_at};

/// How often [`ReadStore::wait_for`] looks at a projector's checkpoint when no projector of this
/// process says it moved (the projector may run in another process).
const WAIT_POLL: Duration = Duration::from_millis(5);

/// The store, as the read models use it: [`Store`] and the projections' registry in it.
#[derive(Clone)]
pub struct ReadStore {
    store: Store,
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
    /// Connects to the log's database (see [`Store::connect`]) and brings the read models' own
    /// tables up to date.
    pub async fn connect(url: &str) -> Result<Self, ProjectionError> {
        Self::open(Store::connect(url).await?).await
    }

    /// The read models in `store`, their registry's tables brought up to date.
    pub async fn open(store: Store) -> Result<Self, ProjectionError> {
        store
            .migrate(match store.engine() {
                Engine::Sqlite => sqlx::migrate!("../migrations/projections/sqlite"),
                Engine::Postgres => sqlx::migrate!("../migrations/projections/postgres"),
            })
            .await?;
        Ok(Self { store })
    }

    /// The store the read models are in, which other crates keep their own tables in too.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn engine(&self) -> Engine {
        self.store.engine()
    }

    pub async fn status(&self, name: &str) -> Result<Option<ProjectorStatus>, ProjectionError> {
        let row = on!(self.store, |c| {
            sqlx::query(
                "SELECT name, generation, position, failed_position, error FROM lodge_projections WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(c)
            .await?
            .map(|row| {
                let failed: Option<i64> = row.try_get("failed_position")?;
                let error: Option<String> = row.try_get("error")?;
                Ok::<_, sqlx::Error>(ProjectorStatus {
                    name: row.try_get("name")?,
                    generation: Generation(row.try_get("generation")?),
                    position: Position(row.try_get("position")?),
                    failure: failed.map(|p| (Position(p), error.unwrap_or_default())),
                })
            })
            .transpose()?
        });
        Ok(row)
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
        let mut tx = self.store.begin_write().await?;
        let known: Option<i64> = on!(tx, |c| {
            sqlx::query_scalar("SELECT generation FROM lodge_projections WHERE name = $1")
                .bind(name)
                .fetch_optional(c)
                .await
        })?;
        match known {
            Some(generation) => {
                // First: the update locks the projection's row, so that servers registering at
                // once add missing tables one after the other.
                on!(tx, |c| {
                    sqlx::query("UPDATE lodge_projections SET failed_position = NULL, error = NULL WHERE name = $1")
                        .bind(name)
                        .execute(c)
                        .await
                        .map(|_| ())
                })?;
                let generation = Generation(generation);
                let added = add_missing_tables(&mut tx, self.engine(), tables, generation).await?;
                if !added.is_empty() {
                    point_views_at(&mut tx, &added, generation).await?;
                    let names: Vec<&str> = added.iter().map(|t| t.name).collect();
                    tracing::info!(projection = name, tables = ?names, "added the tables an earlier Lodge did not have");
                }
            }
            None => {
                let generation = Generation(1);
                create_tables(&mut tx, self.engine(), tables, generation).await?;
                create_indexes(&mut tx, self.engine(), tables, generation).await?;
                point_views_at(&mut tx, tables, generation).await?;
                on!(tx, |c| {
                    sqlx::query(
                        "INSERT INTO lodge_projections (name, generation, position, updated_at) VALUES ($1, $2, 0, $3)",
                    )
                    .bind(name)
                    .bind(generation.0)
                    .bind(now())
                    .execute(c)
                    .await
                    .map(|_| ())
                })?;
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
        connection: &mut dyn AsConnection,
        name: &str,
    ) -> Result<Option<Generation>, ProjectionError> {
        let sql = match self.engine() {
            Engine::Sqlite => "SELECT generation FROM lodge_projections WHERE name = $1",
            Engine::Postgres => "SELECT generation FROM lodge_projections WHERE name = $1 FOR SHARE",
        };
        let generation: Option<i64> = on!(connection, |c| sqlx::query_scalar(sql)
            .bind(name)
            .fetch_optional(c)
            .await)?;
        Ok(generation.map(Generation))
    }

    /// Moves a projector's checkpoint, inside the transaction that writes its rows. Returns false,
    /// moving nothing, when the live generation is no longer `generation` (a rebuild switched it).
    pub(crate) async fn save_position(
        connection: &mut dyn AsConnection,
        name: &str,
        generation: Generation,
        position: Position,
    ) -> Result<bool, ProjectionError> {
        let updated = on!(connection, |c| {
            sqlx::query(
                "UPDATE lodge_projections SET position = $3, updated_at = $4 WHERE name = $1 AND generation = $2",
            )
            .bind(name)
            .bind(generation.0)
            .bind(position.0)
            .bind(now())
            .execute(c)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(updated == 1)
    }

    pub(crate) async fn record_failure(
        &self,
        name: &str,
        position: Position,
        error: &str,
    ) -> Result<(), ProjectionError> {
        write_on!(self.store, |c| {
            sqlx::query(
                "UPDATE lodge_projections SET failed_position = $2, error = $3, updated_at = $4 WHERE name = $1",
            )
            .bind(name)
            .bind(position.0)
            .bind(error)
            .bind(now())
            .execute(c)
            .await
            .map(|_| ())
        })?;
        Ok(())
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
        let mut applied = self.store.moved(projector);
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
}
