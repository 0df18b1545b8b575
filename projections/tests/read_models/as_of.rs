//! History as of any time, from the log alone, on both engines.

use crate::support::*;
use chrono::TimeDelta;
use lodge_domain::invite::InviteCommand;
use lodge_domain::testing::*;
use lodge_domain::{Actor, DocumentId, InviteId};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Engine, StreamId};
use lodge_projections::as_of::{self, AsOfError, Custodial};
use lodge_projections::portal::RequestStatus;

/// The time of the invite's event at `version`.
async fn time_of(p: &Projected, version: usize) -> chrono::DateTime<chrono::Utc> {
    p.log.read_stream(&StreamId::invite(INVITE)).await.unwrap()[version - 1].recorded_at
}

async fn a_document_reviewed_twice(p: &Projected) {
    p.execute(InviteCommand::SendInvite(send_invite())).await; // 1
    p.execute(upload(1, PAYSLIPS, ANA)).await; // 2
    p.execute(reject(1, "The second page is missing")).await; // 3
    p.execute(upload(2, PAYSLIPS, ANA)).await; // 4
    p.execute(accept(2)).await; // 5
}

lodge_eventlog::test_on_both_engines!(
    an_invite_is_shown_as_it_stood_at_a_moment,
    a_documents_chain_of_custody_says_who_did_what_when_with_hashes,
    unknown_invites_and_moments_before_they_existed_are_said_plainly,
    the_hash_chain_check_reports_an_edited_event,
);

async fn an_invite_is_shown_as_it_stood_at_a_moment(db: TestDatabase) {
    let p = Projected::new(db).await;
    a_document_reviewed_twice(&p).await;

    let after_first_upload = as_of::invite(&p.log, INVITE, Some(time_of(&p, 2).await)).await.unwrap();
    assert_eq!(after_first_upload.events, 2);
    let payslips = &after_first_upload.invite.contacts[0].requests[0];
    assert_eq!(payslips.status, RequestStatus::WaitingForReview);
    assert_eq!(payslips.documents.len(), 1);

    let after_rejection = as_of::invite(&p.log, INVITE, Some(time_of(&p, 3).await)).await.unwrap();
    let payslips = &after_rejection.invite.contacts[0].requests[0];
    assert_eq!(payslips.status, RequestStatus::Rejected);
    assert_eq!(payslips.reason.as_deref(), Some("The second page is missing"));

    let now = as_of::invite(&p.log, INVITE, None).await.unwrap();
    assert_eq!(now.events, 5);
    assert_eq!(now.invite.contacts[0].requests[0].status, RequestStatus::Accepted);
    assert!(now.chain.intact);
    assert_eq!(now.chain.events, 5);
}

async fn a_documents_chain_of_custody_says_who_did_what_when_with_hashes(db: TestDatabase) {
    let p = Projected::new(db).await;
    a_document_reviewed_twice(&p).await;
    let first = DocumentId::from_uuid(uuid(1));

    let custody = as_of::custody(&p.log, INVITE, first, None).await.unwrap();
    let steps: Vec<Custodial> = custody.steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, [Custodial::Uploaded, Custodial::Rejected, Custodial::ReplacedBy]);
    assert_eq!(custody.request_id, Some(PAYSLIPS));
    assert_eq!(custody.contact_id, Some(ANA));
    assert_eq!(custody.steps[0].sha256.as_deref(), Some("ab".repeat(32).as_str()));
    assert!(matches!(&custody.steps[1].actor, Actor::Staff { name, .. } if name == "Sam Staff"));
    assert_eq!(custody.steps[1].detail.as_deref(), Some("The second page is missing"));
    assert_eq!(custody.steps[2].document_id, DocumentId::from_uuid(uuid(2)));
    assert!(custody.steps.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(custody.chain.intact);

    let before_review = as_of::custody(&p.log, INVITE, first, Some(time_of(&p, 2).await))
        .await
        .unwrap();
    assert_eq!(before_review.steps.len(), 1, "only the upload had happened");

    let second = as_of::custody(&p.log, INVITE, DocumentId::from_uuid(uuid(2)), None)
        .await
        .unwrap();
    let steps: Vec<Custodial> = second.steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, [Custodial::Uploaded, Custodial::Accepted]);
}

async fn unknown_invites_and_moments_before_they_existed_are_said_plainly(db: TestDatabase) {
    let p = Projected::new(db).await;
    a_document_reviewed_twice(&p).await;
    let sent_at = time_of(&p, 1).await;

    let stranger = InviteId::from_uuid(uuid(0x9999));
    let unknown = as_of::invite(&p.log, stranger, None).await.unwrap_err();
    assert!(matches!(unknown, AsOfError::UnknownInvite(id) if id == stranger));
    assert_eq!(unknown.to_string(), format!("there is no invite {stranger}"));

    let too_early = as_of::invite(&p.log, INVITE, Some(sent_at - TimeDelta::seconds(1)))
        .await
        .unwrap_err();
    assert!(too_early.to_string().contains("did not exist yet"), "{too_early}");
    assert!(too_early.to_string().contains(&sent_at.to_string()), "{too_early}");

    let no_document = as_of::custody(&p.log, INVITE, DocumentId::from_uuid(uuid(77)), None)
        .await
        .unwrap_err();
    assert!(matches!(no_document, AsOfError::UnknownDocument { .. }));
    let not_yet = as_of::custody(
        &p.log,
        INVITE,
        DocumentId::from_uuid(uuid(2)),
        Some(time_of(&p, 3).await),
    )
    .await
    .unwrap_err();
    assert!(matches!(not_yet, AsOfError::UnknownDocument { .. }), "uploaded later");
}

async fn the_hash_chain_check_reports_an_edited_event(db: TestDatabase) {
    use sqlx::{Connection, Executor};
    let p = Projected::new(db).await;
    a_document_reviewed_twice(&p).await;
    let forged = "UPDATE lodge_events SET data = replace(data, 'second page', 'third page') WHERE stream_version = 3";
    match p.db.engine() {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(p.db.url()).await.unwrap();
            conn.execute("DROP TRIGGER lodge_events_no_update").await.unwrap();
            conn.execute(forged).await.unwrap();
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(p.db.url()).await.unwrap();
            conn.execute("ALTER TABLE lodge_events DISABLE TRIGGER lodge_events_no_update_or_delete")
                .await
                .unwrap();
            conn.execute(
                "UPDATE lodge_events SET data = replace(data::text, 'second page', 'third page')::json
                 WHERE stream_version = 3",
            )
            .await
            .unwrap();
        }
    }
    let report = as_of::invite(&p.log, INVITE, None).await.unwrap();
    assert!(!report.chain.intact);
    assert!(
        report.chain.broken.as_deref().unwrap().contains("version 3"),
        "{:?}",
        report.chain
    );
    assert_eq!(
        report.invite.contacts[0].requests[0].documents[0].reason.as_deref(),
        Some("The third page is missing"),
        "the state shown is what the log now says; the check is what says it was changed"
    );
}
