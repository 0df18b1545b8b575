//! The audit trail, built by its projector from commands decided through the real command path, on
//! both engines.

mod support;

use futures_util::TryStreamExt;
use lodge_domain::invite::{InviteCommand, InviteDecider, PortalAccess, RecordPortalAccess};
use lodge_domain::testing::*;
use lodge_domain::{Actor, DocumentId};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Metadata, Source, StreamId, command};
use lodge_projections::ReadStore;
use lodge_projections::audit::{self, AuditEntry, AuditFilter, AuditProjection};
use support::*;

async fn entries(store: &ReadStore, filter: AuditFilter) -> Vec<AuditEntry> {
    audit::entries(store, &filter).try_collect().await.unwrap()
}

fn as_ana() -> Metadata {
    let mut metadata = Metadata::new(Actor::Contact {
        id: ANA,
        name: "Ana Alves".into(),
    });
    metadata.source = Some(Source {
        ip: Some("198.51.100.4".parse().unwrap()),
        user_agent: Some("Mozilla/5.0 (iPhone)".into()),
    });
    metadata
}

lodge_eventlog::test_on_both_engines!(
    every_event_has_one_entry_saying_who_what_when_and_where,
    entries_can_be_read_per_contact_and_per_document,
    a_trail_keyed_by_position_by_an_earlier_lodge_takes_new_entries,
    a_trail_built_before_its_maps_gains_them_from_its_entries,
);

async fn every_event_has_one_entry_saying_who_what_when_and_where(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.run(AuditProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    p.execute_as(upload(1, PAYSLIPS, ANA), as_ana()).await;
    p.execute(reject(1, "Blurry")).await;
    p.execute_as(upload(2, PAYSLIPS, ANA), as_ana()).await;
    p.execute(accept(2)).await;
    p.execute_as(
        InviteCommand::RecordPortalAccess(RecordPortalAccess {
            contact_id: ANA,
            access: PortalAccess::Opened,
            ip: Some("203.0.113.9".parse().unwrap()),
            user_agent: Some("Firefox".into()),
        }),
        Metadata::new(Actor::System),
    )
    .await;

    let log_events = p.log.read_stream(&StreamId::invite(INVITE)).await.unwrap();
    let all = eventually("every entry", || async {
        let all = entries(&p.store, AuditFilter::default()).await;
        (all.len() == log_events.len()).then_some(all)
    })
    .await;
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "invite_sent",
            "document_uploaded",
            "document_rejected",
            "document_uploaded",
            "document_accepted",
            "portal_opened"
        ]
    );
    for (entry, event) in all.iter().zip(&log_events) {
        assert_eq!(entry.position, event.position.0);
        assert_eq!(entry.at, event.recorded_at);
        assert_eq!(
            entry.event_hash,
            event.hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
    }
    let sent = &all[0];
    assert!(matches!(&sent.actor, Actor::Staff { name, .. } if name == "Sam Staff"));
    assert_eq!(
        sent.detail.as_deref(),
        Some("\"Tax return 2026\" to 2 contacts, 3 requests")
    );

    let uploaded = &all[1];
    assert!(matches!(&uploaded.actor, Actor::Contact { id, .. } if *id == ANA));
    assert_eq!(uploaded.sha256.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!(uploaded.request_id, Some(PAYSLIPS));
    assert_eq!(uploaded.ip.as_deref(), Some("198.51.100.4"));
    assert_eq!(uploaded.user_agent.as_deref(), Some("Mozilla/5.0 (iPhone)"));

    let rejected = &all[2];
    assert_eq!(rejected.detail.as_deref(), Some("Blurry"));
    assert_eq!(rejected.sha256, uploaded.sha256, "a review names the file it is about");
    assert_eq!(rejected.contact_id, Some(ANA));
    assert_eq!(rejected.ip, None, "staff reviewed from no recorded place");

    let opened = &all[5];
    assert_eq!(opened.actor, Actor::System);
    assert_eq!(opened.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(opened.user_agent.as_deref(), Some("Firefox"));
}

async fn entries_can_be_read_per_contact_and_per_document(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.run(AuditProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    p.execute_as(upload(1, PAYSLIPS, ANA), as_ana()).await;
    p.execute(upload(2, PAYSLIPS, BEN)).await;
    p.execute(accept(1)).await;
    eventually("four entries", || async {
        (entries(&p.store, AuditFilter::default()).await.len() == 4).then_some(())
    })
    .await;

    let document = DocumentId::from_uuid(uuid(1));
    let of_document = entries(
        &p.store,
        AuditFilter {
            document_id: Some(document),
            ..AuditFilter::default()
        },
    )
    .await;
    let actions: Vec<&str> = of_document.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["document_uploaded", "document_accepted"]);

    let of_ben = entries(
        &p.store,
        AuditFilter {
            contact_id: Some(BEN),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(of_ben.len(), 1);
    assert_eq!(of_ben[0].document_id, Some(DocumentId::from_uuid(uuid(2))));

    // A contact with entries in two invites has them all.
    let mut second = send_invite();
    second.invite_id = lodge_domain::InviteId::from_uuid(uuid(0x2222));
    for (i, contact) in second.contacts.iter_mut().enumerate() {
        contact.portal_link = token(0x60 + i as u8);
    }
    let second_stream = StreamId::invite(second.invite_id);
    for command in [InviteCommand::SendInvite(second), upload(5, PAYSLIPS, BEN)] {
        let metadata = Metadata::new(Actor::from(&staff()));
        command::execute::<InviteDecider>(&p.log, &second_stream, &command, &metadata)
            .await
            .unwrap();
    }
    let of_ben = eventually("Ben's entries in both invites", || async {
        let of_ben = entries(&p.store, of_contact(BEN)).await;
        (of_ben.len() == 2).then_some(of_ben)
    })
    .await;
    assert_eq!(of_ben[1].document_id, Some(DocumentId::from_uuid(uuid(5))));

    let of_invite = entries(
        &p.store,
        AuditFilter {
            invite_id: Some(INVITE),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(of_invite.len(), 4);
    let of_document_in_invite = entries(
        &p.store,
        AuditFilter {
            invite_id: Some(INVITE),
            document_id: Some(document),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(of_document_in_invite, of_document);
    let of_another = entries(
        &p.store,
        AuditFilter {
            invite_id: Some(lodge_domain::InviteId::from_uuid(uuid(0x9999))),
            ..AuditFilter::default()
        },
    )
    .await;
    assert!(of_another.is_empty());
}

/// Lodge keyed the trail by log position until its key became (invite, stream version); tables
/// built then keep their key until their next rebuild, and the projector must go on adding to them.
async fn a_trail_keyed_by_position_by_an_earlier_lodge_takes_new_entries(db: TestDatabase) {
    let p = Projected::new(db).await;
    p.store.register::<AuditProjection>().await.unwrap();
    // One script on one connection: statements spread over the pool's connections raced each
    // other on SQLite ("index … already exists").
    sqlx::raw_sql(
        "DROP INDEX audit_entries__g1_key;
         CREATE UNIQUE INDEX audit_entries__g1_key ON audit_entries__g1 (position);
         CREATE INDEX audit_entries__g1_i0 ON audit_entries__g1 (invite_id, stream_version);
         CREATE INDEX audit_entries__g1_i1 ON audit_entries__g1 (contact_id);
         CREATE INDEX audit_entries__g1_i2 ON audit_entries__g1 (document_id) WHERE document_id IS NOT NULL",
    )
    .execute(p.store.pool())
    .await
    .unwrap();
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    p.run(AuditProjection).await;
    p.execute_as(upload(1, PAYSLIPS, ANA), as_ana()).await;
    p.execute(accept(1)).await;

    let all = eventually("three entries", || async {
        let all = entries(&p.store, AuditFilter::default()).await;
        (all.len() == 3).then_some(all)
    })
    .await;
    let versions: Vec<u64> = all.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [1, 2, 3], "each event once, in order");
}

fn of_contact(contact: lodge_domain::ContactId) -> AuditFilter {
    AuditFilter {
        contact_id: Some(contact),
        ..AuditFilter::default()
    }
}

fn of_document(n: u128) -> AuditFilter {
    AuditFilter {
        document_id: Some(DocumentId::from_uuid(uuid(n))),
        ..AuditFilter::default()
    }
}

/// Until the trail kept maps of the invites in which each contact and document has entries, their
/// entries were found through indexes of every entry. A trail built then gains its maps from its
/// own entries when the projection registers, and reads per contact and per document find what
/// they did; the projector then keeps the maps up to date.
async fn a_trail_built_before_its_maps_gains_them_from_its_entries(db: TestDatabase) {
    let p = Projected::new(db).await;
    let projector = p.run(AuditProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    p.execute_as(upload(1, PAYSLIPS, ANA), as_ana()).await;
    p.execute(upload(2, PAYSLIPS, BEN)).await;
    p.execute(reject(1, "Blurry")).await;
    eventually("four entries", || async {
        (entries(&p.store, AuditFilter::default()).await.len() == 4).then_some(())
    })
    .await;
    projector.abort();
    let _ = projector.await;
    // The trail as an earlier Lodge left it: no maps.
    sqlx::raw_sql(
        "DROP VIEW audit_contacts; DROP TABLE audit_contacts__g1;
         DROP VIEW audit_documents; DROP TABLE audit_documents__g1;",
    )
    .execute(p.store.pool())
    .await
    .unwrap();

    p.store.register::<AuditProjection>().await.unwrap();
    let all = entries(&p.store, AuditFilter::default()).await;
    let ana: Vec<&AuditEntry> = all.iter().filter(|e| e.contact_id == Some(ANA)).collect();
    assert_eq!(ana.len(), 2, "Ana's upload and its rejection");
    assert_eq!(entries(&p.store, of_contact(ANA)).await.iter().collect::<Vec<_>>(), ana);
    let actions: Vec<String> = entries(&p.store, of_document(1))
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["document_uploaded", "document_rejected"]);
    assert_eq!(entries(&p.store, of_contact(BEN)).await.len(), 1);

    p.run(AuditProjection).await;
    p.execute(upload(3, PAYSLIPS, BEN)).await;
    let of_ben = eventually("Ben's second upload", || async {
        let of_ben = entries(&p.store, of_contact(BEN)).await;
        (of_ben.len() == 2).then_some(of_ben)
    })
    .await;
    assert_eq!(of_ben[1].document_id, Some(DocumentId::from_uuid(uuid(3))));
    assert_eq!(entries(&p.store, of_document(3)).await.len(), 1);
}
