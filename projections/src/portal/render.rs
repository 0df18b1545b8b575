//! From an invite's history to each of its contacts' portal views. The rules of what a request's
//! status is are the domain's own (`Invite::status_of`); the history adds when things happened.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lodge_domain::invite::{self, Invite, InviteEvent, InviteState};
use lodge_domain::request::RequestKind as DomainKind;
use lodge_domain::{Actor, ContactId, DocumentId};

use super::view::*;
use crate::history::InviteHistory;

/// One contact's view, and the hash of the contact's current portal link.
pub struct RenderedView {
    pub contact_id: ContactId,
    pub portal_link: String,
    pub view: PortalView,
}

/// The view of every contact of the invite; empty if the history holds no InviteSent.
pub fn render(history: &InviteHistory) -> Vec<RenderedView> {
    let state = history
        .events
        .iter()
        .fold(InviteState::default(), |state, e| invite::evolve(state, &e.event));
    let Some(invite) = state.invite() else {
        return Vec::new();
    };
    let mut uploaded_at: BTreeMap<DocumentId, DateTime<Utc>> = BTreeMap::new();
    let mut threads: BTreeMap<ContactId, Vec<PortalMessage>> = BTreeMap::new();
    for recorded in history.events.iter() {
        match &recorded.event {
            InviteEvent::DocumentUploaded(e) => {
                uploaded_at.insert(e.document_id, recorded.recorded_at);
            }
            InviteEvent::MessagePosted(e) => {
                let (from, author) = match &e.author {
                    Actor::Staff { name, .. } => (MessageFrom::Staff, name.clone()),
                    Actor::Contact { name, .. } => (MessageFrom::Contact, name.clone()),
                    Actor::System => (MessageFrom::Staff, "Lodge".to_owned()),
                };
                threads.entry(e.contact_id).or_default().push(PortalMessage {
                    id: e.message_id,
                    from,
                    author,
                    body: e.body.clone(),
                    at: recorded.recorded_at,
                });
            }
            _ => {}
        }
    }
    invite
        .contacts
        .iter()
        .map(|contact| RenderedView {
            contact_id: contact.id,
            portal_link: contact.portal_link.as_str().to_owned(),
            view: view_for(
                invite,
                contact.id,
                &uploaded_at,
                threads.remove(&contact.id).unwrap_or_default(),
            ),
        })
        .collect()
}

fn view_for(
    invite: &Invite,
    contact_id: ContactId,
    uploaded_at: &BTreeMap<DocumentId, DateTime<Utc>>,
    messages: Vec<PortalMessage>,
) -> PortalView {
    let contact = invite.contact(contact_id).expect("rendering a contact of the invite");
    let requests: Vec<PortalRequest> = invite
        .requests_for(contact_id)
        .map(|spec| {
            let (status, reason) = match invite.status_of(spec, contact_id) {
                invite::RequestStatus::Open => (RequestStatus::Open, None),
                invite::RequestStatus::AwaitingReview => (RequestStatus::WaitingForReview, None),
                invite::RequestStatus::Accepted => (RequestStatus::Accepted, None),
                invite::RequestStatus::Rejected { reason } => (RequestStatus::Rejected, Some(reason)),
                invite::RequestStatus::FormSubmitted => (RequestStatus::FormSubmitted, None),
            };
            let (kind, allowed_types, max_files, fields) = match &spec.kind {
                DomainKind::File {
                    allowed_types,
                    max_files,
                } => (RequestKind::File, allowed_types.clone(), Some(*max_files), Vec::new()),
                DomainKind::Form { fields } => (RequestKind::Form, Vec::new(), None, fields.clone()),
            };
            PortalRequest {
                id: spec.id,
                kind,
                title: spec.title.clone(),
                description: spec.description.clone(),
                status,
                reason,
                allowed_types,
                max_files,
                fields,
                answers: invite.answers.get(&(spec.id, contact_id)).cloned(),
                documents: invite
                    .documents_for(spec.id, contact_id)
                    .map(|d| {
                        let (status, reason) = match &d.status {
                            invite::DocumentStatus::AwaitingReview => (DocumentStatus::WaitingForReview, None),
                            invite::DocumentStatus::Accepted => (DocumentStatus::Accepted, None),
                            invite::DocumentStatus::Rejected { reason } => {
                                (DocumentStatus::Rejected, Some(reason.clone()))
                            }
                        };
                        PortalDocument {
                            id: d.id,
                            file_name: d.file_name.clone(),
                            size: d.size_bytes,
                            sha256: d.sha256.as_str().to_owned(),
                            content_type: d.content_type.clone(),
                            status,
                            reason,
                            uploaded_at: uploaded_at.get(&d.id).copied().unwrap_or_default(),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let done = requests
        .iter()
        .filter(|r| matches!(r.status, RequestStatus::Accepted | RequestStatus::FormSubmitted))
        .count() as u32;
    PortalView {
        invite: PortalInvite {
            id: invite.id,
            title: invite.title.clone(),
            message: invite.message.clone(),
            status: match invite.status {
                invite::InviteStatus::Open => InviteStatus::Open,
                invite::InviteStatus::Completed => InviteStatus::Completed,
                invite::InviteStatus::Cancelled => InviteStatus::Cancelled,
            },
            due_on: invite.due_on,
            password_protected: invite.portal_password.is_some(),
        },
        contact: PortalContact {
            id: contact.id,
            name: contact.name.clone(),
            email: contact.email.clone(),
            phone: contact.phone.clone(),
        },
        sender: PortalSender {
            name: invite.sender.name.clone(),
            email: invite.sender.email.clone(),
            phone: invite.sender.phone.clone(),
        },
        totals: Totals {
            total: requests.len() as u32,
            done,
            outstanding: requests.len() as u32 - done,
        },
        requests,
        messages,
    }
}
