//! No subscriber ever skips an event, even when PostgreSQL transactions commit in another order than
//! the one their positions were taken in. See docs/decisions/0002-no-skipped-events.md.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{ExpectedVersion, Position, RecordedEvent};
use rand::Rng;
use sqlx::{Connection, Executor, PgConnection};

const SETTLE: Duration = Duration::from_millis(300);
const PATIENCE: Duration = Duration::from_secs(20);

async fn begin(db: &TestDatabase) -> PgConnection {
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    conn.execute("BEGIN").await.unwrap();
    conn
}

/// Appends one event to a new stream inside the open transaction `tx`, as the log itself would.
async fn append_in(tx: &mut PgConnection, stream_name: &str, n: u32) -> lodge_eventlog::AppendOutcome {
    lodge_eventlog::postgres::append_within(
        tx,
        &stream(stream_name),
        ExpectedVersion::NoStream,
        &[event(n)],
        &meta(),
    )
    .await
    .unwrap()
}

/// Positions a reader that trusts positions alone would see after `after`.
async fn naive_read(db: &TestDatabase, after: Position) -> Vec<i64> {
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    sqlx::query_scalar("SELECT position FROM lodge_events WHERE position > $1 ORDER BY position")
        .bind(after.0)
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

/// T1 takes the lower position, T2 the higher; T2 commits first. A reader must not deliver T2's event
/// before T1's fate is known, or a position-based checkpoint would then jump over T1's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_higher_position_committed_first_waits_for_the_lower_one() {
    let db = TestDatabase::postgres().await;
    let log = db.log().await;
    let mut subscription = log.subscribe(Position::START);

    let mut t1 = begin(&db).await;
    let mut t2 = begin(&db).await;
    let lower = append_in(&mut t1, "invite-1", 1).await;
    let higher = append_in(&mut t2, "invite-2", 2).await;
    assert!(lower.last_position < higher.last_position);
    t2.execute("COMMIT").await.unwrap();

    // The trap is set: the higher position is visible while the lower one is still in flight.
    assert_eq!(naive_read(&db, Position::START).await, vec![higher.last_position.0]);
    assert!(
        subscription.next_within(SETTLE).await.unwrap().is_none(),
        "nothing may be delivered while an older transaction is open"
    );

    t1.execute("COMMIT").await.unwrap();
    let first = subscription.next_within(PATIENCE).await.unwrap().unwrap();
    let second = subscription.next_within(PATIENCE).await.unwrap().unwrap();
    assert_eq!(
        (first.position, second.position),
        (lower.last_position, higher.last_position)
    );
}

/// T1 starts first (older transaction id) but takes the higher position; it commits first. The
/// reader delivers it, and must still deliver T2's lower position when T2 commits later, although a
/// reader going by position would already be past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_lower_position_committed_later_is_still_delivered() {
    let db = TestDatabase::postgres().await;
    let log = db.log().await;
    let mut subscription = log.subscribe(Position::START);

    let mut t1 = begin(&db).await;
    // Take a transaction id now, so that T1 is the older transaction.
    t1.execute("SELECT pg_current_xact_id()").await.unwrap();
    let mut t2 = begin(&db).await;
    let lower = append_in(&mut t2, "invite-2", 2).await;
    let higher = append_in(&mut t1, "invite-1", 1).await;
    assert!(lower.last_position < higher.last_position);
    t1.execute("COMMIT").await.unwrap();

    let first = subscription.next_within(PATIENCE).await.unwrap().unwrap();
    assert_eq!(first.position, higher.last_position);

    t2.execute("COMMIT").await.unwrap();
    // The trap: going by position, the reader is already past T2's event.
    assert!(naive_read(&db, first.position).await.is_empty());
    let second = subscription.next_within(PATIENCE).await.unwrap().unwrap();
    assert_eq!(
        second.position, lower.last_position,
        "the lower position arrives after all"
    );
    assert!(subscription.next_within(SETTLE).await.unwrap().is_none());
}

lodge_eventlog::test_on_both_engines!(
    concurrent_writers_and_a_live_subscriber_agree_on_every_event,
    every_stream_reaches_readers_in_version_order_under_load,
);

/// Eight writers append at random to twenty streams while a subscriber follows the log live. The
/// subscriber must see every event exactly once, each stream in version order, and the same set of
/// events as a full read afterwards.
async fn concurrent_writers_and_a_live_subscriber_agree_on_every_event(db: TestDatabase) {
    const WRITERS: u32 = 8;
    const APPENDS: u32 = 40;
    let log = db.log().await;

    let mut subscription = log.subscribe(Position::START);
    let follower = tokio::spawn(async move {
        let mut seen: Vec<RecordedEvent> = Vec::new();
        while let Some(event) = subscription.next_within(PATIENCE).await.unwrap() {
            let done = serde_json::from_str::<serde_json::Value>(&event.data).unwrap()["n"] == u32::MAX;
            seen.push(event);
            if done {
                break;
            }
        }
        seen
    });

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            let mut written = 0u32;
            for n in 0..APPENDS {
                let (stream_no, batch, pause) = {
                    let mut rng = rand::rng();
                    (
                        rng.random_range(0..20),
                        rng.random_range(1..=3u32),
                        rng.random_range(0..3u64),
                    )
                };
                let first = (writer * APPENDS + n) * 10;
                log.append(
                    &stream(&format!("invite-{stream_no}")),
                    ExpectedVersion::Any,
                    &events(first..first + batch),
                    &meta(),
                )
                .await
                .unwrap();
                written += batch;
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            written
        }));
    }
    let mut total = 0;
    for writer in writers {
        total += writer.await.unwrap();
    }
    log.append(&stream("invite-end"), ExpectedVersion::Any, &[event(u32::MAX)], &meta())
        .await
        .unwrap();
    let seen = follower.await.unwrap();

    assert_eq!(seen.len() as u32, total + 1, "every event delivered, none twice");
    let ids: BTreeSet<_> = seen.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), seen.len(), "no event delivered twice");
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for event in &seen {
        let last = versions.entry(event.stream_id.to_string()).or_default();
        assert_eq!(
            event.stream_version,
            *last + 1,
            "stream {} in version order",
            event.stream_id
        );
        *last = event.stream_version;
    }
    let everything: BTreeSet<_> = log
        .read_all(Position::START, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(ids, everything);
    assert!(log.verify().await.unwrap().broken.is_none());
}

/// Many writers on few streams, with no pauses, so that appends wait for each other's streams and
/// group into batches: readers must still get each stream's events in version order, because a
/// projector applying "accepted" before "uploaded" would be wrong.
async fn every_stream_reaches_readers_in_version_order_under_load(db: TestDatabase) {
    const WRITERS: u32 = 8;
    const APPENDS: u32 = 60;
    let log = db.log().await;
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..APPENDS {
                let stream_no = (writer + n) % 3;
                log.append(
                    &stream(&format!("invite-{stream_no}")),
                    ExpectedVersion::Any,
                    &[event(writer * 1_000 + n)],
                    &meta(),
                )
                .await
                .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut subscription = log.subscribe(Position::START);
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..WRITERS * APPENDS {
        let event = subscription
            .next_within(PATIENCE)
            .await
            .unwrap()
            .expect("every event arrives");
        let last = versions.entry(event.stream_id.to_string()).or_default();
        assert_eq!(
            event.stream_version,
            *last + 1,
            "stream {} out of version order in the log",
            event.stream_id
        );
        *last = event.stream_version;
    }
}
