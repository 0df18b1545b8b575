//! The portal view, built by the running projector from commands decided through the real command
//! path, on both engines.

use crate::support::*;
use chrono::Days;
use lodge_domain::invite::{InviteCommand, MessageFrom, ReissuePortalLink};
use lodge_domain::request::Answer;
use lodge_domain::testing::*;
use lodge_eventlog::testing::TestDatabase;
use lodge_projections::portal::{
    self, DocumentStatus, InviteStatus, MessageFrom as From, PortalProjection, PortalView, RequestKind, RequestStatus,
};
use lodge_projections::{ProjectionError, ReadStore};

async fn view_when(
    store: &ReadStore,
    contact: lodge_domain::ContactId,
    what: &str,
    ready: impl Fn(&PortalView) -> bool,
) -> PortalView {
    eventually(what, || async {
        portal::portal_view(store, INVITE, contact)
            .await
            .unwrap()
            .filter(|view| ready(view))
    })
    .await
}

lodge_eventlog::test_on_both_engines!(
    a_sent_invite_appears_on_each_contacts_portal,
    uploads_reviews_forms_and_messages_reach_the_right_portal,
    a_reissued_link_opens_the_portal_and_the_old_one_no_longer_does,
    days_until_due_are_counted_when_the_view_is_read,
);

async fn a_sent_invite_appears_on_each_contacts_portal(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.run(PortalProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;

    let ana = view_when(&p.store, ANA, "Ana's portal", |_| true).await;
    assert_eq!(ana.invite.title, "Tax return 2026");
    assert_eq!(ana.invite.status, InviteStatus::Open);
    assert_eq!(ana.contact.name, "Ana Alves");
    assert_eq!(ana.sender.email, "sam@firm.example");
    assert_eq!(ana.sender.phone.as_deref(), Some("+61299990000"));
    let titles: Vec<&str> = ana.requests.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles, ["Payslips", "Passport", "Your details"]);
    assert!(ana.requests.iter().all(|r| r.status == RequestStatus::Open));
    assert_eq!((ana.totals.total, ana.totals.done, ana.totals.outstanding), (3, 0, 3));
    assert_eq!(ana.requests[0].kind, RequestKind::File);
    assert_eq!(ana.requests[0].max_files, Some(2));
    assert_eq!(ana.requests[2].kind, RequestKind::Form);
    assert_eq!(ana.requests[2].fields.len(), 5);

    let ben = view_when(&p.store, BEN, "Ben's portal", |_| true).await;
    assert_eq!(ben.requests.len(), 2, "the passport is asked of Ana alone");

    assert_eq!(
        portal::portal_link(&p.store, token(1).as_str()).await.unwrap(),
        Some((INVITE, ANA))
    );
    assert_eq!(
        portal::portal_link(&p.store, token(2).as_str()).await.unwrap(),
        Some((INVITE, BEN))
    );
    assert_eq!(portal::portal_link(&p.store, token(9).as_str()).await.unwrap(), None);
}

async fn uploads_reviews_forms_and_messages_reach_the_right_portal(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.run(PortalProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    p.execute(upload(1, PAYSLIPS, ANA)).await;

    let ana = view_when(&p.store, ANA, "the upload", |v| v.requests[0].documents.len() == 1).await;
    let payslips = &ana.requests[0];
    assert_eq!(payslips.status, RequestStatus::WaitingForReview);
    let document = &payslips.documents[0];
    assert_eq!(document.file_name, "file-1.pdf");
    assert_eq!(document.size, 12_345);
    assert_eq!(document.sha256, "ab".repeat(32));
    assert_eq!(document.status, DocumentStatus::WaitingForReview);
    assert!(document.uploaded_at > chrono::Utc::now() - chrono::TimeDelta::minutes(1));

    p.execute(reject(1, "The second page is missing")).await;
    let ana = view_when(&p.store, ANA, "the rejection", |v| {
        v.requests[0].status == RequestStatus::Rejected
    })
    .await;
    assert_eq!(ana.requests[0].reason.as_deref(), Some("The second page is missing"));
    assert_eq!(ana.requests[0].documents[0].status, DocumentStatus::Rejected);

    p.execute(upload(2, PAYSLIPS, ANA)).await;
    p.execute(accept(2)).await;
    let mut answers = answers("123 456 789");
    answers.insert("status".into(), Answer::Choice("married".into()));
    p.execute(submit(ANA, answers)).await;
    p.execute(message(
        10,
        ANA,
        MessageFrom::Staff(staff()),
        "Thanks, that one is fine.",
    ))
    .await;
    p.execute(message(11, ANA, MessageFrom::Contact, "Great, the passport follows."))
        .await;
    p.execute(message(12, BEN, MessageFrom::Staff(staff()), "Hi Ben")).await;

    let ana = view_when(&p.store, ANA, "the whole exchange", |v| v.messages.len() == 2).await;
    assert_eq!(ana.requests[0].status, RequestStatus::Accepted);
    assert_eq!(ana.requests[0].documents.len(), 2);
    assert_eq!(ana.requests[2].status, RequestStatus::FormSubmitted);
    assert_eq!(
        ana.requests[2].answers.as_ref().unwrap()["tax_number"],
        Answer::Text("123 456 789".into())
    );
    assert_eq!((ana.totals.done, ana.totals.outstanding), (2, 1));
    let thread: Vec<(From, &str, &str)> = ana
        .messages
        .iter()
        .map(|m| (m.from, m.author.as_str(), m.body.as_str()))
        .collect();
    assert_eq!(
        thread,
        [
            (From::Staff, "Sam Staff", "Thanks, that one is fine."),
            (From::Contact, "Ana Alves", "Great, the passport follows.")
        ]
    );
    assert!(ana.messages[0].at <= ana.messages[1].at);

    let ben = view_when(&p.store, BEN, "Ben's message", |v| v.messages.len() == 1).await;
    assert_eq!(ben.messages[0].body, "Hi Ben");
    assert!(
        ben.requests[0].documents.is_empty(),
        "Ana's files are not on Ben's portal"
    );
}

async fn a_reissued_link_opens_the_portal_and_the_old_one_no_longer_does(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.run(PortalProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    p.execute(InviteCommand::ReissuePortalLink(ReissuePortalLink {
        contact_id: ANA,
        portal_link: token(7),
        by: staff(),
    }))
    .await;
    eventually("the new link", || async {
        portal::portal_link(&p.store, token(7).as_str()).await.unwrap()
    })
    .await;
    assert_eq!(portal::portal_link(&p.store, token(1).as_str()).await.unwrap(), None);
    assert_eq!(
        portal::portal_link(&p.store, token(2).as_str()).await.unwrap(),
        Some((INVITE, BEN)),
        "Ben's link is untouched"
    );
}

async fn days_until_due_are_counted_when_the_view_is_read(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.run(PortalProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    let view = view_when(&p.store, ANA, "Ana's portal", |_| true).await;
    let due = today() + Days::new(14);
    assert_eq!(view.invite.due_on, Some(due));
    assert_eq!(view.days_until_due(today()), Some(14));
    assert_eq!(view.days_until_due(due), Some(0));
    assert_eq!(view.days_until_due(due + Days::new(3)), Some(-3), "overdue");
}

#[test]
fn a_store_url_it_cannot_use_is_refused() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let refused = runtime.block_on(ReadStore::connect("mysql://localhost/lodge"));
    assert!(matches!(refused, Err(ProjectionError::UnsupportedUrl(_))));
}
