//! Property: any sequence of commands, each applied only when `decide` accepts it, folds to an Invite
//! whose invariants hold; closed invites take nothing but messages and visits; every event written
//! reads back as itself.

use std::collections::{BTreeMap, BTreeSet};

use lodge_domain::contact::Channel;
use lodge_domain::invite::*;
use lodge_domain::limits::{MAX_CONTACTS, MAX_REQUESTS};
use lodge_domain::request::{self, Assignment, RequestKind};
use lodge_domain::testing::random::*;
use lodge_domain::{ContactId, Decider, EventSchema, RequestId};
use proptest::prelude::*;

#[track_caller]
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
    fn accepted_commands_keep_every_invariant(start in starting_invite(0), actions in proptest::collection::vec(action(), 0..80)) {
        let mut history = InviteDecider::decide(&Default::default(), &InviteCommand::SendInvite(start)).unwrap();
        let mut state = InviteDecider::fold(&history);
        for (step, action) in actions.iter().enumerate() {
            let before = state.invite().unwrap().clone();
            let command = command_for(&before, action, step, 0);
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
