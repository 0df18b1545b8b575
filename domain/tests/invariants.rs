//! Property: any sequence of commands, each applied only when `decide` accepts it, folds to an Invite
//! whose invariants hold; closed invites take nothing but messages and visits; every event written
//! reads back as itself.

use std::collections::{BTreeMap, BTreeSet};

use lodge_domain::contact::Channel;
use lodge_domain::invite::*;
use lodge_domain::limits::{MAX_CONTACTS, MAX_REQUESTS};
use lodge_domain::request::{self, Answer, Assignment, RequestKind, RequestSpec};
use lodge_domain::testing::*;
use lodge_domain::{ContactId, Decider, DocumentId, EventSchema, MessageId, RequestId};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Action {
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

fn action() -> impl Strategy<Value = Action> {
    // Weighted so that most sequences run long before a cancel or a completion closes the invite,
    // and so that most indices hit something that exists (the rest test refusals).
    prop_oneof![
        20 => (0..5usize, 0..4usize, 0..4usize, 0..12usize).prop_map(|(request, contact, content_type, document)| Action::Upload { request, contact, content_type, document }),
        6 => (0..5usize, 0..4usize, "[ a-z0-9]{0,6}", 0..3usize).prop_map(|(request, contact, tax_number, choice)| Action::Submit { request, contact, tax_number, choice }),
        16 => (0..6usize, any::<bool>(), "[ a-z]{0,8}").prop_map(|(document, accept, reason)| Action::Review { document, accept, reason }),
        3 => (0..4usize, any::<bool>(), "[ a-z]{0,12}").prop_map(|(contact, from_staff, body)| Action::Message { contact, from_staff, body }),
        2 => (0..8usize).prop_map(|contact| Action::AddContact { contact }),
        2 => (any::<bool>(), proptest::option::of(proptest::collection::vec(0..5usize, 0..3))).prop_map(|(form, assign)| Action::AddRequest { form, assign }),
        1 => (-3..30i64).prop_map(|days| Action::ChangeDue { days }),
        1 => prop_oneof![Just(Action::Cancel), Just(Action::Complete)],
        1 => (0..5usize, 0..6u8).prop_map(|(contact, link)| Action::Reissue { contact, link }),
        2 => (0..5usize, any::<bool>()).prop_map(|(contact, refused)| Action::Visit { contact, refused }),
    ]
}

/// A starting invite: 1 to 3 contacts, 1 to 4 requests of both kinds, assigned to everyone or to some.
fn starting_invite() -> impl Strategy<Value = SendInvite> {
    (
        1..=3usize,
        proptest::collection::vec((any::<bool>(), 1..=3u32, proptest::option::of(0..3usize)), 1..=4),
        any::<bool>(),
    )
        .prop_map(|(contact_count, requests, protected)| {
            let contacts: Vec<_> = (0..contact_count).map(numbered_contact).collect();
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

fn numbered_contact(n: usize) -> lodge_domain::contact::ContactDetails {
    contact(
        ContactId::from_uuid(uuid(0x2000 + n as u128)),
        &format!("Contact {n}"),
        &format!("contact{n}@example.com"),
        n as u8 + 1,
    )
}

fn numbered_request(n: usize, form: bool, max_files: u32, assigned_to: Assignment) -> RequestSpec {
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
fn pick<T: Copy>(items: &[T], index: usize, missing: T) -> T {
    items.get(index).copied().unwrap_or(missing)
}

fn command_for(invite: &Invite, action: &Action, step: usize) -> InviteCommand {
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
            contact: numbered_contact(contact),
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
            portal_link: token(0x80 + link),
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

fn assert_invariants(invite: &Invite) {
    // Contacts: within the limit, each once, reachable on the invite's channels.
    assert!(!invite.contacts.is_empty() && invite.contacts.len() <= MAX_CONTACTS);
    let ids: BTreeSet<_> = invite.contacts.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), invite.contacts.len(), "contact ids are unique");
    let emails: BTreeSet<_> = invite
        .contacts
        .iter()
        .filter_map(|c| c.email.as_ref().map(|e| e.to_lowercase()))
        .collect();
    assert_eq!(
        emails.len(),
        invite.contacts.iter().filter(|c| c.email.is_some()).count(),
        "emails are unique"
    );
    let links: BTreeSet<_> = invite.contacts.iter().map(|c| c.portal_link.as_str()).collect();
    assert_eq!(links.len(), invite.contacts.len(), "portal links are unique");
    for contact in &invite.contacts {
        if invite.channels.contains(&Channel::Email) {
            assert!(contact.email.is_some());
        }
    }

    // Requests: within the limit, each once, assigned to someone who is a contact.
    assert!(!invite.requests.is_empty() && invite.requests.len() <= MAX_REQUESTS);
    let request_ids: BTreeSet<_> = invite.requests.iter().map(|r| r.id).collect();
    assert_eq!(request_ids.len(), invite.requests.len(), "request ids are unique");
    for request in &invite.requests {
        if let Assignment::Contacts(assigned) = &request.assigned_to {
            assert!(!assigned.is_empty());
            assert!(assigned.iter().all(|c| ids.contains(c)));
        }
    }

    // Documents: on file requests assigned to their contact, of an allowed type, within max files.
    let document_ids: BTreeSet<_> = invite.documents.iter().map(|d| d.id).collect();
    assert_eq!(document_ids.len(), invite.documents.len(), "document ids are unique");
    let mut live: BTreeMap<(RequestId, ContactId), u32> = BTreeMap::new();
    for document in &invite.documents {
        let request = invite
            .request(document.request_id)
            .expect("document of a known request");
        assert!(
            request.assigned_to.includes(document.contact_id),
            "document from an assigned contact"
        );
        let RequestKind::File { allowed_types, .. } = &request.kind else {
            panic!("document on a form request");
        };
        assert!(request::type_allowed(allowed_types, &document.content_type));
        if document.is_live() {
            *live.entry((document.request_id, document.contact_id)).or_default() += 1;
        }
    }
    for ((request_id, _), count) in live {
        let RequestKind::File { max_files, .. } = invite.request(request_id).unwrap().kind else {
            unreachable!()
        };
        assert!(count <= max_files, "{count} live files > max {max_files}");
    }

    // Answers: on form requests assigned to their contact, and valid for the form.
    for ((request_id, contact_id), answers) in &invite.answers {
        let request = invite.request(*request_id).unwrap();
        assert!(request.assigned_to.includes(*contact_id));
        let RequestKind::Form { fields } = &request.kind else {
            panic!("answers on a file request");
        };
        assert_eq!(request::check_answers(fields, answers).as_ref(), Ok(answers));
    }

    // An open rejection always has a rejected document behind it.
    for (request_id, contact_id) in invite.open_rejections.keys() {
        assert!(invite.documents_for(*request_id, *contact_id).any(|d| !d.is_live()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn accepted_commands_keep_every_invariant(start in starting_invite(), actions in proptest::collection::vec(action(), 0..80)) {
        let mut history = InviteDecider::decide(&Default::default(), &InviteCommand::SendInvite(start)).unwrap();
        let mut state = InviteDecider::fold(&history);
        for (step, action) in actions.iter().enumerate() {
            let before = state.invite().unwrap().clone();
            let command = command_for(&before, action, step);
            let Ok(events) = InviteDecider::decide(&state, &command) else { continue };

            if before.status != InviteStatus::Open {
                prop_assert!(
                    events.is_empty() || matches!(command, InviteCommand::PostMessage(_) | InviteCommand::RecordPortalAccess(_)),
                    "a {} invite accepted {}", before.status, command.name()
                );
            }
            for event in &events {
                prop_assert!(InviteEvent::TYPES.contains(&(event.event_type(), event.schema_version())));
                let read_back = InviteEvent::from_json(event.event_type(), event.schema_version(), &event.to_json());
                prop_assert_eq!(read_back.as_ref(), Ok(event));
                state = InviteDecider::evolve(state, event);
            }
            history.extend(events.iter().cloned());
            let after = state.invite().unwrap();
            assert_invariants(after);
            if events.iter().any(|e| matches!(e, InviteEvent::InviteCompleted(InviteCompleted { completed_by: None }))) {
                prop_assert!(after.all_done(), "completed automatically with requests outstanding");
            }
        }
        // Folding the whole history at once gives the same state as stepping through it.
        prop_assert_eq!(InviteDecider::fold(&history), state);
    }
}
