//! The audit trail, built by its projector from commands decided through the real command path, on
//! both engines.

use crate::support::*;
use futures_util::TryStreamExt;
use lodge_domain::invite::{InviteCommand, InviteDecider, PortalAccess, RecordPortalAccess};
use lodge_domain::testing::*;
use lodge_domain::{Actor, DocumentId};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Metadata, Source, StreamId, command};
use lodge_projections::ReadStore;
use lodge_projections::audit::{self, AuditEntry, AuditFilter, AuditProjection};

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
    a_text_trail_keyed_by_position_without_maps_is_converted_and_takes_new_entries,
    a_text_trail_with_maps_is_converted_with_them,
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

/// Whether the database has a table or view called `name`.
async fn exists(store: &ReadStore, name: &str) -> bool {
    let query = match store.engine() {
        lodge_eventlog::Engine::Sqlite => "SELECT count(*) FROM sqlite_master WHERE name = $1",
        lodge_eventlog::Engine::Postgres => {
            "SELECT count(*) FROM pg_class WHERE relname = $1 AND relnamespace = current_schema()::regnamespace"
        }
    };
    lodge_store::on!(store.store(), |c| sqlx::query_scalar::<_, i64>(query)
        .bind(name)
        .fetch_one(c)
        .await)
    .unwrap()
        > 0
}

/// Builds a trail of four entries (Ana's and Ben's uploads, Ana's rejected), stops the projector and
/// leaves the trail as an earlier Lodge kept it; returns its entries.
async fn an_earlier_trail(p: &Projected, earlier: EarlierTrail) -> Vec<AuditEntry> {
    let projector = p.run(AuditProjection).await;
    p.execute(InviteCommand::SendInvite(send_invite())).await;
    p.execute_as(upload(1, PAYSLIPS, ANA), as_ana()).await;
    p.execute(upload(2, PAYSLIPS, BEN)).await;
    p.execute(reject(1, "Blurry")).await;
    let all = eventually("four entries", || async {
        let all = entries(&p.store, AuditFilter::default()).await;
        (all.len() == 4).then_some(all)
    })
    .await;
    projector.abort();
    let _ = projector.await;
    leave_trail_as(&p.store, 1, true, earlier).await;
    assert!(exists(&p.store, "audit_entries__g1").await);
    all
}

/// Registering converts the trail, keeps the entries as they were, and drops the earlier tables;
/// then reads per contact and per document find what they did, and the projector goes on adding.
async fn converted_trail_carries_on(p: &Projected, earlier: Vec<AuditEntry>) {
    p.run(AuditProjection).await;
    assert_eq!(entries(&p.store, AuditFilter::default()).await, earlier);
    for gone in [
        "audit_entries",
        "audit_entries__g1",
        "audit_contacts",
        "audit_contacts__g1",
    ] {
        assert!(!exists(&p.store, gone).await, "{gone} is dropped once converted");
    }
    let ana: Vec<&AuditEntry> = earlier.iter().filter(|e| e.contact_id == Some(ANA)).collect();
    assert_eq!(ana.len(), 2, "Ana's upload and its rejection");
    assert_eq!(entries(&p.store, of_contact(ANA)).await.iter().collect::<Vec<_>>(), ana);
    let actions: Vec<String> = entries(&p.store, of_document(1))
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["document_uploaded", "document_rejected"]);

    p.execute(upload(3, PAYSLIPS, BEN)).await;
    let of_ben = eventually("Ben's second upload", || async {
        let of_ben = entries(&p.store, of_contact(BEN)).await;
        (of_ben.len() == 2).then_some(of_ben)
    })
    .await;
    assert_eq!(of_ben[1].document_id, Some(DocumentId::from_uuid(uuid(3))));
    assert_eq!(entries(&p.store, of_document(3)).await.len(), 1);
    let versions: Vec<u64> = entries(&p.store, AuditFilter::default())
        .await
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5], "each event once, in order");
}

/// Lodge kept ids and hashes as text, first keyed by log position with indexes over every entry,
/// and without the maps of the invites each contact and document is in.
async fn a_text_trail_keyed_by_position_without_maps_is_converted_and_takes_new_entries(db: TestDatabase) {
    let p = Projected::new(db).await;
    let earlier = an_earlier_trail(&p, EarlierTrail::KeyedByPositionWithoutMaps).await;
    converted_trail_carries_on(&p, earlier).await;
}

/// Then keyed by (invite, stream version), with the maps, still as text.
async fn a_text_trail_with_maps_is_converted_with_them(db: TestDatabase) {
    let p = Projected::new(db).await;
    let earlier = an_earlier_trail(&p, EarlierTrail::WithTextMaps).await;
    assert!(exists(&p.store, "audit_contacts__g1").await);
    converted_trail_carries_on(&p, earlier).await;
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
