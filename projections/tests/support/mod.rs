//! A log, a read store and running projectors on a fresh database, for projection tests.
#![allow(dead_code)]

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

/// Every row of every read model, as text, in a stable order.
pub async fn snapshot(store: &ReadStore) -> Vec<String> {
    let mut rows = Vec::new();
    for projection in ALL {
        for table in projection.tables() {
            let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT * FROM {} ORDER BY 1, 2",
                table.name
            )))
            .fetch_all(store.pool())
            .await
            .unwrap();
            for row in found {
                let values: Vec<String> = (0..row.len())
                    .map(|i| match row.try_get::<Option<String>, _>(i) {
                        Ok(text) => format!("{text:?}"),
                        Err(_) => format!("{:?}", row.try_get::<Option<i64>, _>(i).unwrap()),
                    })
                    .collect();
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
