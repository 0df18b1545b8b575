//! One value of either engine, and the connections statements run on.

use sqlx::{PgConnection, SqliteConnection};

/// Something of either engine: a pool, a connection, a transaction.
#[derive(Debug, Clone, Copy)]
pub enum Native<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// A connection of either engine, borrowed: what [`crate::on!`] binds for a connection or a
/// transaction.
pub type NativeConnection<'a> = Native<&'a mut SqliteConnection, &'a mut PgConnection>;

/// Anything statements can run on, one at a time: a connection of its own, or a transaction.
/// Functions that run statements on the caller's connection take `&mut dyn AsConnection`.
pub trait AsConnection: Send {
    fn native(&mut self) -> NativeConnection<'_>;
}

/// A connection held outside the pool (a leader's, which holds its lock; a rebuild's loader).
pub struct Connection(pub(crate) Native<SqliteConnection, PgConnection>);

impl AsConnection for Connection {
    fn native(&mut self) -> NativeConnection<'_> {
        match &mut self.0 {
            Native::Sqlite(c) => Native::Sqlite(c),
            Native::Postgres(c) => Native::Postgres(c),
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Native::Sqlite(_) => f.write_str("Connection(SQLite)"),
            Native::Postgres(_) => f.write_str("Connection(PostgreSQL)"),
        }
    }
}

/// Runs `sql`, one or more statements without parameters (DDL, pragmas), as the database's simple
/// query: nothing is prepared or cached.
pub async fn execute_sql(connection: &mut dyn AsConnection, sql: impl Into<String>) -> Result<(), sqlx::Error> {
    let sql = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.into()));
    match connection.native() {
        Native::Sqlite(c) => sql.execute(c).await.map(|_| ()),
        Native::Postgres(c) => sql.execute(c).await.map(|_| ()),
    }
}
