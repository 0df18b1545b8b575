//! Rebuilds without downtime, on both engines: a rebuilt generation equals the incrementally built
//! one row for row; live projectors follow the switch and miss nothing; an interrupted rebuild
//! resumes.

use crate::support::*;
use lodge_domain::invite::{InviteCommand, InviteDecider, MessageFrom};
use lodge_domain::testing::*;
use lodge_domain::{Actor, InviteId};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Engine, EventLog, Metadata, Position, StreamId, command};
use lodge_projections::all::{self, ALL};
use lodge_projections::rebuild::{self, Progress, RebuildOutcome};
use lodge_projections::{Generation, ReadStore};
use tokio_util::sync::CancellationToken;

/// Several invites with uploads, reviews, forms and messages.
async fn some_history(p: &Projected, from: u8) -> Position {
    history_on(&p.log, from).await
}

/// [`some_history`], appended to `log`.
async fn history_on(log: &EventLog, from: u8) -> Position {
    let mut last = Position::START;
    for n in from..from + 3 {
        let mut send = send_invite();
        send.invite_id = InviteId::from_uuid(uuid(0x1100 + n as u128));
        send.title = format!("Invite {n}");
        for (i, contact) in send.contacts.iter_mut().enumerate() {
            contact.portal_link = token(0x40 + 2 * n + i as u8);
        }
        let stream = StreamId::invite(send.invite_id);
        let doc = 0x7000 + 10 * n as u128;
        for command in [
            InviteCommand::SendInvite(send),
            upload(doc, PAYSLIPS, ANA),
            reject(doc, "Blurry"),
            upload(doc + 1, PAYSLIPS, ANA),
            accept(doc + 1),
            submit(BEN, answers("42")),
            message(0x8000 + n as u128, BEN, MessageFrom::Contact, "Done!"),
        ] {
            // One command id per command: a repeated id would be a retry of the first.
            let metadata = Metadata::new(Actor::from(&staff()));
            let outcome = command::execute::<InviteDecider>(log, &stream, &command, &metadata)
                .await
                .unwrap();
            last = outcome.position.unwrap_or(last);
        }
    }
    last
}

async fn generation(store: &ReadStore, name: &str) -> Generation {
    store.status(name).await.unwrap().unwrap().generation
}

lodge_eventlog::test_on_both_engines!(
    a_rebuilt_generation_equals_the_incrementally_built_one,
    projectors_follow_a_rebuild_and_miss_nothing_written_meanwhile,
    an_interrupted_rebuild_resumes_where_it_stopped,
    a_rebuild_an_earlier_lodge_began_resumes_with_its_trail_converted,
    a_rebuild_catching_up_with_an_earlier_trail_resumes_with_it_converted_and_keyed,
);

async fn a_rebuilt_generation_equals_the_incrementally_built_one(db: TestDatabase) {
    let p = Projected::new(db).await;
    all::register_all(&p.store).await.unwrap();
    let shutdown = CancellationToken::new();
    let mut projectors = start_all(&p, &shutdown);
    let last = some_history(&p, 0).await;
    wait_all(&p, last).await;
    shutdown.cancel();
    while projectors.join_next().await.is_some() {}
    let incremental = snapshot(&p.store).await;
    assert!(incremental.len() > 30, "a real history: {} rows", incremental.len());

    let mut seen = Vec::new();
    let outcome = rebuild::rebuild(&p.log, &p.store, &ALL, &CancellationToken::new(), |step| {
        seen.push(step)
    })
    .await
    .unwrap();
    let RebuildOutcome::Done(report) = outcome else {
        panic!("the rebuild finished: {outcome:?}")
    };
    assert_eq!(report.streams, 3);
    assert_eq!(report.events, 21);
    assert!(!report.resumed);
    assert_eq!(
        report.switched,
        [
            ("portal", Generation(1), Generation(2)),
            ("staff", Generation(1), Generation(2)),
            ("audit", Generation(1), Generation(2))
        ]
    );
    assert!(seen.contains(&Progress::Streams { events: 21, total: 21 }));
    assert_eq!(seen.last(), Some(&Progress::Switching));
    assert_eq!(snapshot(&p.store).await, incremental, "row for row");
    assert_eq!(generation(&p.store, "portal").await, Generation(2));
    let old = lodge_store::on!(p.store.store(), |c| sqlx::query(
        "SELECT count(*) FROM portal_views__g1"
    )
    .fetch_one(c)
    .await
    .map(|_| ()));
    assert!(old.is_err(), "the old generation's tables are dropped");
    assert_eq!(p.store.status("audit").await.unwrap().unwrap().position, last);
}

async fn projectors_follow_a_rebuild_and_miss_nothing_written_meanwhile(db: TestDatabase) {
    let p = Projected::new(db).await;
    all::register_all(&p.store).await.unwrap();
    let shutdown = CancellationToken::new();
    let _projectors = start_all(&p, &shutdown);
    some_history(&p, 0).await;

    // Writes land while the rebuild renders every stream, and again once it has caught up but not
    // yet switched: the rebuild waits for each (its progress callback blocks while another thread
    // appends, on a connection of its own).
    let url = p.db.url().to_owned();
    let append_now = |from: u8| {
        let url = url.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let log = EventLog::connect(&url).await.unwrap();
                let last = history_on(&log, from).await;
                log.close().await;
                last
            })
        })
        .join()
        .unwrap()
    };
    let mut written = Vec::new();
    let outcome = rebuild::rebuild(&p.log, &p.store, &ALL, &CancellationToken::new(), |step| match step {
        Progress::Streams { .. } if written.is_empty() => written.push(append_now(10)),
        Progress::Switching => written.push(append_now(20)),
        _ => {}
    })
    .await
    .unwrap();
    assert!(
        matches!(outcome, RebuildOutcome::Done(ref report) if report.caught_up > 0),
        "{outcome:?}"
    );
    assert_eq!(written.len(), 2, "writes during the streams and just before the switch");
    let after = some_history(&p, 30).await;
    for last in written {
        assert!(p.log.has_reached(after, last).await.unwrap());
    }

    wait_all(&p, after).await;
    for name in all::NAMES {
        assert_eq!(
            generation(&p.store, name).await,
            Generation(2),
            "{name} follows the switch"
        );
    }
    let live = snapshot(&p.store).await;
    // What the projectors built across the switch is what a rebuild from scratch builds now.
    shutdown.cancel();
    rebuild::rebuild(&p.log, &p.store, &ALL, &CancellationToken::new(), |_| {})
        .await
        .unwrap();
    assert_eq!(snapshot(&p.store).await, live);
    let invites: i64 = lodge_store::on!(p.store.store(), |c| sqlx::query_scalar(
        "SELECT count(*) FROM staff_invites"
    )
    .fetch_one(c)
    .await)
    .unwrap();
    assert_eq!(invites, 12);
}

/// Builds some history incrementally, then starts a rebuild and interrupts it after its first
/// chunk; returns the incrementally built read models.
async fn interrupt_a_rebuild(p: &Projected) -> Vec<String> {
    all::register_all(&p.store).await.unwrap();
    let shutdown = CancellationToken::new();
    let mut projectors = start_all(p, &shutdown);
    let last = some_history(p, 0).await;
    wait_all(p, last).await;
    shutdown.cancel();
    while projectors.join_next().await.is_some() {}
    let incremental = snapshot(&p.store).await;

    // Interrupted as soon as the first chunk is written.
    let stop = CancellationToken::new();
    let outcome = rebuild::rebuild(&p.log, &p.store, &ALL, &stop, |step| {
        if matches!(step, Progress::Streams { .. }) {
            stop.cancel();
        }
    })
    .await
    .unwrap();
    assert!(matches!(outcome, RebuildOutcome::Interrupted { .. }), "{outcome:?}");
    assert_eq!(generation(&p.store, "portal").await, Generation(1), "nothing switched");
    assert_eq!(
        snapshot(&p.store).await,
        incremental,
        "the live generation kept serving"
    );
    incremental
}

async fn resume_and_compare(p: &Projected, incremental: &[String]) {
    let outcome = rebuild::rebuild(&p.log, &p.store, &ALL, &CancellationToken::new(), |_| {})
        .await
        .unwrap();
    let RebuildOutcome::Done(report) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(report.resumed);
    assert_eq!(report.switched[0], ("portal", Generation(1), Generation(2)));
    assert_eq!(snapshot(&p.store).await, incremental);
}

async fn an_interrupted_rebuild_resumes_where_it_stopped(db: TestDatabase) {
    let p = Projected::new(db).await;
    let incremental = interrupt_a_rebuild(&p).await;
    resume_and_compare(&p, &incremental).await;
}

/// The audit tables' keys in generation 2 that exist, among `names`.
async fn keys_of_generation_2(p: &Projected, names: &[&str]) -> i64 {
    let list = names
        .iter()
        .map(|n| format!("'{n}__g2_key'"))
        .collect::<Vec<_>>()
        .join(", ");
    let query = match p.store.engine() {
        Engine::Sqlite => format!("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ({list})"),
        Engine::Postgres => format!("SELECT count(*) FROM pg_indexes WHERE indexname IN ({list})"),
    };
    lodge_store::on!(p.store.store(), |c| sqlx::query_scalar(sqlx::AssertSqlSafe(query))
        .fetch_one(c)
        .await)
    .unwrap()
}

const AUDIT_TABLES: [&str; 3] = ["audit_trail", "audit_contact_invites", "audit_document_invites"];

/// A rebuild an earlier Lodge began, when the trail kept ids and hashes as text, resumes with what
/// it had loaded converted.
async fn a_rebuild_an_earlier_lodge_began_resumes_with_its_trail_converted(db: TestDatabase) {
    let p = Projected::new(db).await;
    let incremental = interrupt_a_rebuild(&p).await;
    leave_trail_as(&p.store, 2, false, EarlierTrail::WithTextMaps).await;
    resume_and_compare(&p, &incremental).await;
    assert_eq!(
        keys_of_generation_2(&p, &AUDIT_TABLES).await,
        3,
        "the entries and both maps have their keys"
    );
    assert_eq!(
        keys_of_generation_2(&p, &["audit_entries", "audit_contacts", "audit_documents"]).await,
        0,
        "the earlier tables are gone"
    );
}

/// Resumed past its index phase, a rebuild builds no indexes again: the trail it converts and the
/// maps it gains get their keys as they are added.
async fn a_rebuild_catching_up_with_an_earlier_trail_resumes_with_it_converted_and_keyed(db: TestDatabase) {
    let p = Projected::new(db).await;
    interrupt_a_rebuild(&p).await;
    // Appended after the rebuild began: its catch-up phase has them to follow.
    some_history(&p, 3).await;
    let stop = CancellationToken::new();
    let outcome = rebuild::rebuild(&p.log, &p.store, &ALL, &stop, |step| {
        if matches!(step, Progress::CatchingUp { .. }) {
            stop.cancel();
        }
    })
    .await
    .unwrap();
    assert!(matches!(outcome, RebuildOutcome::Interrupted { .. }), "{outcome:?}");
    leave_trail_as(&p.store, 2, false, EarlierTrail::KeyedByPositionWithoutMaps).await;

    let outcome = rebuild::rebuild(&p.log, &p.store, &ALL, &CancellationToken::new(), |_| {})
        .await
        .unwrap();
    assert!(matches!(outcome, RebuildOutcome::Done(_)), "{outcome:?}");
    assert_eq!(
        keys_of_generation_2(&p, &AUDIT_TABLES).await,
        3,
        "the converted trail and the maps it gains have their keys"
    );
    let (mapped, named): (i64, i64) = lodge_store::on!(p.store.store(), |c| sqlx::query_as(
        "SELECT (SELECT count(*) FROM audit_contact_invites__g2),
                (SELECT count(*) FROM (SELECT DISTINCT contact_id, invite_id FROM audit_trail__g2
                                       WHERE contact_id IS NOT NULL) AS pairs)",
    )
    .fetch_one(c)
    .await)
    .unwrap();
    assert!(mapped > 0);
    assert_eq!(mapped, named, "each contact once per invite it has entries in");
}
