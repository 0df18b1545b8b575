//! Fresh databases for tests, on either engine. Each [`TestDatabase`] is its own SQLite file in a
//! temporary folder, or its own PostgreSQL database (dropped when the value is dropped).
//!
//! PostgreSQL tests never skip: when the server cannot be reached they fail, saying how to fix it.
//! The server is `LODGE_TEST_POSTGRES_URL`, by default `postgres://postgres@127.0.0.1:5432/postgres`.

use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::log::{Engine, EventLog};
use crate::postgres::with_database;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server tests create their databases on.
pub fn postgres_server_url() -> String {
    std::env::var("LODGE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

pub struct TestDatabase {
    engine: Engine,
    url: String,
    /// The SQLite file's folder, removed on drop.
    _folder: Option<tempfile::TempDir>,
    /// The PostgreSQL database's name, dropped on drop, and the server it is on.
    postgres_database: Option<String>,
    postgres_server: String,
}

impl TestDatabase {
    pub async fn new(engine: Engine) -> Self {
        match engine {
            Engine::Sqlite => Self::sqlite(),
            Engine::Postgres => Self::postgres().await,
        }
    }

    pub fn sqlite() -> Self {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", folder.path().join("lodge.db").display());
        Self {
            engine: Engine::Sqlite,
            url,
            _folder: Some(folder),
            postgres_database: None,
            postgres_server: String::new(),
        }
    }

    pub async fn postgres() -> Self {
        Self::postgres_on(&postgres_server_url()).await
    }

    /// A fresh database on the PostgreSQL server at `server` (a cluster of the test's own, say).
    pub async fn postgres_on(server: &str) -> Self {
        let server = server.to_owned();
        let mut admin = PgConnection::connect(&server).await.unwrap_or_else(|error| {
            panic!(
                "this test needs PostgreSQL, which is not reachable at {server}: {error}\n\
                 Start it (see README.md) or point LODGE_TEST_POSTGRES_URL at a server."
            )
        });
        let name = format!("lodge_test_{}", Uuid::new_v4().simple());
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("CREATE DATABASE for a test");
        admin.close().await.ok();
        Self {
            engine: Engine::Postgres,
            url: with_database(&server, &name),
            _folder: None,
            postgres_database: Some(name),
            postgres_server: server,
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A log on this database, migrated.
    pub async fn log(&self) -> EventLog {
        let log = EventLog::connect(&self.url)
            .await
            .expect("connect to the test database");
        log.migrate().await.expect("migrate the test database");
        log
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_database.take() else {
            return;
        };
        // Drop may run inside an async test; a thread of its own can block on the database.
        let server = self.postgres_server.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await?;
                admin.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop a test database: {error}");
        }
    }
}

/// Runs each listed `async fn name(db: TestDatabase)` once on SQLite and once on PostgreSQL, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! test_on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDatabase::sqlite()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDatabase::postgres().await).await;
                }
            )+
        }
    };
}
