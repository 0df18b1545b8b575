//! Realistic invite histories for benchmarks, built as domain events (valid ones: the projections
//! render them as they would real invites), without the cost of deciding each command.

use std::collections::{BTreeMap, BTreeSet};

use lodge_domain::contact::{Channel, ContactDetails};
use lodge_domain::digest::{Sha256Hex, TokenHash};
use lodge_domain::invite::*;
use lodge_domain::request::{Answer, Assignment, FieldType, FormField, RequestKind, RequestSpec};
use lodge_domain::{Actor, ContactId, DocumentId, InviteId, MessageId, RequestId, Sender, StaffId, StaffMember};
use lodge_eventlog::{Metadata, NewEvent, Source};
use sha2::{Digest, Sha256};
use uuid::Uuid;

fn id(invite: u32, kind: u32, n: u32) -> Uuid {
    Uuid::from_u128(((invite as u128) << 64) | ((kind as u128) << 32) | n as u128)
}

fn digest(text: &str) -> String {
    hex_digest(text.as_bytes())
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn invite_id(invite: u32) -> InviteId {
    InviteId::from_uuid(id(invite, 0, 0))
}

pub fn contact_id(invite: u32, n: u32) -> ContactId {
    ContactId::from_uuid(id(invite, 1, n))
}

fn staff() -> StaffMember {
    StaffMember {
        id: StaffId::from_uuid(Uuid::from_u128(1)),
        name: "Sam Staff".into(),
    }
}

/// `events` events of invite number `invite`: sent to two contacts with three file requests and a
/// form, then uploads, reviews (every third a rejection), messages both ways, portal visits and
/// form submissions, in turn.
pub fn history(invite: u32, events: usize) -> Vec<(InviteEvent, Actor)> {
    let contacts: Vec<ContactDetails> = (0..2)
        .map(|n| ContactDetails {
            id: contact_id(invite, n),
            name: format!("Client {invite}-{n}"),
            email: Some(format!("client{invite}-{n}@example.com")),
            phone: None,
            portal_link: TokenHash::parse(&digest(&format!("link {invite} {n}"))).expect("a digest"),
        })
        .collect();
    let request = |n: u32| RequestId::from_uuid(id(invite, 2, n));
    let mut requests: Vec<RequestSpec> = (0..3)
        .map(|n| RequestSpec {
            id: request(n),
            title: ["Payslips", "Bank statements", "Receipts"][n as usize].into(),
            description: Some("PDF or photos, one file per document.".into()),
            kind: RequestKind::File {
                allowed_types: vec!["application/pdf".into(), "image/*".into()],
                max_files: 100,
            },
            assigned_to: Assignment::AllContacts,
        })
        .collect();
    requests.push(RequestSpec {
        id: request(3),
        title: "Your details".into(),
        description: None,
        kind: RequestKind::Form {
            fields: vec![FormField {
                name: "tax_number".into(),
                label: "Tax file number".into(),
                field_type: FieldType::Text,
                required: true,
                choices: vec![],
            }],
        },
        assigned_to: Assignment::AllContacts,
    });
    let staff = staff();
    let mut out = vec![(
        InviteEvent::InviteSent(InviteSent {
            invite_id: invite_id(invite),
            title: format!("Tax return 2026 #{invite}"),
            message: Some("Hello! Please send us these by the due date.".into()),
            sender: Sender {
                id: staff.id,
                name: staff.name.clone(),
                email: "sam@firm.example".into(),
                phone: None,
            },
            channels: BTreeSet::from([Channel::Email]),
            contacts: contacts.clone(),
            requests,
            due_on: None,
            portal_password: None,
        }),
        Actor::from(&staff),
    )];
    let mut k = 0u32;
    while out.len() < events {
        let contact = &contacts[(k / 6 % 2) as usize];
        let as_contact = Actor::Contact {
            id: contact.id,
            name: contact.name.clone(),
        };
        let document = DocumentId::from_uuid(id(invite, 3, k / 6));
        let event = match k % 6 {
            0 => (
                InviteEvent::DocumentUploaded(DocumentUploaded {
                    document_id: document,
                    request_id: request(k / 6 % 3),
                    contact_id: contact.id,
                    file_name: format!("scan-{k}.pdf"),
                    size_bytes: 150_000 + u64::from(k),
                    sha256: Sha256Hex::parse(&digest(&format!("file {invite} {k}"))).expect("a digest"),
                    content_type: "application/pdf".into(),
                    blob_key: format!("sha256/{}", digest(&format!("file {invite} {k}"))),
                }),
                as_contact,
            ),
            1 if k / 6 % 3 == 2 => (
                InviteEvent::DocumentRejected(DocumentRejected {
                    document_id: document,
                    request_id: request(k / 6 % 3),
                    contact_id: contact.id,
                    reviewer: staff.clone(),
                    reason: "The second page is missing.".into(),
                }),
                Actor::from(&staff),
            ),
            1 => (
                InviteEvent::DocumentAccepted(DocumentAccepted {
                    document_id: document,
                    request_id: request(k / 6 % 3),
                    contact_id: contact.id,
                    reviewer: staff.clone(),
                }),
                Actor::from(&staff),
            ),
            2 | 3 => {
                let from_staff = k % 6 == 2;
                (
                    InviteEvent::MessagePosted(MessagePosted {
                        message_id: MessageId::from_uuid(id(invite, 4, k)),
                        contact_id: contact.id,
                        author: if from_staff {
                            Actor::from(&staff)
                        } else {
                            as_contact.clone()
                        },
                        body: if from_staff {
                            "Thanks, received. Could you also send the statement for March?".into()
                        } else {
                            "Sure, I will upload it tonight.".into()
                        },
                    }),
                    if from_staff { Actor::from(&staff) } else { as_contact },
                )
            }
            4 => (
                InviteEvent::PortalOpened(PortalOpened {
                    contact_id: contact.id,
                    ip: Some("203.0.113.50".parse().expect("an address")),
                    user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)".into()),
                }),
                Actor::System,
            ),
            _ => (
                InviteEvent::FormSubmitted(FormSubmitted {
                    request_id: request(3),
                    contact_id: contact.id,
                    answers: BTreeMap::from([("tax_number".to_owned(), Answer::Text(format!("{invite}{k}")))]),
                }),
                as_contact,
            ),
        };
        out.push(event);
        k += 1;
    }
    out
}

/// The history as one append: its events, and metadata naming the first event's actor.
pub fn append_of(history: &[(InviteEvent, Actor)]) -> (Vec<NewEvent>, Metadata) {
    let events = history.iter().map(|(event, _)| NewEvent::from_domain(event)).collect();
    let mut metadata = Metadata::new(history[0].1.clone());
    metadata.source = Some(Source {
        ip: Some("198.51.100.7".parse().expect("an address")),
        user_agent: Some("Lodge benchmark".into()),
    });
    (events, metadata)
}
