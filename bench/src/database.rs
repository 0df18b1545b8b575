//! What every benchmark shares: a database of its own on each engine, removed afterwards, and the
//! printing of its figures.

use std::time::Duration;

use anyhow::Context;
use lodge_eventlog::Engine;

use crate::cli::BenchEngine;
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use uuid::Uuid;

/// A database of the benchmark's own, removed afterwards.
pub struct BenchDatabase {
    pub engine: Engine,
    pub url: String,
    folder: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl BenchDatabase {
    pub fn sqlite() -> anyhow::Result<Self> {
        let folder = tempfile::tempdir().context("a temporary folder for the SQLite benchmark")?;
        Ok(Self {
            engine: Engine::Sqlite,
            url: format!("sqlite://{}", folder.path().join("bench.db").display()),
            folder: Some(folder),
            postgres: None,
        })
    }

    /// Creates a fresh database on the PostgreSQL server at `server`.
    pub async fn postgres(server: &str) -> anyhow::Result<Self> {
        let name = format!("lodge_bench_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(server).await.with_context(|| {
            format!(
                "cannot reach the benchmark's PostgreSQL at {}",
                lodge_eventlog::redact_url(server)
            )
        })?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        Ok(Self {
            engine: Engine::Postgres,
            url: lodge_eventlog::postgres::with_database(server, &name),
            folder: None,
            postgres: Some((server.to_owned(), name)),
        })
    }

    /// Settles a freshly written database as a long-lived one is settled, so that no timed step
    /// pays for the writing before it: SQLite's write-ahead log is copied into the database file
    /// (a page still in the log is looked up there on every read), PostgreSQL's tables are
    /// vacuumed (the first read of a new row otherwise writes its visibility hints).
    pub async fn settle(&self) -> anyhow::Result<()> {
        match self.engine {
            Engine::Sqlite => {
                let mut connection = SqliteConnection::connect(&self.url).await?;
                let (busy, ..): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&mut connection)
                    .await?;
                anyhow::ensure!(
                    busy == 0,
                    "the write-ahead log could not be copied in: the database is busy"
                );
            }
            Engine::Postgres => {
                let mut connection = PgConnection::connect(&self.url).await?;
                connection.execute("VACUUM (ANALYZE)").await?;
            }
        }
        Ok(())
    }

    /// Removes the database, or with `LODGE_BENCH_KEEP=1` keeps it and says where it is (to look
    /// into it afterwards, e.g. to profile `lodge rebuild --all` on the benchmark's log).
    pub async fn remove(self) {
        if std::env::var("LODGE_BENCH_KEEP").is_ok_and(|keep| keep == "1") {
            if let Some(folder) = self.folder {
                let _ = folder.keep();
            }
            eprintln!("{}: kept the benchmark database at {}", self.engine, self.url);
            return;
        }
        if let Some((server, name)) = &self.postgres {
            let dropped = async {
                let mut admin = PgConnection::connect(server).await?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await
            };
            if let Err(error) = dropped.await {
                eprintln!("could not drop the benchmark database {name}: {error}");
            }
        }
    }
}

/// Runs `measure` on a fresh SQLite database and, when `LODGE_BENCH_POSTGRES_URL` names a server,
/// on a fresh PostgreSQL database (unless `only` says otherwise), removing each afterwards.
pub async fn on_each_engine<T, F, Fut>(only: Option<BenchEngine>, mut measure: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(BenchDatabase) -> Fut,
    Fut: std::future::Future<Output = (BenchDatabase, anyhow::Result<T>)>,
{
    let mut results = Vec::new();
    if only != Some(BenchEngine::Postgres) {
        let (sqlite, measured) = measure(BenchDatabase::sqlite()?).await;
        sqlite.remove().await;
        results.push(measured?);
    }
    match std::env::var("LODGE_BENCH_POSTGRES_URL") {
        _ if only == Some(BenchEngine::Sqlite) => {}
        Ok(server) if !server.is_empty() => {
            let (postgres, measured) = measure(BenchDatabase::postgres(&server).await?).await;
            postgres.remove().await;
            results.push(measured?);
        }
        _ => eprintln!(
            "postgres: skipped; set LODGE_BENCH_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) to measure it"
        ),
    }
    Ok(results)
}

/// Prints each engine's figures: one JSON object a line with `json`, else as a table.
pub fn print_results<T: serde::Serialize>(results: &[T], json: bool, table: impl Fn(&T)) -> anyhow::Result<()> {
    for figures in results {
        if json {
            println!("{}", serde_json::to_string(figures)?);
        } else {
            table(figures);
        }
    }
    Ok(())
}

pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// 12345.6 → "12,346"
pub fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_thousands() {
        assert_eq!(super::grouped(0.4), "0");
        assert_eq!(super::grouped(999.0), "999");
        assert_eq!(super::grouped(12_345.6), "12,346");
        assert_eq!(super::grouped(1_234_567.0), "1,234,567");
    }
}
