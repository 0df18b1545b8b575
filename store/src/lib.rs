//! Lodge's other database: the tables beside the event log, in the log's own database, that the
//! read models (projections), the API (sessions, tokens, limits) and the notifier (its checkpoint,
//! retries, digests) each keep. This crate owns none of those tables; it gives them
//!
//! - [`Store`]: one pool on either engine, as native sqlx pools in an enum (as the log does,
//!   docs/decisions/0001 and 0028), with the same connection settings as the log's;
//! - SQLite's write gate: every write waits for this process's turn at the file, shared with the
//!   log's appends ([`Store::begin_write`], [`Store::turn`]);
//! - leadership: the one process that runs a projector or the notifier ([`Store::lead`]);
//! - signals that a projector of this process moved, for reads waiting on a position
//!   ([`Store::moved`], [`Store::ring`]).
//!
//! A statement is written once and run on whichever engine with [`on!`]: its body is compiled once
//! per engine, each against that engine's own driver.

mod connection;
mod error;
mod store;
mod write_transaction;

pub use connection::{AsConnection, Connection, Native, NativeConnection, execute_sql};
pub use error::StoreError;
pub use lodge_eventlog::Engine;
pub use store::Store;
pub use write_transaction::WriteTransaction;

/// Runs `body` with `c` bound to the native sqlx executor behind `on`: a `&Store` gives its pool
/// (`&SqlitePool` or `&PgPool`), a connection or a [`WriteTransaction`] (or `&mut dyn
/// AsConnection`) its connection (`&mut SqliteConnection` or `&mut PgConnection`). The body is
/// compiled for each engine, so both must give the same type: map a driver's own result (rows, a
/// query result) to plain values inside it.
///
/// ```no_run
/// # async fn name_of(store: &lodge_store::Store, id: &str) -> Result<Option<String>, sqlx::Error> {
/// let name: Option<String> = lodge_store::on!(store, |c| {
///     sqlx::query_scalar("SELECT name FROM t WHERE id = $1").bind(id).fetch_optional(c).await
/// })?;
/// # Ok(name)
/// # }
/// ```
#[macro_export]
macro_rules! on {
    ($on:expr, |$c:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::AsConnection as _;
        match ($on).native() {
            $crate::Native::Sqlite($c) => $body,
            $crate::Native::Postgres($c) => $body,
        }
    }};
}

/// [`on!`] for a statement that writes outside a [`WriteTransaction`]: on SQLite it runs in this
/// process's turn at the file, like every other writer (docs/decisions/0016). `store` is a
/// `&Store` (or a `Store`), evaluated once.
#[macro_export]
macro_rules! write_on {
    ($store:expr, |$c:ident| $body:expr) => {{
        let store: &$crate::Store = &$store;
        let _turn = store.turn().await;
        $crate::on!(store, |$c| $body)
    }};
}
