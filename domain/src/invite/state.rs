//! An Invite as its events leave it: what `decide` consults. `evolve` is total: an event is a fact,
//! so it is always applied, and one that refers to something unknown changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;

use crate::actor::Sender;
use crate::contact::{Channel, ContactDetails};
use crate::digest::{PasswordHash, Sha256Hex};
use crate::ids::{ContactId, DocumentId, InviteId, MessageId, RequestId};
use crate::reminder::ReminderPlan;
use crate::request::{Answers, RequestKind, RequestSpec};

use super::event::InviteEvent;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InviteState {
    invite: Option<Invite>,
}

impl InviteState {
    /// The invite, once sent.
    pub fn invite(&self) -> Option<&Invite> {
        self.invite.as_ref()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteStatus {
    Open,
    Completed,
    Cancelled,
}

impl fmt::Display for InviteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InviteStatus::Open => "open",
            InviteStatus::Completed => "completed",
            InviteStatus::Cancelled => "cancelled",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentStatus {
    AwaitingReview,
    Accepted,
    Rejected { reason: String },
}

impl DocumentStatus {
    pub fn describe(&self) -> &'static str {
        match self {
            DocumentStatus::AwaitingReview => "waiting for review",
            DocumentStatus::Accepted => "accepted",
            DocumentStatus::Rejected { .. } => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: DocumentId,
    pub request_id: RequestId,
    pub contact_id: ContactId,
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: Sha256Hex,
    pub content_type: String,
    pub status: DocumentStatus,
}

impl Document {
    /// Pending or accepted: the document counts towards the request's maximum number of files.
    pub fn is_live(&self) -> bool {
        !matches!(self.status, DocumentStatus::Rejected { .. })
    }
}

/// Where one request stands for one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestStatus {
    /// Nothing sent yet.
    Open,
    /// At least one document waits for staff to review it.
    AwaitingReview,
    /// Staff rejected a document and nothing was uploaded since: the contact must send another.
    Rejected { reason: String },
    /// Documents were sent and accepted.
    Accepted,
    /// The form was filled in.
    FormSubmitted,
}

impl RequestStatus {
    /// Nothing more is needed from the contact or from staff.
    pub fn is_done(&self) -> bool {
        matches!(self, RequestStatus::Accepted | RequestStatus::FormSubmitted)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    pub id: InviteId,
    pub title: String,
    pub message: Option<String>,
    pub sender: Sender,
    pub channels: BTreeSet<Channel>,
    pub status: InviteStatus,
    pub due_on: Option<NaiveDate>,
    pub portal_password: Option<PasswordHash>,
    pub contacts: Vec<ContactDetails>,
    pub requests: Vec<RequestSpec>,
    pub documents: Vec<Document>,
    /// The latest answers of each (form request, contact).
    pub answers: BTreeMap<(RequestId, ContactId), Answers>,
    /// A rejection the contact has not answered with a new upload yet, per (request, contact).
    pub open_rejections: BTreeMap<(RequestId, ContactId), String>,
    pub message_ids: BTreeSet<MessageId>,
    /// When contacts are reminded, when staff chose for this invite (else the firm's default).
    pub reminders: Option<ReminderPlan>,
}

impl Invite {
    pub fn contact(&self, id: ContactId) -> Option<&ContactDetails> {
        self.contacts.iter().find(|c| c.id == id)
    }

    pub fn request(&self, id: RequestId) -> Option<&RequestSpec> {
        self.requests.iter().find(|r| r.id == id)
    }

    pub fn document(&self, id: DocumentId) -> Option<&Document> {
        self.documents.iter().find(|d| d.id == id)
    }

    /// The requests assigned to a contact, in the order they were added.
    pub fn requests_for(&self, contact: ContactId) -> impl Iterator<Item = &RequestSpec> {
        self.requests.iter().filter(move |r| r.assigned_to.includes(contact))
    }

    pub fn documents_for(&self, request: RequestId, contact: ContactId) -> impl Iterator<Item = &Document> {
        self.documents
            .iter()
            .filter(move |d| d.request_id == request && d.contact_id == contact)
    }

    pub fn status_of(&self, request: &RequestSpec, contact: ContactId) -> RequestStatus {
        if let RequestKind::Form { .. } = request.kind {
            return if self.answers.contains_key(&(request.id, contact)) {
                RequestStatus::FormSubmitted
            } else {
                RequestStatus::Open
            };
        }
        let mut accepted = false;
        for document in self.documents_for(request.id, contact) {
            match document.status {
                DocumentStatus::AwaitingReview => return RequestStatus::AwaitingReview,
                DocumentStatus::Accepted => accepted = true,
                DocumentStatus::Rejected { .. } => {}
            }
        }
        if let Some(reason) = self.open_rejections.get(&(request.id, contact)) {
            RequestStatus::Rejected { reason: reason.clone() }
        } else if accepted {
            RequestStatus::Accepted
        } else {
            RequestStatus::Open
        }
    }

    /// Every request is done for every contact it is assigned to.
    pub fn all_done(&self) -> bool {
        self.contacts.iter().all(|contact| {
            self.requests_for(contact.id)
                .all(|request| self.status_of(request, contact.id).is_done())
        })
    }

    fn document_mut(&mut self, id: DocumentId) -> Option<&mut Document> {
        self.documents.iter_mut().find(|d| d.id == id)
    }

    fn contact_mut(&mut self, id: ContactId) -> Option<&mut ContactDetails> {
        self.contacts.iter_mut().find(|c| c.id == id)
    }
}

pub fn evolve(mut state: InviteState, event: &InviteEvent) -> InviteState {
    let invite = match (&mut state.invite, event) {
        (None, InviteEvent::InviteSent(sent)) => {
            state.invite = Some(Invite {
                id: sent.invite_id,
                title: sent.title.clone(),
                message: sent.message.clone(),
                sender: sent.sender.clone(),
                channels: sent.channels.clone(),
                status: InviteStatus::Open,
                due_on: sent.due_on,
                portal_password: sent.portal_password.clone(),
                contacts: sent.contacts.clone(),
                requests: sent.requests.clone(),
                documents: Vec::new(),
                answers: BTreeMap::new(),
                open_rejections: BTreeMap::new(),
                message_ids: BTreeSet::new(),
                reminders: None,
            });
            return state;
        }
        (Some(invite), _) => invite,
        // Nothing but InviteSent can start an invite.
        (None, _) => return state,
    };
    match event {
        InviteEvent::InviteSent(_) => {}
        InviteEvent::ContactAdded(e) => invite.contacts.push(e.contact.clone()),
        InviteEvent::RequestAdded(e) => invite.requests.push(e.request.clone()),
        InviteEvent::DocumentUploaded(e) => {
            invite.open_rejections.remove(&(e.request_id, e.contact_id));
            invite.documents.push(Document {
                id: e.document_id,
                request_id: e.request_id,
                contact_id: e.contact_id,
                file_name: e.file_name.clone(),
                size_bytes: e.size_bytes,
                sha256: e.sha256.clone(),
                content_type: e.content_type.clone(),
                status: DocumentStatus::AwaitingReview,
            });
        }
        InviteEvent::FormSubmitted(e) => {
            invite.answers.insert((e.request_id, e.contact_id), e.answers.clone());
        }
        InviteEvent::MessagePosted(e) => {
            invite.message_ids.insert(e.message_id);
        }
        InviteEvent::DocumentAccepted(e) => {
            if let Some(document) = invite.document_mut(e.document_id) {
                document.status = DocumentStatus::Accepted;
            }
        }
        InviteEvent::DocumentRejected(e) => {
            if let Some(document) = invite.document_mut(e.document_id) {
                document.status = DocumentStatus::Rejected {
                    reason: e.reason.clone(),
                };
                invite
                    .open_rejections
                    .insert((e.request_id, e.contact_id), e.reason.clone());
            }
        }
        InviteEvent::DueDateChanged(e) => invite.due_on = e.due_on,
        InviteEvent::RemindersChanged(e) => invite.reminders = e.reminders.clone(),
        InviteEvent::InviteCancelled(_) => invite.status = InviteStatus::Cancelled,
        InviteEvent::InviteCompleted(_) => invite.status = InviteStatus::Completed,
        InviteEvent::PortalLinkReissued(e) => {
            if let Some(contact) = invite.contact_mut(e.contact_id) {
                contact.portal_link = e.portal_link.clone();
            }
        }
        InviteEvent::PortalOpened(_)
        | InviteEvent::PortalPasswordRefused(_)
        | InviteEvent::NotificationSent(_)
        | InviteEvent::NotificationFailed(_)
        | InviteEvent::StaffDigestSent(_)
        | InviteEvent::StaffDigestFailed(_) => {}
    }
    state
}
