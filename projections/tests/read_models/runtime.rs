//! The projector runtime: rows and checkpoint in one transaction, resuming, and stopping on an
//! event a projector cannot handle, on both engines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::*;
use lodge_domain::invite::{InviteCommand, InviteDecider, InviteEvent, MessageFrom};
use lodge_domain::testing::*;
use lodge_domain::{Actor, InviteId};
use lodge_eventlog::command;
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Engine, ExpectedVersion, Metadata, NewEvent, Position, StreamId};
use lodge_projections::portal::{self, PortalProjection};
use lodge_projections::{Column, Generation, InviteHistory, Load, Projection, ProjectionError, Table, Touched};

/// Counts its writes: one row per (invite, applied batch). Can fail once, like a connection lost
/// on the way to the database; refuses invites whose title starts with "Poison", and cannot write
/// those whose title starts with "Broken".
struct Tally {
    fail_once: Arc<AtomicBool>,
}

#[derive(serde::Serialize)]
struct TallyRow {
    invite_id: Option<String>,
    events: i64,
}

impl Projection for Tally {
    const NAME: &'static str = "tally";
    const TABLES: &'static [Table] = &[Table {
        name: "tally_writes",
        columns: &[
            Column::text("invite_id").not_null(),
            Column::big_int("events").not_null(),
        ],
        key: None,
        indexes: &["invite_id"],
        backfill: None,
        replaces: None,
    }];

    fn writes(
        &self,
        engine: Engine,
        generation: Generation,
        touched: &[Touched],
    ) -> Result<Vec<Load>, ProjectionError> {
        let mut rows = Vec::new();
        for Touched { history, .. } in touched {
            let title = match history.events.first().map(|e| &e.event) {
                Some(InviteEvent::InviteSent(sent)) => sent.title.as_str(),
                _ => "",
            };
            if title.starts_with("Poison") {
                return Err(ProjectionError::Unhandled {
                    position: history.events[0].position,
                    reason: "a poisoned invite".into(),
                });
            }
            // A "Broken" invite makes a write the table refuses for good (NULL in a NOT NULL column).
            rows.push(TallyRow {
                invite_id: (!title.starts_with("Broken")).then(|| history.invite_id.to_string()),
                events: history.events.len() as i64,
            });
        }
        if self.fail_once.swap(false, Ordering::SeqCst) {
            let lost = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "the connection was lost");
            return Err(ProjectionError::Store(sqlx::Error::Io(lost)));
        }
        Ok(vec![Load::upsert(
            engine,
            generation.table("tally_writes"),
            &["invite_id", "events"],
            "",
            &rows,
        )?])
    }

    /// These tests never rebuild a tally.
    fn loads(&self, _: Engine, _: Generation, _: &[InviteHistory]) -> Result<Vec<Load>, ProjectionError> {
        Err(ProjectionError::Malformed("a tally is not rebuilt".into()))
    }
}

async fn tally_rows(p: &Projected) -> Vec<(String, i64)> {
    lodge_store::on!(p.store.store(), |c| sqlx::query_as(
        "SELECT invite_id, events FROM tally_writes ORDER BY events"
    )
    .fetch_all(c)
    .await)
    .unwrap()
}

async fn position_of_last_event(p: &Projected, invite: InviteId) -> Position {
    p.log
        .read_stream(&StreamId::invite(invite))
        .await
        .unwrap()
        .last()
        .unwrap()
        .position
}

lodge_eventlog::test_on_both_engines!(
    rows_and_checkpoint_commit_together_or_not_at_all,
    a_projector_resumes_from_its_checkpoint,
    an_event_a_projector_cannot_read_stops_it_and_says_where,
    one_stopped_projector_does_not_stop_the_others,
    a_read_can_wait_until_the_projector_has_applied_a_write,
    a_write_the_store_refuses_for_good_stops_the_projector_at_its_invite,
);

async fn rows_and_checkpoint_commit_together_or_not_at_all(db: TestDatabase) {
    let p = Projected::new(db).await;
    let fail_once = Arc::new(AtomicBool::new(true));
    p.run(Tally {
        fail_once: fail_once.clone(),
    })
    .await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    let expected = position_of_last_event(&p, INVITE).await;
    eventually("the checkpoint", || async {
        let status = p.store.status("tally").await.unwrap()?;
        (status.position == expected).then_some(())
    })
    .await;
    assert!(!fail_once.load(Ordering::SeqCst), "the first attempt failed");
    assert_eq!(
        tally_rows(&p).await,
        [(INVITE.to_string(), 1)],
        "the batch was written once, by the attempt that moved the checkpoint"
    );
}

async fn a_projector_resumes_from_its_checkpoint(db: TestDatabase) {
    let p = Projected::new(db).await;
    let running = p.run(PortalProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    let sent_at = position_of_last_event(&p, INVITE).await;
    eventually("the first view", || async {
        portal::portal_view(&p.store, INVITE, ANA).await.unwrap()
    })
    .await;
    p.shutdown.cancel();
    running.await.unwrap().unwrap();
    let status = p.store.status("portal").await.unwrap().unwrap();
    assert_eq!(status.position, sent_at);
    assert_eq!(status.failure, None);

    // While it is down, the invite moves on; started again, it catches up.
    p.execute(message(1, ANA, MessageFrom::Contact, "Hello?")).await;
    let restarted = Projected {
        shutdown: tokio_util::sync::CancellationToken::new(),
        recent: Default::default(),
        ..p
    };
    restarted.run(PortalProjection).await;
    let view = eventually("the caught-up view", || async {
        portal::portal_view(&restarted.store, INVITE, ANA)
            .await
            .unwrap()
            .filter(|v| v.messages.len() == 1)
    })
    .await;
    assert_eq!(view.messages[0].body, "Hello?");
    let last = position_of_last_event(&restarted, INVITE).await;
    eventually("the checkpoint", || async {
        let status = restarted.store.status("portal").await.unwrap()?;
        (status.position == last).then_some(())
    })
    .await;
}

async fn an_event_a_projector_cannot_read_stops_it_and_says_where(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    let shredded = p
        .log
        .append(
            &StreamId::invite(INVITE),
            ExpectedVersion::Exact(1),
            &[NewEvent {
                event_type: "InviteShredded".into(),
                schema_version: 1,
                data: "{}".into(),
            }],
            &Metadata::new(Actor::System),
        )
        .await
        .unwrap();

    let stopped = p.run(PortalProjection).await.await.unwrap();
    match stopped {
        Err(ProjectionError::Stopped {
            projector,
            position,
            reason,
        }) => {
            assert_eq!(projector, "portal");
            assert_eq!(position, shredded.last_position);
            assert!(reason.contains("InviteShredded"), "{reason}");
        }
        other => panic!("expected the projector to stop, got {other:?}"),
    }
    let status = p.store.status("portal").await.unwrap().unwrap();
    let (position, reason) = status.failure.expect("the failure is recorded for operators");
    assert_eq!(position, shredded.last_position);
    assert!(reason.contains("unknown event type `InviteShredded`"), "{reason}");
    assert_eq!(status.position, Position::START, "nothing of the batch was applied");

    // Restarted, it tries again rather than skipping, and stops again.
    assert!(matches!(
        p.run(PortalProjection).await.await.unwrap(),
        Err(ProjectionError::Stopped { .. })
    ));
}

async fn one_stopped_projector_does_not_stop_the_others(db: TestDatabase) {
    let p = Projected::new(db).await;
    let tally = p
        .run(Tally {
            fail_once: Arc::new(AtomicBool::new(false)),
        })
        .await;
    let portal_running = p.run(PortalProjection).await;

    let poisoned = InviteId::from_uuid(uuid(0x1001));
    let mut poison = send_invite();
    poison.invite_id = poisoned;
    poison.title = "Poison pill".into();
    for (n, contact) in poison.contacts.iter_mut().enumerate() {
        contact.portal_link = token(0x50 + n as u8);
    }
    let sent = command::execute::<InviteDecider>(
        &p.log,
        &StreamId::invite(poisoned),
        &InviteCommand::SendInvite(poison),
        &Metadata::new(Actor::from(&staff())),
    )
    .await
    .unwrap();
    p.execute(InviteCommand::SendInvite(send_invite())).await;

    match tally.await.unwrap() {
        Err(ProjectionError::Stopped { position, .. }) => assert_eq!(Some(position), sent.position),
        other => panic!("expected tally to stop, got {other:?}"),
    }
    // The portal projector carries on with both invites.
    assert!(!portal_running.is_finished());
    eventually("both portals", || async {
        let poisoned_view = portal::portal_view(&p.store, poisoned, ANA).await.unwrap()?;
        let healthy_view = portal::portal_view(&p.store, INVITE, ANA).await.unwrap()?;
        Some((poisoned_view, healthy_view))
    })
    .await;
    assert!(p.store.status("portal").await.unwrap().unwrap().failure.is_none());
}

async fn a_read_can_wait_until_the_projector_has_applied_a_write(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.store.register::<PortalProjection>().await.unwrap();
    let sent = p
        .execute(InviteCommand::SendInvite(send_invite()))
        .await
        .position
        .unwrap();
    let short = std::time::Duration::from_millis(100);
    assert!(
        !p.store.wait_for(&p.log, "portal", sent, short).await.unwrap(),
        "no projector is running: the wait gives up"
    );
    p.run(PortalProjection).await;
    assert!(
        p.store
            .wait_for(&p.log, "portal", sent, std::time::Duration::from_secs(10))
            .await
            .unwrap()
    );
    assert!(
        portal::portal_view(&p.store, INVITE, ANA).await.unwrap().is_some(),
        "readable at once"
    );

    // A stopped projector is reported rather than waited for.
    let shredded = p
        .log
        .append(
            &StreamId::invite(INVITE),
            ExpectedVersion::Any,
            &[NewEvent {
                event_type: "InviteShredded".into(),
                schema_version: 1,
                data: "{}".into(),
            }],
            &Metadata::new(Actor::System),
        )
        .await
        .unwrap()
        .last_position;
    let waited = p
        .store
        .wait_for(&p.log, "portal", shredded, std::time::Duration::from_secs(10))
        .await;
    assert!(
        matches!(waited, Err(ProjectionError::Stopped { position, .. }) if position == shredded),
        "{waited:?}"
    );
}

async fn a_write_the_store_refuses_for_good_stops_the_projector_at_its_invite(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.store.register::<Tally>().await.unwrap();
    // Three invites, the second broken, appended before the projector starts: one batch.
    let mut positions = Vec::new();
    for (n, title) in [(1u8, "Fine"), (2, "Broken on purpose"), (3, "Also fine")] {
        let mut send = send_invite();
        send.invite_id = InviteId::from_uuid(uuid(0x1200 + n as u128));
        send.title = title.into();
        for (i, contact) in send.contacts.iter_mut().enumerate() {
            contact.portal_link = token(0x60 + 2 * n + i as u8);
        }
        let sent = command::execute::<InviteDecider>(
            &p.log,
            &StreamId::invite(send.invite_id),
            &InviteCommand::SendInvite(send),
            &Metadata::new(Actor::from(&staff())),
        )
        .await
        .unwrap();
        positions.push(sent.position.unwrap());
    }
    let stopped = p
        .run(Tally {
            fail_once: Arc::new(AtomicBool::new(false)),
        })
        .await
        .await
        .unwrap();
    match stopped {
        Err(ProjectionError::Stopped { position, reason, .. }) => {
            assert_eq!(position, positions[1], "the broken invite is named, not the batch");
            assert!(reason.contains("refused the write"), "{reason}");
        }
        other => panic!("expected the projector to stop, got {other:?}"),
    }
    assert!(tally_rows(&p).await.is_empty(), "nothing of the batch was kept");
    let status = p.store.status("tally").await.unwrap().unwrap();
    assert_eq!(status.position, Position::START, "nor was the checkpoint moved");
}
