//! Random invite histories for property tests: actions drawn by proptest, turned into commands
//! against the invite as it stands.

use proptest::prelude::*;

use crate::contact::ContactDetails;
use crate::invite::*;
use crate::request::{Answer, Assignment, RequestKind, RequestSpec};
use crate::{ContactId, DocumentId, MessageId, RequestId};

use super::*;

/// One random step of an invite's life, with indices into what exists (an index past the end
/// names something that does not, which the domain must refuse).
#[derive(Debug, Clone)]
pub enum Action {
    Upload {
        request: usize,
        contact: usize,
        content_type: usize,
        document: usize,
    },
    Submit {
        request: usize,
        contact: usize,
        tax_number: String,
        choice: usize,
    },
    Review {
        document: usize,
        accept: bool,
        reason: String,
    },
    Message {
        contact: usize,
        from_staff: bool,
        body: String,
    },
    AddContact {
        contact: usize,
    },
    AddRequest {
        form: bool,
        assign: Option<Vec<usize>>,
    },
    ChangeDue {
        days: i64,
    },
    Cancel,
    Complete,
    Reissue {
        contact: usize,
        link: u8,
    },
    Visit {
        contact: usize,
        refused: bool,
    },
}

const CONTENT_TYPES: [&str; 4] = ["application/pdf", "image/jpeg", "text/plain", "image/heic"];

pub fn action() -> impl Strategy<Value = Action> {
    // Weighted so that most sequences run long before a cancel or a completion closes the invite,
    // and so that most indices hit something that exists (the rest test refusals).
    prop_oneof![
        20 => (0..5usize, 0..4usize, 0..4usize, 0..12usize).prop_map(|(request, contact, content_type, document)| Action::Upload { request, contact, content_type, document }),
        6 => (0..5usize, 0..4usize, "[ a-z0-9]{0,6}", 0..3usize).prop_map(|(request, contact, tax_number, choice)| Action::Submit { request, contact, tax_number, choice }),
        16 => (0..6usize, any::<bool>(), "[ a-z\\\\\t\n]{0,8}").prop_map(|(document, accept, reason)| Action::Review { document, accept, reason }),
        // Reasons and bodies carry what text formats must escape (JSON, PostgreSQL's COPY):
        // backslash, tab, line breaks, quotes.
        3 => (0..4usize, any::<bool>(), "[ a-z\\\\\t\r\n\"é]{0,12}").prop_map(|(contact, from_staff, body)| Action::Message { contact, from_staff, body }),
        2 => (0..8usize).prop_map(|contact| Action::AddContact { contact }),
        2 => (any::<bool>(), proptest::option::of(proptest::collection::vec(0..5usize, 0..3))).prop_map(|(form, assign)| Action::AddRequest { form, assign }),
        1 => (-3..30i64).prop_map(|days| Action::ChangeDue { days }),
        1 => prop_oneof![Just(Action::Cancel), Just(Action::Complete)],
        1 => (0..5usize, 0..6u8).prop_map(|(contact, link)| Action::Reissue { contact, link }),
        2 => (0..5usize, any::<bool>()).prop_map(|(contact, refused)| Action::Visit { contact, refused }),
    ]
}

/// A starting invite: 1 to 3 contacts, 1 to 4 requests of both kinds, assigned to everyone or to
/// some. `salt` keeps portal links apart between invites of one test.
pub fn starting_invite(salt: u8) -> impl Strategy<Value = SendInvite> {
    (
        1..=3usize,
        proptest::collection::vec((any::<bool>(), 1..=3u32, proptest::option::of(0..3usize)), 1..=4),
        any::<bool>(),
    )
        .prop_map(move |(contact_count, requests, protected)| {
            let contacts: Vec<_> = (0..contact_count).map(|n| numbered_contact(n, salt)).collect();
            let requests = requests
                .into_iter()
                .enumerate()
                .map(|(n, (form, max_files, only_one))| {
                    let assigned_to = match only_one {
                        Some(i) => only(&[contacts[i % contact_count].id]),
                        None => Assignment::AllContacts,
                    };
                    numbered_request(n, form, max_files, assigned_to)
                })
                .collect();
            let mut send = send_invite();
            send.contacts = contacts;
            send.requests = requests;
            send.portal_password = protected.then(password);
            send
        })
}

/// Portal link tokens of the `salt`ed invite: 16 of its own.
fn salted(salt: u8, n: u8) -> u8 {
    salt.wrapping_mul(16).wrapping_add(n % 16)
}

pub fn numbered_contact(n: usize, salt: u8) -> ContactDetails {
    contact(
        ContactId::from_uuid(uuid(0x2000 + n as u128)),
        &format!("Contact {n}"),
        &format!("contact{n}@example.com"),
        salted(salt, n as u8 + 1),
    )
}

pub fn numbered_request(n: usize, form: bool, max_files: u32, assigned_to: Assignment) -> RequestSpec {
    let id = RequestId::from_uuid(uuid(0x3000 + n as u128));
    if form {
        form_request(id, assigned_to)
    } else {
        let mut spec = file_request(id, &format!("Request {n}"), assigned_to);
        spec.kind = RequestKind::File {
            allowed_types: vec!["application/pdf".into(), "image/*".into()],
            max_files,
        };
        spec
    }
}

/// Picks the `index`th item, or an id that does not exist when the index is past the end.
pub fn pick<T: Copy>(items: &[T], index: usize, missing: T) -> T {
    items.get(index).copied().unwrap_or(missing)
}

/// The command an action stands for, given the invite as it is now.
pub fn command_for(invite: &Invite, action: &Action, step: usize, salt: u8) -> InviteCommand {
    let contacts: Vec<ContactId> = invite.contacts.iter().map(|c| c.id).collect();
    let requests: Vec<RequestId> = invite.requests.iter().map(|r| r.id).collect();
    // Documents waiting for review first, so that most reviews hit one; the rest test refusals.
    let mut documents: Vec<&Document> = invite.documents.iter().collect();
    documents.sort_by_key(|d| d.status != DocumentStatus::AwaitingReview);
    let documents: Vec<DocumentId> = documents.iter().map(|d| d.id).collect();
    let nobody = ContactId::from_uuid(uuid(0x2fff));
    match action.clone() {
        Action::Upload {
            request,
            contact,
            content_type,
            document,
        } => {
            let mut command = upload_as(
                0x4000 + step as u128,
                pick(&requests, request, RequestId::from_uuid(uuid(0x3fff))),
                pick(&contacts, contact, nobody),
                CONTENT_TYPES[content_type],
            );
            // Sometimes reuse an existing document id, which must be refused.
            if let (InviteCommand::UploadDocument(c), Some(existing)) = (&mut command, documents.get(document))
                && document == 0
            {
                c.document_id = *existing;
            }
            command
        }
        Action::Submit {
            request,
            contact,
            tax_number,
            choice,
        } => {
            let mut given = answers(&tax_number);
            given.insert(
                "status".into(),
                Answer::Choice(["single", "married", "widowed"][choice].into()),
            );
            InviteCommand::SubmitForm(SubmitForm {
                request_id: pick(&requests, request, RequestId::from_uuid(uuid(0x3fff))),
                contact_id: pick(&contacts, contact, nobody),
                answers: given,
            })
        }
        Action::Review {
            document,
            accept,
            reason,
        } => InviteCommand::ReviewDocument(ReviewDocument {
            document_id: pick(&documents, document, DocumentId::from_uuid(uuid(0x4fff))),
            decision: if accept {
                ReviewDecision::Accept
            } else {
                ReviewDecision::Reject { reason }
            },
            reviewer: staff(),
        }),
        Action::Message {
            contact,
            from_staff,
            body,
        } => InviteCommand::PostMessage(PostMessage {
            message_id: MessageId::from_uuid(uuid(0x5000 + step as u128)),
            contact_id: pick(&contacts, contact, nobody),
            from: if from_staff {
                MessageFrom::Staff(staff())
            } else {
                MessageFrom::Contact
            },
            body,
        }),
        Action::AddContact { contact } => InviteCommand::AddContact(AddContact {
            contact: numbered_contact(contact, salt),
            by: staff(),
        }),
        Action::AddRequest { form, assign } => {
            let assigned_to = match assign {
                None => Assignment::AllContacts,
                Some(picks) => Assignment::Contacts(picks.iter().map(|i| pick(&contacts, *i, nobody)).collect()),
            };
            InviteCommand::AddRequest(AddRequest {
                request: numbered_request(10 + step, form, 2, assigned_to),
                by: staff(),
            })
        }
        Action::ChangeDue { days } => InviteCommand::ChangeDueDate(ChangeDueDate {
            due_on: Some(today() + chrono::TimeDelta::days(days)),
            today: today(),
            by: staff(),
        }),
        Action::Cancel => cancel(),
        Action::Complete => InviteCommand::CompleteInvite(CompleteInvite { by: staff() }),
        Action::Reissue { contact, link } => InviteCommand::ReissuePortalLink(ReissuePortalLink {
            contact_id: pick(&contacts, contact, nobody),
            portal_link: token(salted(salt, 10 + link)),
            by: staff(),
        }),
        Action::Visit { contact, refused } => InviteCommand::RecordPortalAccess(RecordPortalAccess {
            contact_id: pick(&contacts, contact, nobody),
            access: if refused {
                PortalAccess::PasswordRefused
            } else {
                PortalAccess::Opened
            },
            ip: None,
            user_agent: Some("proptest".into()),
        }),
    }
}
