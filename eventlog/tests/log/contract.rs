//! The event log's contract, run on SQLite and on PostgreSQL alike.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::*;
use chrono::Utc;
use lodge_domain::invite::InviteEvent;
use lodge_domain::{Actor, EventDecodeError};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Engine, ExpectedVersion, LogError, Metadata, NewEvent, Position, Source, StreamId};

lodge_eventlog::test_on_both_engines!(
    appends_get_versions_positions_ids_times_and_metadata,
    a_wrong_expected_version_is_a_conflict_and_appends_nothing,
    a_repeated_command_returns_its_first_outcome_and_appends_nothing,
    a_command_id_reused_for_something_else_is_refused,
    unknown_streams_and_positions_are_errors,
    invalid_appends_are_refused_and_append_nothing,
    read_all_pages_through_the_log_in_order,
    metadata_that_cannot_be_read_is_reported_with_its_position,
    unknown_event_types_are_reported_when_decoding,
    a_subscription_catches_up_then_follows_new_appends,
    a_subscription_can_start_anywhere,
    concurrent_writers_to_one_stream_never_share_a_version,
    events_rows_cannot_be_updated_or_deleted,
    verify_passes_on_an_intact_log,
    verify_finds_an_edited_event,
    verify_finds_a_removed_event,
    appends_are_durable_when_acknowledged,
    a_reopened_log_has_everything,
    two_processes_on_one_database_never_fork_a_stream,
    large_batches_are_appended_whole,
    readers_can_tell_whether_they_have_reached_a_position,
    streams_can_be_walked_in_order_and_the_settled_head_found,
);

async fn appends_get_versions_positions_ids_times_and_metadata(db: TestDatabase) {
    let log = db.log().await;
    let before = Utc::now() - chrono::TimeDelta::seconds(5);
    let mut metadata = meta();
    metadata.causation_id = Some(uuid::Uuid::now_v7());
    metadata.source = Some(Source {
        ip: Some("203.0.113.9".parse().unwrap()),
        user_agent: Some("Mozilla/5.0".into()),
    });
    let first = log
        .append(&stream("invite-a"), ExpectedVersion::NoStream, &events(1..4), &metadata)
        .await
        .unwrap();
    assert_eq!((first.first_version, first.last_version), (1, 3));
    assert!(!first.duplicate);
    let second = log
        .append(&stream("invite-a"), ExpectedVersion::Exact(3), &events(4..5), &meta())
        .await
        .unwrap();
    assert_eq!((second.first_version, second.last_version), (4, 4));
    assert!(second.last_position > first.last_position);

    let recorded = log.read_stream(&stream("invite-a")).await.unwrap();
    assert_eq!(
        recorded.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(numbers(&recorded), vec![1, 2, 3, 4]);
    assert_eq!(recorded[2].position, first.last_position);
    assert!(recorded.windows(2).all(|w| w[0].position < w[1].position));
    let ids: BTreeSet<_> = recorded.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), 4);
    assert!(recorded.iter().all(|e| e.event_id.get_version_num() == 7), "UUIDv7 ids");
    assert!(
        recorded
            .iter()
            .all(|e| e.recorded_at > before && e.recorded_at <= Utc::now())
    );
    assert_eq!(recorded[0].metadata, metadata);
    assert_eq!(recorded[3].metadata.actor, staff());
    assert_eq!(recorded[0].data, event(1).data, "payload kept byte for byte");
    assert_eq!(recorded[0].event_type, "ThingHappened");
    assert_eq!(recorded[0].schema_version, 1);
}

async fn a_wrong_expected_version_is_a_conflict_and_appends_nothing(db: TestDatabase) {
    let log = db.log().await;
    let s = stream("invite-b");
    log.append(&s, ExpectedVersion::NoStream, &events(1..3), &meta())
        .await
        .unwrap();

    let conflict = |result: Result<_, LogError>| match result {
        Err(LogError::VersionConflict { actual, .. }) => actual,
        other => panic!("expected a version conflict, got {other:?}"),
    };
    let (late, late_meta) = (events(9..10), meta());
    let attempt = |expected| log.append(&s, expected, &late, &late_meta);
    assert_eq!(conflict(attempt(ExpectedVersion::NoStream).await), Some(2));
    assert_eq!(conflict(attempt(ExpectedVersion::Exact(1)).await), Some(2));
    assert_eq!(conflict(attempt(ExpectedVersion::Exact(3)).await), Some(2));
    assert_eq!(
        conflict(
            log.append(
                &stream("invite-none"),
                ExpectedVersion::Exact(1),
                &events(9..10),
                &meta()
            )
            .await
        ),
        None
    );
    assert_eq!(numbers(&log.read_stream(&s).await.unwrap()), vec![1, 2]);
    // Counted by stream versions: read_all may trail an append while another database's
    // transaction holds the cluster's horizon back.
    assert_eq!(log.summary().await.unwrap().events, 2);
    assert!(matches!(
        log.read_stream(&stream("invite-none")).await,
        Err(LogError::UnknownStream(_))
    ));

    assert_eq!(attempt(ExpectedVersion::Exact(2)).await.unwrap().last_version, 3);
    let any = log
        .append(&s, ExpectedVersion::Any, &events(10..11), &meta())
        .await
        .unwrap();
    assert_eq!(any.last_version, 4);
    assert_eq!(
        log.append(&stream("invite-any"), ExpectedVersion::Any, &events(1..2), &meta())
            .await
            .unwrap()
            .last_version,
        1
    );
}

async fn a_repeated_command_returns_its_first_outcome_and_appends_nothing(db: TestDatabase) {
    let log = db.log().await;
    let s = stream("invite-c");
    let metadata = meta();
    let first = log
        .append(&s, ExpectedVersion::NoStream, &events(1..3), &metadata)
        .await
        .unwrap();
    // The same command again, even with the expected version it had then.
    let again = log
        .append(&s, ExpectedVersion::NoStream, &events(1..3), &metadata)
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.first_version, again.last_version, again.last_position),
        (first.first_version, first.last_version, first.last_position)
    );
    assert_eq!(log.read_stream(&s).await.unwrap().len(), 2);
    let stored = log.command_outcome(metadata.command_id).await.unwrap().unwrap();
    assert_eq!(stored.last_position, first.last_position);
    assert!(log.command_outcome(uuid::Uuid::now_v7()).await.unwrap().is_none());
}

async fn a_command_id_reused_for_something_else_is_refused(db: TestDatabase) {
    let log = db.log().await;
    let metadata = meta();
    log.append(&stream("invite-d"), ExpectedVersion::NoStream, &events(1..2), &metadata)
        .await
        .unwrap();
    let other_events = log
        .append(&stream("invite-d"), ExpectedVersion::Any, &events(5..6), &metadata)
        .await;
    assert!(
        matches!(other_events, Err(LogError::CommandIdReused { ref first_stream, .. }) if first_stream == "invite-d")
    );
    let other_stream = log
        .append(&stream("invite-e"), ExpectedVersion::Any, &events(1..2), &metadata)
        .await;
    assert!(matches!(other_stream, Err(LogError::CommandIdReused { .. })));
    assert_eq!(log.summary().await.unwrap().events, 1);
}

async fn unknown_streams_and_positions_are_errors(db: TestDatabase) {
    let log = db.log().await;
    assert!(log.read_all(Position::START, 10).await.unwrap().is_empty());
    assert!(matches!(
        log.read_stream(&stream("invite-nobody")).await,
        Err(LogError::UnknownStream(s)) if s.as_str() == "invite-nobody"
    ));
    let outcome = log
        .append(&stream("invite-f"), ExpectedVersion::NoStream, &events(1..2), &meta())
        .await
        .unwrap();
    assert!(log.read_all(outcome.last_position, 10).await.unwrap().is_empty());
    let beyond = Position(outcome.last_position.0 + 1_000);
    assert!(matches!(
        log.read_all(beyond, 10).await,
        Err(LogError::UnknownPosition(p)) if p == beyond
    ));
}

async fn invalid_appends_are_refused_and_append_nothing(db: TestDatabase) {
    let log = db.log().await;
    let s = stream("invite-g");
    let refused = |result: Result<_, LogError>| result.expect_err("refused");

    assert!(matches!(
        refused(log.append(&s, ExpectedVersion::Any, &[], &meta()).await),
        LogError::NoEvents
    ));
    let not_json = NewEvent {
        data: "{not json".into(),
        ..event(1)
    };
    assert!(matches!(
        refused(
            log.append(&s, ExpectedVersion::Any, &[event(1), not_json], &meta())
                .await
        ),
        LogError::InvalidEvent { index: 1, .. }
    ));
    let bad_type = NewEvent {
        event_type: "Thing Happened; DROP TABLE".into(),
        ..event(1)
    };
    assert!(matches!(
        refused(log.append(&s, ExpectedVersion::Any, &[bad_type], &meta()).await),
        LogError::InvalidEvent { index: 0, .. }
    ));
    let version_zero = NewEvent {
        schema_version: 0,
        ..event(1)
    };
    assert!(matches!(
        refused(log.append(&s, ExpectedVersion::Any, &[version_zero], &meta()).await),
        LogError::InvalidEvent { .. }
    ));
    let mut nameless = meta();
    nameless.actor = Actor::Contact {
        id: lodge_domain::ContactId::from_uuid(uuid::Uuid::nil()),
        name: "  ".into(),
    };
    assert!(matches!(
        refused(log.append(&s, ExpectedVersion::Any, &events(1..2), &nameless).await),
        LogError::InvalidMetadata(_)
    ));
    let mut odd_agent = meta();
    odd_agent.source = Some(Source {
        ip: None,
        user_agent: Some("x\u{0}y".into()),
    });
    assert!(matches!(
        refused(log.append(&s, ExpectedVersion::Any, &events(1..2), &odd_agent).await),
        LogError::InvalidMetadata(_)
    ));
    assert!(matches!(StreamId::parse(""), Err(LogError::InvalidStreamId(_))));
    assert!(matches!(
        StreamId::parse("invite/../x"),
        Err(LogError::InvalidStreamId(_))
    ));
    assert!(StreamId::parse(&"a".repeat(StreamId::MAX_LEN + 1)).is_err());

    assert!(
        log.read_all(Position::START, 10).await.unwrap().is_empty(),
        "nothing appended"
    );
    assert!(log.verify().await.unwrap().broken.is_none());
}

async fn read_all_pages_through_the_log_in_order(db: TestDatabase) {
    let log = db.log().await;
    for n in 0..25u32 {
        let s = stream(&format!("invite-{}", n % 5));
        log.append(&s, ExpectedVersion::Any, &[event(n)], &meta())
            .await
            .unwrap();
    }
    let mut after = Position::START;
    let mut seen = Vec::new();
    loop {
        let page = log.read_all(after, 7).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        after = page.last().unwrap().position;
        seen.extend(page);
    }
    assert_eq!(
        numbers(&seen),
        (0..25).collect::<Vec<u64>>(),
        "one writer: log order is append order"
    );
    assert!(seen.windows(2).all(|w| w[0].position < w[1].position));
}

/// Writes a row the way a damaged or foreign writer might, bypassing the append path.
async fn insert_raw_event(db: &TestDatabase, stream_id: &str, event_type: &str, metadata: &str) {
    use sqlx::Connection;
    let id = uuid::Uuid::now_v7();
    match db.engine() {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query(
                "INSERT INTO lodge_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at, hash)
                 VALUES (?, ?, 1, ?, 1, '{}', ?, '2026-01-01T00:00:00.000000Z', zeroblob(32))",
            )
            .bind(id)
            .bind(stream_id)
            .bind(event_type)
            .bind(metadata)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query(
                "INSERT INTO lodge_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at, hash)
                 VALUES ($1, $2, 1, $3, 1, '{}', $4::json, now(), decode(repeat('00', 32), 'hex'))",
            )
            .bind(id)
            .bind(stream_id)
            .bind(event_type)
            .bind(metadata)
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
}

async fn metadata_that_cannot_be_read_is_reported_with_its_position(db: TestDatabase) {
    let log = db.log().await;
    insert_raw_event(&db, "invite-h", "ThingHappened", r#"{"actor": "nobody"}"#).await;
    let error = log.read_all(Position::START, 10).await.unwrap_err();
    assert!(
        matches!(error, LogError::MalformedMetadata { position, .. } if position.0 >= 1),
        "{error:?}"
    );
    assert!(matches!(
        log.read_stream(&stream("invite-h")).await,
        Err(LogError::MalformedMetadata { .. })
    ));
}

async fn unknown_event_types_are_reported_when_decoding(db: TestDatabase) {
    let log = db.log().await;
    let shredded = NewEvent {
        event_type: "InviteShredded".into(),
        schema_version: 1,
        data: "{}".into(),
    };
    let newer = NewEvent {
        event_type: "InviteCompleted".into(),
        schema_version: 9,
        data: r#"{"completed_by":null}"#.into(),
    };
    log.append(
        &stream("invite-i"),
        ExpectedVersion::NoStream,
        &[shredded, newer],
        &meta(),
    )
    .await
    .unwrap();
    let recorded = log.read_stream(&stream("invite-i")).await.unwrap();
    assert!(matches!(
        recorded[0].decode::<InviteEvent>(),
        Err(LogError::Decode { position, source: EventDecodeError::UnknownType { .. } }) if position == recorded[0].position
    ));
    assert!(matches!(
        recorded[1].decode::<InviteEvent>(),
        Err(LogError::Decode {
            source: EventDecodeError::NewerSchemaVersion { schema_version: 9, .. },
            ..
        })
    ));
}

async fn a_subscription_catches_up_then_follows_new_appends(db: TestDatabase) {
    let log = db.log().await;
    log.append(&stream("invite-j"), ExpectedVersion::NoStream, &events(1..4), &meta())
        .await
        .unwrap();
    let mut subscription = log.subscribe(Position::START);
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(
            subscription
                .next_within(Duration::from_secs(10))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert!(
        subscription
            .next_within(Duration::from_millis(200))
            .await
            .unwrap()
            .is_none()
    );

    let writer = log.clone();
    let appending = tokio::spawn(async move {
        for n in 4..7 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            writer
                .append(&stream("invite-k"), ExpectedVersion::Any, &[event(n)], &meta())
                .await
                .unwrap();
        }
    });
    for _ in 0..3 {
        seen.push(
            subscription
                .next_within(Duration::from_secs(10))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    appending.await.unwrap();
    assert_eq!(numbers(&seen), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(subscription.position(), seen.last().unwrap().position);
}

async fn a_subscription_can_start_anywhere(db: TestDatabase) {
    let log = db.log().await;
    let first = log
        .append(&stream("invite-l"), ExpectedVersion::NoStream, &events(1..3), &meta())
        .await
        .unwrap();
    log.append(&stream("invite-l"), ExpectedVersion::Exact(2), &events(3..5), &meta())
        .await
        .unwrap();
    let mut subscription = log.subscribe(first.last_position);
    let next = subscription
        .next_within(Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(numbers(&[next]), vec![3]);

    let mut lost = log.subscribe(Position(first.last_position.0 + 10_000));
    assert!(matches!(lost.next().await, Err(LogError::UnknownPosition(_))));
}

async fn concurrent_writers_to_one_stream_never_share_a_version(db: TestDatabase) {
    let log = db.log().await;
    let s = stream("invite-m");
    log.append(&s, ExpectedVersion::NoStream, &events(0..1), &meta())
        .await
        .unwrap();
    let mut writers = Vec::new();
    for writer in 0..6u32 {
        let (log, s) = (log.clone(), s.clone());
        writers.push(tokio::spawn(async move {
            let mut won = 0;
            for n in 0..15u32 {
                let version = log.read_stream(&s).await.unwrap().last().unwrap().stream_version;
                match log
                    .append(&s, ExpectedVersion::Exact(version), &[event(writer * 100 + n)], &meta())
                    .await
                {
                    Ok(_) => won += 1,
                    Err(LogError::VersionConflict { .. }) => {}
                    Err(other) => panic!("{other}"),
                }
            }
            won
        }));
    }
    let mut won = 0;
    for writer in writers {
        won += writer.await.unwrap();
    }
    let recorded = log.read_stream(&s).await.unwrap();
    assert_eq!(recorded.len() as u64, 1 + won);
    assert!(
        recorded
            .iter()
            .enumerate()
            .all(|(i, e)| e.stream_version == i as u64 + 1)
    );
    assert!(log.verify().await.unwrap().broken.is_none());
}

/// Runs one statement on the database directly, as an operator with a SQL prompt would.
async fn execute_sql(db: &TestDatabase, sql: &str) -> Result<u64, sqlx::Error> {
    use sqlx::{Connection, Executor};
    match db.engine() {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await?;
            Ok(conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await?.rows_affected())
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await?;
            Ok(conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await?.rows_affected())
        }
    }
}

/// Lets the next statements change event rows, as an attacker with full access could.
async fn disable_append_only_guard(db: &TestDatabase) {
    match db.engine() {
        Engine::Sqlite => {
            execute_sql(db, "DROP TRIGGER lodge_events_no_update").await.unwrap();
            execute_sql(db, "DROP TRIGGER lodge_events_no_delete").await.unwrap();
        }
        Engine::Postgres => {
            execute_sql(
                db,
                "ALTER TABLE lodge_events DISABLE TRIGGER lodge_events_no_update_or_delete",
            )
            .await
            .unwrap();
        }
    }
}

async fn events_rows_cannot_be_updated_or_deleted(db: TestDatabase) {
    let log = db.log().await;
    log.append(&stream("invite-n"), ExpectedVersion::NoStream, &events(1..3), &meta())
        .await
        .unwrap();
    let update = execute_sql(
        &db,
        "UPDATE lodge_events SET data = '{\"n\":99}' WHERE stream_version = 1",
    )
    .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = execute_sql(&db, "DELETE FROM lodge_events").await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    if db.engine() == Engine::Postgres {
        let truncate = execute_sql(&db, "TRUNCATE lodge_events").await;
        assert!(truncate.unwrap_err().to_string().contains("append-only"));
    }
    assert_eq!(
        numbers(&log.read_stream(&stream("invite-n")).await.unwrap()),
        vec![1, 2]
    );
}

async fn verify_passes_on_an_intact_log(db: TestDatabase) {
    let log = db.log().await;
    for n in 0..12u32 {
        let s = stream(&format!("invite-{}", n % 3));
        log.append(&s, ExpectedVersion::Any, &events(n * 2..n * 2 + 2), &meta())
            .await
            .unwrap();
    }
    let report = log.verify().await.unwrap();
    assert_eq!((report.streams, report.events), (3, 24));
    assert_eq!(report.broken, None);
}

async fn verify_finds_an_edited_event(db: TestDatabase) {
    let log = db.log().await;
    for s in ["invite-o", "invite-p"] {
        log.append(&stream(s), ExpectedVersion::NoStream, &events(1..5), &meta())
            .await
            .unwrap();
    }
    let victim = log.read_stream(&stream("invite-p")).await.unwrap()[1].clone();
    disable_append_only_guard(&db).await;
    let edited = execute_sql(
        &db,
        &format!(
            "UPDATE lodge_events SET data = '{{\"n\":2,\"note\":\"forged\"}}' WHERE position = {}",
            victim.position
        ),
    )
    .await
    .unwrap();
    assert_eq!(edited, 1);
    let broken = log.verify().await.unwrap().broken.expect("the edit is caught");
    assert_eq!(broken.stream_id, "invite-p");
    assert_eq!(broken.version, Some(2));
    assert_eq!(broken.position, Some(victim.position));
    assert!(broken.problem.contains("changed"), "{broken}");
}

async fn verify_finds_a_removed_event(db: TestDatabase) {
    let log = db.log().await;
    let s = stream("invite-q");
    log.append(&s, ExpectedVersion::NoStream, &events(1..5), &meta())
        .await
        .unwrap();
    let recorded = log.read_stream(&s).await.unwrap();
    disable_append_only_guard(&db).await;

    execute_sql(
        &db,
        &format!("DELETE FROM lodge_events WHERE position = {}", recorded[3].position),
    )
    .await
    .unwrap();
    let broken = log
        .verify()
        .await
        .unwrap()
        .broken
        .expect("a removed last event is caught");
    assert!(broken.problem.contains("removed"), "{broken}");

    execute_sql(
        &db,
        &format!("DELETE FROM lodge_events WHERE position = {}", recorded[1].position),
    )
    .await
    .unwrap();
    let broken = log.verify().await.unwrap().broken.expect("a gap is caught");
    assert_eq!(broken.version, Some(3));
    assert!(broken.problem.contains("missing"), "{broken}");
}

async fn appends_are_durable_when_acknowledged(db: TestDatabase) {
    use sqlx::{ConnectOptions, Row};
    match db.engine() {
        Engine::Sqlite => {
            let mut conn = lodge_eventlog::sqlite::connect_options(db.url())
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mode: String = sqlx::query("PRAGMA journal_mode")
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get(0);
            let synchronous: i64 = sqlx::query("PRAGMA synchronous")
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get(0);
            assert_eq!(mode, "wal");
            assert_eq!(synchronous, 2, "synchronous=FULL");
        }
        Engine::Postgres => {
            let mut conn = lodge_eventlog::postgres::connect_options(db.url())
                .unwrap()
                .connect()
                .await
                .unwrap();
            let setting: String = sqlx::query("SHOW synchronous_commit")
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get(0);
            assert_eq!(setting, "on");
        }
    }
}

async fn a_reopened_log_has_everything(db: TestDatabase) {
    let log = db.log().await;
    let outcome = log
        .append(&stream("invite-r"), ExpectedVersion::NoStream, &events(1..4), &meta())
        .await
        .unwrap();
    log.close().await;
    drop(log);
    let reopened = db.log().await;
    let recorded = reopened.read_stream(&stream("invite-r")).await.unwrap();
    assert_eq!(numbers(&recorded), vec![1, 2, 3]);
    assert_eq!(recorded.last().unwrap().position, outcome.last_position);
    let metadata: Metadata = recorded[0].metadata.clone();
    assert_eq!(metadata.actor, staff());
}

/// Two logs on one database, as two Lodge processes would have: each one's idea of a stream's head
/// goes stale whenever the other appends, and neither may fork the stream or break its chain.
async fn two_processes_on_one_database_never_fork_a_stream(db: TestDatabase) {
    let (first, second) = (db.log().await, db.log().await);
    let s = stream("invite-shared");
    first
        .append(&s, ExpectedVersion::NoStream, &events(0..1), &meta())
        .await
        .unwrap();
    for n in 1..6u32 {
        let (log, other) = if n % 2 == 0 {
            (&first, &second)
        } else {
            (&second, &first)
        };
        // Any version: the stale head is noticed and the append lands on top.
        let any = log
            .append(&s, ExpectedVersion::Any, &[event(n * 10)], &meta())
            .await
            .unwrap();
        // The exact version just reached works from the other log too…
        let exact = other
            .append(
                &s,
                ExpectedVersion::Exact(any.last_version),
                &[event(n * 10 + 1)],
                &meta(),
            )
            .await
            .unwrap();
        assert_eq!(exact.last_version, any.last_version + 1);
        // …and a version that is no longer current is refused by both.
        for log in [&first, &second] {
            let stale = log
                .append(&s, ExpectedVersion::Exact(any.last_version), &[event(999)], &meta())
                .await;
            assert!(
                matches!(stale, Err(LogError::VersionConflict { actual: Some(v), .. }) if v == exact.last_version),
                "{stale:?}"
            );
        }
        assert!(matches!(
            log.append(&s, ExpectedVersion::NoStream, &[event(999)], &meta()).await,
            Err(LogError::VersionConflict { .. })
        ));
    }
    // A command repeated through the other log is still a repeat.
    let metadata = meta();
    let once = first
        .append(&s, ExpectedVersion::Any, &[event(500)], &metadata)
        .await
        .unwrap();
    let twice = second
        .append(&s, ExpectedVersion::Any, &[event(500)], &metadata)
        .await
        .unwrap();
    assert!(twice.duplicate);
    assert_eq!(twice.last_position, once.last_position);

    let recorded = first.read_stream(&s).await.unwrap();
    assert_eq!(recorded.len(), 12);
    assert!(
        recorded
            .iter()
            .enumerate()
            .all(|(i, e)| e.stream_version == i as u64 + 1)
    );
    assert!(first.verify().await.unwrap().broken.is_none());
}

async fn large_batches_are_appended_whole(db: TestDatabase) {
    let log = db.log().await;
    let s = stream("invite-big");
    // More rows than one SQLite statement can take parameters for.
    let outcome = log
        .append(&s, ExpectedVersion::NoStream, &events(0..4_500), &meta())
        .await
        .unwrap();
    assert_eq!((outcome.first_version, outcome.last_version), (1, 4_500));
    let recorded = log.read_stream(&s).await.unwrap();
    assert_eq!(recorded.len(), 4_500);
    assert_eq!(recorded.last().unwrap().position, outcome.last_position);
    assert_eq!(numbers(&recorded), (0..4_500).collect::<Vec<u64>>());
    assert!(log.verify().await.unwrap().broken.is_none());
}

async fn readers_can_tell_whether_they_have_reached_a_position(db: TestDatabase) {
    let log = db.log().await;
    let first = log
        .append(&stream("invite-s"), ExpectedVersion::NoStream, &events(1..2), &meta())
        .await
        .unwrap()
        .last_position;
    let second = log
        .append(&stream("invite-s"), ExpectedVersion::Exact(1), &events(2..3), &meta())
        .await
        .unwrap()
        .last_position;
    assert!(log.has_reached(second, first).await.unwrap());
    assert!(log.has_reached(first, first).await.unwrap());
    assert!(!log.has_reached(first, second).await.unwrap());
    assert!(!log.has_reached(Position::START, first).await.unwrap());
    assert!(log.has_reached(Position::START, Position::START).await.unwrap());
    if db.engine() == Engine::Postgres {
        assert!(matches!(
            log.has_reached(first, Position(second.0 + 100)).await,
            Err(LogError::UnknownPosition(_))
        ));
    }
}

async fn streams_can_be_walked_in_order_and_the_settled_head_found(db: TestDatabase) {
    let log = db.log().await;
    assert_eq!(log.settled_head().await.unwrap(), Position::START);
    assert!(log.streams(None, 10).await.unwrap().is_empty());
    let mut last = Position::START;
    for name in ["invite-c", "invite-a", "invite-b", "invite-a"] {
        last = log
            .append(&stream(name), ExpectedVersion::Any, &events(1..2), &meta())
            .await
            .unwrap()
            .last_position;
    }
    assert_eq!(log.settled_head().await.unwrap(), last);
    let first_two = log.streams(None, 2).await.unwrap();
    assert_eq!(first_two, [stream("invite-a"), stream("invite-b")]);
    assert_eq!(
        log.streams(Some(&first_two[1]), 10).await.unwrap(),
        [stream("invite-c")]
    );
    assert!(log.streams(Some(&stream("invite-c")), 10).await.unwrap().is_empty());
}
