//! Group commit on PostgreSQL: appends that wait while others are written go together in one batch.
//! The tests make batches deterministic by holding a stream's lock in an open transaction, so that
//! both flush slots are busy and later appends must queue.

use std::time::Duration;

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{EventLog, ExpectedVersion, LogError, StreamId};
use sqlx::{Connection, Executor, PgConnection};

/// Holds `stream`'s append lock in an open transaction until the returned connection commits.
async fn hold_stream(db: &TestDatabase, name: &str) -> PgConnection {
    let mut holder = PgConnection::connect(db.url()).await.unwrap();
    holder.execute("BEGIN").await.unwrap();
    lodge_eventlog::postgres::append_within(&mut holder, &stream(name), ExpectedVersion::Any, &[event(0)], &meta())
        .await
        .unwrap();
    holder
}

/// Starts `count` appends to `name` in the background, one after the other so that each takes a flush
/// slot of its own, where it waits for `name`'s lock.
async fn occupy_slots(log: &EventLog, name: &str, count: u32) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for n in 0..count {
        let (log, s) = (log.clone(), stream(name));
        tasks.push(tokio::spawn(async move {
            log.append(&s, ExpectedVersion::Any, &[event(n + 1)], &meta())
                .await
                .unwrap();
        }));
        settle().await;
    }
    tasks
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_appends_queued_together_commit_together_and_a_conflict_refuses_only_its_own() {
    let db = TestDatabase::postgres().await;
    let log = db.log().await;
    log.append(&stream("invite-y"), ExpectedVersion::NoStream, &[event(1)], &meta())
        .await
        .unwrap();

    let holder = hold_stream(&db, "invite-blocker").await;
    let occupying = occupy_slots(&log, "invite-blocker", 2).await;

    let queued = |name: &'static str, expected| {
        let log = log.clone();
        tokio::spawn(async move { log.append(&stream(name), expected, &[event(7)], &meta()).await })
    };
    let x = queued("invite-x", ExpectedVersion::NoStream);
    let y = queued("invite-y", ExpectedVersion::Exact(5));
    let z = queued("invite-z", ExpectedVersion::NoStream);
    settle().await;
    holder.close().await.ok(); // ends the transaction, releasing the lock

    let (x, y, z) = (x.await.unwrap(), y.await.unwrap(), z.await.unwrap());
    for task in occupying {
        task.await.unwrap();
    }
    let (x, z) = (x.unwrap(), z.unwrap());
    assert!(
        matches!(y, Err(LogError::VersionConflict { actual: Some(1), .. })),
        "{y:?}"
    );
    assert_eq!((x.last_version, z.last_version), (1, 1));

    // x and z were written by one transaction: they share its id.
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let transactions: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT transaction_id::text) FROM lodge_events WHERE stream_id IN ('invite-x', 'invite-z')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(transactions, 1, "the queued appends went in one batch");
    assert_eq!(
        log.read_stream(&stream("invite-y")).await.unwrap().len(),
        1,
        "the refused append left nothing"
    );
    assert!(log.verify().await.unwrap().broken.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_append_whose_caller_goes_away_while_queued_is_never_written() {
    let db = TestDatabase::postgres().await;
    let log = db.log().await;
    let holder = hold_stream(&db, "invite-blocker").await;
    let occupying = occupy_slots(&log, "invite-blocker", 2).await;

    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        log.append(
            &stream("invite-abandoned"),
            ExpectedVersion::NoStream,
            &[event(9)],
            &meta(),
        ),
    )
    .await;
    assert!(
        abandoned.is_err(),
        "the append was still queued when its caller gave up"
    );

    holder.close().await.ok();
    for task in occupying {
        task.await.unwrap();
    }
    // A later append drains the queue; the abandoned one must not be in it, now or a little later.
    log.append(
        &stream("invite-later"),
        ExpectedVersion::NoStream,
        &[event(10)],
        &meta(),
    )
    .await
    .unwrap();
    settle().await;
    assert!(matches!(
        log.read_stream(&StreamId::parse("invite-abandoned").unwrap()).await,
        Err(LogError::UnknownStream(_))
    ));
}
