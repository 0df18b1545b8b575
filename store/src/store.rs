//! The pool beside the log, on either engine, and what every user of it shares: SQLite's write
//! gate, leadership, and the signals that a projector moved.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lodge_eventlog::sqlite::{WriteGate, WriteTurn};
use lodge_eventlog::{Engine, postgres, sqlite};
use sqlx::{Connection as _, Executor, PgPool, SqlitePool};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::connection::{Connection, Native};
use crate::error::StoreError;
use crate::write_transaction::WriteTransaction;

/// The advisory lock class of leadership ('lode'); the log's stream locks use another.
const LEADERSHIP_LOCK_CLASS: i32 = 1_819_239_269;
/// How often a waiting process tries to take over.
const LEADERSHIP_POLL: Duration = Duration::from_secs(1);
/// Connections of the pool: the server's reads, the projectors' leaders, a rebuild's loader.
const MAX_CONNECTIONS: u32 = 8;

/// On PostgreSQL, documents are compressed with lz4 where the server has it: pglz took most of the
/// time of writing them (docs/decisions/0015).
const POSTGRES_SETTINGS: &str = "DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
        SET default_toast_compression = 'lz4';
    END IF;
END $$";

#[derive(Clone)]
pub struct Store {
    pool: Native<SqlitePool, PgPool>,
    /// SQLite: this process's queue of writers to the file, shared with the log.
    gate: Option<WriteGate>,
    /// Rung by this process's projectors each time one commits a batch, by name, so that a read
    /// waiting for it looks again at once instead of at its next poll.
    moved: Arc<Mutex<HashMap<String, watch::Sender<()>>>>,
}

impl Store {
    /// Connects to the log's database with the log's own connection settings (durable on
    /// acknowledgement; on SQLite, the same busy timeout and write-ahead log).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let engine = Engine::of_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
        let (pool, gate) = match engine {
            Engine::Sqlite => (
                Native::Sqlite(
                    sqlite::pool_options(MAX_CONNECTIONS)
                        .connect_with(sqlite::connect_options(url)?)
                        .await?,
                ),
                Some(WriteGate::of_url(url)?),
            ),
            Engine::Postgres => (
                Native::Postgres(
                    postgres::pool_options(MAX_CONNECTIONS)
                        .after_connect(|connection, _| {
                            Box::pin(async move { connection.execute(POSTGRES_SETTINGS).await.map(|_| ()) })
                        })
                        .connect_with(postgres::connect_options(url)?)
                        .await?,
                ),
                None,
            ),
        };
        Ok(Self {
            pool,
            gate,
            moved: Arc::default(),
        })
    }

    pub fn engine(&self) -> Engine {
        match self.pool {
            Native::Sqlite(_) => Engine::Sqlite,
            Native::Postgres(_) => Engine::Postgres,
        }
    }

    /// The pool, as its engine's own: what [`crate::on!`] binds for a store.
    pub fn native(&self) -> Native<&SqlitePool, &PgPool> {
        match &self.pool {
            Native::Sqlite(pool) => Native::Sqlite(pool),
            Native::Postgres(pool) => Native::Postgres(pool),
        }
    }

    /// Runs a crate's migrations for the tables it keeps in this database, in this process's turn
    /// at the file on SQLite (see `lodge_eventlog::migrations`).
    pub async fn migrate(&self, migrator: sqlx::migrate::Migrator) -> Result<(), sqlx::Error> {
        let _turn = self.turn().await;
        let migrator = lodge_eventlog::migrations::of_a_crate(migrator);
        match &self.pool {
            Native::Sqlite(pool) => migrator.run(pool).await,
            Native::Postgres(pool) => migrator.run(pool).await,
        }
        .map_err(Into::into)
    }

    /// A connection of its own, outside the pool, until it is dropped.
    pub async fn detached(&self) -> Result<Connection, sqlx::Error> {
        Ok(Connection(match &self.pool {
            Native::Sqlite(pool) => Native::Sqlite(pool.acquire().await?.detach()),
            Native::Postgres(pool) => Native::Postgres(pool.acquire().await?.detach()),
        }))
    }

    /// Becomes the one process that runs `name` (a projector, the notifier), waiting (polling)
    /// while another does, until `shutdown`. On PostgreSQL, leadership is a session advisory lock
    /// held by the returned connection, and the leader writes through that same connection: if the
    /// process or its connection dies, the lock goes with it and a stale leader cannot write. A
    /// SQLite database has one server, so its leader is simply the caller.
    pub async fn lead(&self, name: &str, shutdown: &CancellationToken) -> Result<Option<Connection>, sqlx::Error> {
        loop {
            match &self.pool {
                Native::Sqlite(pool) => {
                    return Ok(Some(Connection(Native::Sqlite(pool.acquire().await?.detach()))));
                }
                Native::Postgres(pool) => {
                    let mut connection = pool.acquire().await?.detach();
                    let won: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                        .bind(LEADERSHIP_LOCK_CLASS)
                        .bind(name)
                        .fetch_one(&mut connection)
                        .await?;
                    if won {
                        tracing::info!(projector = name, "leading");
                        return Ok(Some(Connection(Native::Postgres(connection))));
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                _ = tokio::time::sleep(LEADERSHIP_POLL) => {}
            }
        }
    }

    /// SQLite: waits for this process's turn to write the file, which lasts while the turn is
    /// held; hold it over any statement that writes outside a [`WriteTransaction`]
    /// (docs/decisions/0016). None on PostgreSQL.
    pub async fn turn(&self) -> Option<WriteTurn> {
        match &self.gate {
            Some(gate) => Some(gate.turn().await),
            None => None,
        }
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once: a
    /// transaction that read first could not take it later if another connection wrote in between.
    pub async fn begin_write(&self) -> Result<WriteTransaction<'static>, sqlx::Error> {
        let turn = self.turn().await;
        let transaction = match &self.pool {
            Native::Sqlite(pool) => Native::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Native::Postgres(pool) => Native::Postgres(pool.begin().await?),
        };
        Ok(WriteTransaction::new(transaction, turn))
    }

    /// [`Store::begin_write`] on a connection of its own (a leader's, a loader's).
    pub async fn begin_write_on<'c>(
        &self,
        connection: &'c mut Connection,
    ) -> Result<WriteTransaction<'c>, sqlx::Error> {
        let turn = self.turn().await;
        let transaction = match &mut connection.0 {
            Native::Sqlite(c) => Native::Sqlite(c.begin_with("BEGIN IMMEDIATE").await?),
            Native::Postgres(c) => Native::Postgres(c.begin().await?),
        };
        Ok(WriteTransaction::new(transaction, turn))
    }

    /// The signal that `name` (a projector) of this process moved.
    pub fn moved(&self, name: &str) -> watch::Receiver<()> {
        let mut moved = self.moved.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        moved
            .entry(name.to_owned())
            .or_insert_with(|| watch::channel(()).0)
            .subscribe()
    }

    /// Says that `name` moved, waking whoever waits on [`Store::moved`].
    pub fn ring(&self, name: &str) {
        let moved = self.moved.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = moved.get(name) {
            sender.send_replace(());
        }
    }

    /// Whether a storage error may pass if tried again (see [`lodge_eventlog::is_transient`]).
    pub fn is_transient(error: &sqlx::Error) -> bool {
        lodge_eventlog::is_transient(error)
    }

    /// Waits between retries after a storage error.
    pub async fn pause(attempt: u32) {
        let millis = 100u64.saturating_mul(1 << attempt.min(6)).min(5_000);
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}
