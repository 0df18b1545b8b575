//! Staff views, built by their projector from commands decided through the real command path, on
//! both engines.

use std::time::Duration;

use crate::support::*;
use chrono::Days;
use lodge_domain::invite::{CancelInvite, InviteCommand, InviteDecider, PortalAccess, RecordPortalAccess, SendInvite};
use lodge_domain::testing::*;
use lodge_domain::{Actor, InviteId};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Metadata, StreamId, command};
use lodge_projections::portal::InviteStatus;
use lodge_projections::staff::{self, InviteQuery, InviteSummary, StaffProjection};

/// Another invite like the sample one, with its own id, title, contacts' emails and portal links.
fn another(n: u8, title: &str, emails: [&str; 2]) -> SendInvite {
    let mut send = send_invite();
    send.invite_id = InviteId::from_uuid(uuid(0x1000 + n as u128));
    send.title = title.into();
    for (i, contact) in send.contacts.iter_mut().enumerate() {
        contact.email = Some(emails[i].into());
        contact.portal_link = token(0x20 * n + i as u8);
    }
    send
}

async fn send(p: &Projected, invite: SendInvite) {
    let stream = StreamId::invite(invite.invite_id);
    command::execute::<InviteDecider>(
        &p.log,
        &stream,
        &InviteCommand::SendInvite(invite),
        &Metadata::new(Actor::from(&staff())),
    )
    .await
    .unwrap();
}

fn everything() -> InviteQuery {
    InviteQuery {
        status: None,
        overdue: false,
        today: today(),
        contact: None,
        text: None,
        limit: 50,
        offset: 0,
    }
}

fn titles(list: &[InviteSummary]) -> Vec<&str> {
    list.iter().map(|i| i.title.as_str()).collect()
}

lodge_eventlog::test_on_both_engines!(
    invites_are_listed_newest_first_and_filtered,
    one_invite_shows_every_contacts_progress,
    the_review_queue_holds_what_waits_oldest_first_and_fills_in_place,
    completed_invites_count_for_their_month_and_fill_in_from_the_trail,
);

async fn invites_are_listed_newest_first_and_filtered(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.run(StaffProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    let mut mortgage = another(1, "Mortgage documents", ["cara@example.com", "dan@example.com"]);
    mortgage.due_on = Some(today() + Days::new(30));
    send(&p, mortgage).await;
    let mut payroll = another(2, "Payroll 50% review", ["erin@example.com", "fay@example.com"]);
    payroll.due_on = None;
    send(&p, payroll).await;
    command::execute::<InviteDecider>(
        &p.log,
        &StreamId::invite(InviteId::from_uuid(uuid(0x1002))),
        &InviteCommand::CancelInvite(CancelInvite {
            reason: None,
            by: staff(),
        }),
        &Metadata::new(Actor::from(&staff())),
    )
    .await
    .unwrap();

    let all = eventually("three invites", || async {
        let all = staff::list(&p.store, &everything()).await.unwrap();
        (all.len() == 3 && all[0].status == InviteStatus::Cancelled).then_some(all)
    })
    .await;
    assert_eq!(
        titles(&all),
        ["Payroll 50% review", "Mortgage documents", "Tax return 2026"]
    );
    let tax = &all[2];
    assert_eq!(
        (tax.progress.done, tax.progress.total),
        (0, 5),
        "3 requests for Ana, 2 for Ben"
    );
    assert_eq!(tax.contacts, ["Ana Alves", "Ben Brown"]);
    assert_eq!(tax.sender, "Sam Staff");

    let query = |change: fn(&mut InviteQuery)| {
        let mut query = everything();
        change(&mut query);
        query
    };
    let listed = |query: InviteQuery| {
        let store = p.store.clone();
        async move { staff::list(&store, &query).await.unwrap() }
    };
    assert_eq!(
        titles(&listed(query(|q| q.status = Some(InviteStatus::Cancelled))).await),
        ["Payroll 50% review"]
    );
    assert_eq!(
        titles(&listed(query(|q| q.status = Some(InviteStatus::Open))).await),
        ["Mortgage documents", "Tax return 2026"]
    );
    // Three weeks on, the tax return (due in two) is overdue; the mortgage (due in four) is not.
    assert_eq!(
        titles(
            &listed(query(|q| {
                q.overdue = true;
                q.today = today() + Days::new(21);
            }))
            .await
        ),
        ["Tax return 2026"]
    );
    assert!(
        listed(query(|q| q.overdue = true)).await.is_empty(),
        "nothing is overdue today"
    );
    assert_eq!(
        titles(&listed(query(|q| q.contact = Some("DAN@example".into()))).await),
        ["Mortgage documents"]
    );
    assert_eq!(
        titles(&listed(query(|q| q.text = Some("mortgage".into()))).await),
        ["Mortgage documents"]
    );
    assert_eq!(
        titles(&listed(query(|q| q.text = Some("50%".into()))).await),
        ["Payroll 50% review"],
        "% is text, not a wildcard"
    );
    assert!(listed(query(|q| q.text = Some("_".into()))).await.is_empty());
    assert_eq!(
        titles(
            &listed(query(|q| {
                q.limit = 1;
                q.offset = 1;
            }))
            .await
        ),
        ["Mortgage documents"]
    );
}

async fn one_invite_shows_every_contacts_progress(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.run(StaffProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    p.execute(upload(1, PAYSLIPS, ANA)).await;
    p.execute(accept(1)).await;
    p.execute(submit(BEN, answers("1"))).await;
    let opened = p
        .execute(InviteCommand::RecordPortalAccess(RecordPortalAccess {
            contact_id: BEN,
            access: PortalAccess::Opened,
            ip: None,
            user_agent: None,
        }))
        .await;

    // Read-your-writes: wait until the projector has applied the last command's events.
    let reached = p
        .store
        .wait_for(&p.log, "staff", opened.position.unwrap(), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(reached);
    let view = staff::invite(&p.store, INVITE).await.unwrap().unwrap();
    assert_eq!((view.progress.done, view.progress.total), (2, 5));
    let ana = &view.contacts[0];
    assert_eq!(
        (ana.name.as_str(), ana.progress.done, ana.progress.total),
        ("Ana Alves", 1, 3)
    );
    assert_eq!(ana.last_opened_at, None);
    let ben = &view.contacts[1];
    assert_eq!((ben.progress.done, ben.progress.total), (1, 2));
    assert!(ben.last_opened_at.is_some());
    assert_eq!(ana.requests[0].documents.len(), 1);
    assert!(
        staff::invite(&p.store, InviteId::from_uuid(uuid(0x9999)))
            .await
            .unwrap()
            .is_none()
    );
}

async fn the_review_queue_holds_what_waits_oldest_first_and_fills_in_place(db: TestDatabase) {
    let p = Projected::new(db).await;
    let projector = p.run(StaffProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    p.execute(upload(1, PAYSLIPS, ANA)).await;
    p.execute(upload(2, PASSPORT, ANA)).await;
    p.execute(upload(3, PAYSLIPS, BEN)).await;
    let last = p.execute(accept(2)).await;
    let reached = p
        .store
        .wait_for(&p.log, "staff", last.position.unwrap(), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(reached);
    let queue = staff::waiting(&p.store, 50).await.unwrap();
    let seen: Vec<_> = queue
        .iter()
        .map(|w| {
            (
                w.document.id.as_uuid().as_u128(),
                w.contact.as_str(),
                w.request.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [(1, "Ana Alves", "Payslips"), (3, "Ben Brown", "Payslips")],
        "what waits, oldest first; the accepted one left"
    );
    assert_eq!(queue[0].invite_title, "Tax return 2026");
    assert_eq!(staff::waiting_count(&p.store).await.unwrap(), 2);

    // A database made before the queue existed: its table is filled from the staff views in place.
    projector.abort();
    let _ = projector.await;
    let mut connection = p.store.store().detached().await.unwrap();
    for sql in ["DROP VIEW staff_review", "DROP TABLE staff_review__g1"] {
        lodge_store::execute_sql(&mut connection, sql).await.unwrap();
    }
    drop(connection);
    p.store.register::<StaffProjection>().await.unwrap();
    assert_eq!(staff::waiting(&p.store, 50).await.unwrap(), queue);
}

async fn completed_invites_count_for_their_month_and_fill_in_from_the_trail(db: TestDatabase) {
    let p = Projected::new(db).await;
    let staff_projector = p.run(StaffProjection).await;
    let audit_projector = p.run(lodge_projections::audit::AuditProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    send(
        &p,
        another(1, "Mortgage documents", ["cara@example.com", "dan@example.com"]),
    )
    .await;
    let completed = p
        .execute(InviteCommand::CompleteInvite(lodge_domain::invite::CompleteInvite {
            by: staff(),
        }))
        .await;
    let position = completed.position.unwrap();
    for projector in ["staff", "audit"] {
        assert!(
            p.store
                .wait_for(&p.log, projector, position, Duration::from_secs(10))
                .await
                .unwrap()
        );
    }
    let now = chrono::Utc::now();
    let counts = |month_start| {
        let store = p.store.clone();
        async move { staff::counts(&store, today(), month_start).await.unwrap() }
    };
    let this_month = counts(now - chrono::Duration::days(1)).await;
    assert_eq!((this_month.completed, this_month.completed_this_month), (1, 1));
    let next_month = counts(now + chrono::Duration::minutes(1)).await;
    assert_eq!(
        (next_month.completed, next_month.completed_this_month),
        (1, 0),
        "completed before the month began"
    );

    // A database made before the table existed: filled from the audit trail's completions.
    staff_projector.abort();
    audit_projector.abort();
    let _ = (staff_projector.await, audit_projector.await);
    let mut connection = p.store.store().detached().await.unwrap();
    for sql in ["DROP VIEW staff_completions", "DROP TABLE staff_completions__g1"] {
        lodge_store::execute_sql(&mut connection, sql).await.unwrap();
    }
    drop(connection);
    p.store.register::<StaffProjection>().await.unwrap();
    assert_eq!(counts(now - chrono::Duration::days(1)).await.completed_this_month, 1);
    assert_eq!(counts(now + chrono::Duration::minutes(1)).await.completed_this_month, 0);
}
