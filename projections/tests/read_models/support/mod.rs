//! A log, a read store and running projectors on a fresh database, for projection tests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lodge_domain::invite::{InviteCommand, InviteDecider, InviteEvent};
use lodge_domain::{Actor, testing};
use lodge_eventlog::Position;
use lodge_eventlog::command::{self, CommandOutcome};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{EventLog, Metadata, StreamId};
use lodge_projections::all::{self, ALL};
use lodge_projections::{Projection, ProjectionError, ReadStore, RecentHistories, runtime};
use sqlx::Row;
use tokio::task::JoinHandle;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub struct Projected {
    pub db: TestDatabase,
    pub log: EventLog,
    pub store: ReadStore,
    pub shutdown: CancellationToken,
    /// Shared by the projectors a test runs, as `all::spawn_all` shares it.
    pub recent: Arc<RecentHistories>,
}

impl Projected {
    pub async fn new(db: TestDatabase) -> Self {
        // LODGE_TEST_LOG=lodge_projections=debug shows what the projectors do.
        if let Ok(filter) = std::env::var("LODGE_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let log = db.log().await;
        let store = ReadStore::connect(db.url()).await.expect("read store");
        Self {
            db,
            log,
            store,
            shutdown: CancellationToken::new(),
            recent: Arc::default(),
        }
    }

    /// Registers a projector (so that its views can be read at once) and starts it in the background.
    pub async fn run<P: Projection>(&self, projection: P) -> JoinHandle<Result<(), ProjectionError>> {
        self.store.register::<P>().await.expect("register the projection");
        tokio::spawn(runtime::run(
            projection,
            self.log.clone(),
            self.store.clone(),
            self.recent.clone(),
            self.shutdown.clone(),
        ))
    }

    /// Decides a command on the sample invite's stream as staff would, through the real command path.
    pub async fn execute(&self, command: InviteCommand) -> CommandOutcome<InviteEvent> {
        self.execute_as(command, Metadata::new(Actor::from(&testing::staff())))
            .await
    }

    /// Decides a command on the sample invite's stream with the given metadata (actor, source).
    pub async fn execute_as(&self, command: InviteCommand, metadata: Metadata) -> CommandOutcome<InviteEvent> {
        command::execute::<InviteDecider>(&self.log, &StreamId::invite(testing::INVITE), &command, &metadata)
            .await
            .expect("command accepted")
    }
}

/// Polls `probe` until it gives something, for at most 10 seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A row's values as text, whatever their types.
fn cells<R: Row>(row: &R) -> Vec<String>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    (0..row.len())
        .map(|i| {
            if let Ok(text) = row.try_get::<Option<String>, _>(i) {
                format!("{text:?}")
            } else if let Ok(number) = row.try_get::<Option<i64>, _>(i) {
                format!("{number:?}")
            } else {
                format!("{:?}", row.try_get::<Option<Vec<u8>>, _>(i).unwrap())
            }
        })
        .collect()
}

/// Every row of every read model, as text, in a stable order.
pub async fn snapshot(store: &ReadStore) -> Vec<String> {
    let mut rows = Vec::new();
    for projection in ALL {
        for table in projection.tables() {
            let sql = format!("SELECT * FROM {} ORDER BY 1, 2", table.name);
            let found: Vec<Vec<String>> = lodge_store::on!(store.store(), |c| {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(c)
                    .await
                    .unwrap()
                    .iter()
                    .map(cells)
                    .collect()
            });
            for values in found {
                rows.push(format!("{}: {}", table.name, values.join(" | ")));
            }
        }
    }
    rows
}

pub fn start_all(
    p: &Projected,
    shutdown: &CancellationToken,
) -> JoinSet<Result<(), lodge_projections::ProjectionError>> {
    let mut projectors = JoinSet::new();
    all::spawn_all(&p.log, &p.store, shutdown, &mut projectors);
    projectors
}

pub async fn wait_all(p: &Projected, position: Position) {
    for name in all::NAMES {
        let reached = p.store.wait_for(&p.log, name, position, Duration::from_secs(20)).await;
        let status = p.store.status(name).await.unwrap();
        assert!(reached.unwrap(), "{name} caught up to {position}: {status:?}");
    }
}

/// How an earlier Lodge left the audit trail: ids and hashes as text in `audit_entries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlierTrail {
    /// Keyed by (invite, stream version), with maps of the invites each contact and document is in.
    WithTextMaps,
    /// Keyed by log position, with indexes over every entry and no maps.
    KeyedByPositionWithoutMaps,
}

/// Turns generation `generation` of the audit trail back into what an earlier Lodge kept: the same
/// entries as text, in the earlier tables (and, if `live`, behind the earlier views).
pub async fn leave_trail_as(store: &ReadStore, generation: i64, live: bool, earlier: EarlierTrail) {
    let g = |table: &str| format!("{table}__g{generation}");
    let id = |bytes: Option<Vec<u8>>| bytes.map(|b| uuid::Uuid::from_slice(&b).unwrap().to_string());
    let text = |c: &str| {
        if store.engine() == lodge_eventlog::Engine::Postgres {
            format!("{c} COLLATE \"C\"")
        } else {
            c.to_owned()
        }
    };
    let mut script = format!(
        "CREATE TABLE {} (position BIGINT NOT NULL, invite_id {t} NOT NULL, stream_version BIGINT NOT NULL,
             at {t} NOT NULL, actor_kind {t} NOT NULL, actor_id {t}, actor_name {t}, action {t} NOT NULL,
             contact_id {t}, request_id {t}, document_id {t}, sha256 {t}, ip {t}, user_agent {t},
             detail {t}, event_hash {t} NOT NULL);",
        g("audit_entries"),
        t = text("TEXT")
    );
    script += &match earlier {
        EarlierTrail::WithTextMaps => format!(
            "CREATE UNIQUE INDEX {e}_key ON {e} (invite_id, stream_version);",
            e = g("audit_entries")
        ),
        EarlierTrail::KeyedByPositionWithoutMaps => format!(
            "CREATE UNIQUE INDEX {e}_key ON {e} (position);
             CREATE INDEX {e}_i0 ON {e} (invite_id, stream_version);
             CREATE INDEX {e}_i1 ON {e} (contact_id);
             CREATE INDEX {e}_i2 ON {e} (document_id) WHERE document_id IS NOT NULL;",
            e = g("audit_entries")
        ),
    };
    // One script on one connection: statements spread over the pool's connections raced each
    // other on SQLite ("index … already exists").
    let mut connection = store.store().detached().await.unwrap();
    let trail = format!("SELECT * FROM {}", g("audit_trail"));
    lodge_store::on!(connection, |c| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(trail))
            .fetch_all(&mut *c)
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(script))
            .execute(&mut *c)
            .await
            .unwrap();
        for row in rows {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                g("audit_entries")
            )))
            .bind(row.get::<i64, _>("position"))
            .bind(id(Some(row.get("invite_id"))))
            .bind(row.get::<i64, _>("stream_version"))
            .bind(row.get::<String, _>("at"))
            .bind(row.get::<String, _>("actor_kind"))
            .bind(id(row.get("actor_id")))
            .bind(row.get::<Option<String>, _>("actor_name"))
            .bind(row.get::<String, _>("action"))
            .bind(id(row.get("contact_id")))
            .bind(id(row.get("request_id")))
            .bind(id(row.get("document_id")))
            .bind(row.get::<Option<Vec<u8>>, _>("sha256").map(hex::encode))
            .bind(row.get::<Option<String>, _>("ip"))
            .bind(row.get::<Option<String>, _>("user_agent"))
            .bind(row.get::<Option<String>, _>("detail"))
            .bind(hex::encode(row.get::<Vec<u8>, _>("event_hash")))
            .execute(&mut *c)
            .await
            .unwrap();
        }
    });
    let mut script = String::new();
    for table in ["audit_trail", "audit_contact_invites", "audit_document_invites"] {
        if live {
            script += &format!("DROP VIEW {table};");
        }
        script += &format!("DROP TABLE {};", g(table));
    }
    let mut earlier_tables = vec!["audit_entries"];
    if earlier == EarlierTrail::WithTextMaps {
        for (map, column) in [("audit_contacts", "contact_id"), ("audit_documents", "document_id")] {
            script += &format!(
                "CREATE TABLE {m} ({column} {t} NOT NULL, invite_id {t} NOT NULL);
                 INSERT INTO {m} SELECT DISTINCT {column}, invite_id FROM {e} WHERE {column} IS NOT NULL;
                 CREATE UNIQUE INDEX {m}_key ON {m} ({column}, invite_id);",
                m = g(map),
                e = g("audit_entries"),
                t = text("TEXT")
            );
            earlier_tables.push(map);
        }
    }
    if live {
        for table in earlier_tables {
            script += &format!("CREATE VIEW {table} AS SELECT * FROM {};", g(table));
        }
    }
    lodge_store::execute_sql(&mut connection, script).await.unwrap();
}
