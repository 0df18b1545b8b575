//! What happened to an Invite. Events are facts in the past tense and are kept forever: each has a
//! type name and a schema version, every version ever written stays readable (upcasters live in
//! `from_json`), and each has a stored JSON fixture under `domain/tests/fixtures/events/`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Sender, StaffMember};
use crate::contact::{Channel, ContactDetails};
use crate::decider::{EventDecodeError, EventSchema, check_known, current_version, never_written, payload};
use crate::digest::{PasswordHash, Sha256Hex, TokenHash};
use crate::ids::{ContactId, DocumentId, InviteId, MessageId, RequestId, StaffId};
use crate::notification::NotificationKind;
use crate::reminder::ReminderPlan;
use crate::request::{Answers, RequestSpec};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub enum InviteEvent {
    InviteSent(InviteSent),
    ContactAdded(ContactAdded),
    RequestAdded(RequestAdded),
    DocumentUploaded(DocumentUploaded),
    FormSubmitted(FormSubmitted),
    MessagePosted(MessagePosted),
    DocumentAccepted(DocumentAccepted),
    DocumentRejected(DocumentRejected),
    DueDateChanged(DueDateChanged),
    InviteCancelled(InviteCancelled),
    InviteCompleted(InviteCompleted),
    PortalLinkReissued(PortalLinkReissued),
    PortalOpened(PortalOpened),
    PortalPasswordRefused(PortalPasswordRefused),
    NotificationSent(NotificationSent),
    NotificationFailed(NotificationFailed),
    RemindersChanged(RemindersChanged),
    StaffDigestSent(StaffDigestSent),
    StaffDigestFailed(StaffDigestFailed),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteSent {
    pub invite_id: InviteId,
    pub title: String,
    pub message: Option<String>,
    pub sender: Sender,
    pub channels: BTreeSet<Channel>,
    pub contacts: Vec<ContactDetails>,
    pub requests: Vec<RequestSpec>,
    pub due_on: Option<NaiveDate>,
    pub portal_password: Option<PasswordHash>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactAdded {
    pub contact: ContactDetails,
    pub added_by: StaffMember,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestAdded {
    pub request: RequestSpec,
    pub added_by: StaffMember,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentUploaded {
    pub document_id: DocumentId,
    pub request_id: RequestId,
    pub contact_id: ContactId,
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: Sha256Hex,
    pub content_type: String,
    /// Where the bytes are in the blob store.
    pub blob_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormSubmitted {
    pub request_id: RequestId,
    pub contact_id: ContactId,
    pub answers: Answers,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePosted {
    pub message_id: MessageId,
    /// The contact whose thread with the firm this message is in.
    pub contact_id: ContactId,
    pub author: Actor,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentAccepted {
    pub document_id: DocumentId,
    pub request_id: RequestId,
    pub contact_id: ContactId,
    pub reviewer: StaffMember,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRejected {
    pub document_id: DocumentId,
    pub request_id: RequestId,
    pub contact_id: ContactId,
    pub reviewer: StaffMember,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DueDateChanged {
    pub due_on: Option<NaiveDate>,
    pub previous: Option<NaiveDate>,
    pub changed_by: StaffMember,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteCancelled {
    pub reason: Option<String>,
    pub cancelled_by: StaffMember,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteCompleted {
    /// None when Lodge completed the invite because every request was done.
    pub completed_by: Option<StaffMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalLinkReissued {
    pub contact_id: ContactId,
    pub portal_link: TokenHash,
    pub reissued_by: StaffMember,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalOpened {
    pub contact_id: ContactId,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalPasswordRefused {
    pub contact_id: ContactId,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// A notification reached its provider (the SMTP server, Twilio).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationSent {
    pub contact_id: ContactId,
    pub channel: Channel,
    pub kind: NotificationKind,
    pub to: String,
    /// The event that called for it.
    pub cause: Uuid,
    pub provider_message_id: Option<String>,
}

/// A notification could not be delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationFailed {
    pub contact_id: ContactId,
    pub channel: Channel,
    pub kind: NotificationKind,
    pub to: String,
    pub cause: Uuid,
    pub reason: String,
    /// Trying again cannot help (an address that does not exist, a number that cannot take SMS).
    pub permanent: bool,
}

/// Staff chose when this invite's contacts are reminded; None: as the firm's default says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemindersChanged {
    pub reminders: Option<ReminderPlan>,
    pub previous: Option<ReminderPlan>,
    pub changed_by: StaffMember,
}

/// The invite's sender was told, in one email, of contacts' uploads, forms and messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffDigestSent {
    pub staff_id: StaffId,
    pub to: String,
    /// The events it told of.
    pub covers: Vec<Uuid>,
    pub provider_message_id: Option<String>,
}

/// A digest email to the invite's sender could not be delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffDigestFailed {
    pub staff_id: StaffId,
    pub to: String,
    pub covers: Vec<Uuid>,
    pub reason: String,
    /// Trying again cannot help; the events it would have told of are not told again.
    pub permanent: bool,
}

impl InviteEvent {
    /// Every event type with the schema version this code writes. A fixture must exist for each
    /// (`domain/tests/fixtures/events/{type}.v{version}.json`); the fixture test enforces it.
    pub const TYPES: &'static [(&'static str, u32)] = &[
        ("InviteSent", 1),
        ("ContactAdded", 1),
        ("RequestAdded", 1),
        ("DocumentUploaded", 1),
        ("FormSubmitted", 1),
        ("MessagePosted", 1),
        ("DocumentAccepted", 1),
        ("DocumentRejected", 1),
        ("DueDateChanged", 1),
        ("InviteCancelled", 1),
        ("InviteCompleted", 1),
        ("PortalLinkReissued", 1),
        ("PortalOpened", 1),
        ("PortalPasswordRefused", 1),
        ("NotificationSent", 1),
        ("NotificationFailed", 1),
        ("RemindersChanged", 1),
        ("StaffDigestSent", 1),
        ("StaffDigestFailed", 1),
    ];
}

impl EventSchema for InviteEvent {
    fn event_type(&self) -> &'static str {
        match self {
            InviteEvent::InviteSent(_) => "InviteSent",
            InviteEvent::ContactAdded(_) => "ContactAdded",
            InviteEvent::RequestAdded(_) => "RequestAdded",
            InviteEvent::DocumentUploaded(_) => "DocumentUploaded",
            InviteEvent::FormSubmitted(_) => "FormSubmitted",
            InviteEvent::MessagePosted(_) => "MessagePosted",
            InviteEvent::DocumentAccepted(_) => "DocumentAccepted",
            InviteEvent::DocumentRejected(_) => "DocumentRejected",
            InviteEvent::DueDateChanged(_) => "DueDateChanged",
            InviteEvent::InviteCancelled(_) => "InviteCancelled",
            InviteEvent::InviteCompleted(_) => "InviteCompleted",
            InviteEvent::PortalLinkReissued(_) => "PortalLinkReissued",
            InviteEvent::PortalOpened(_) => "PortalOpened",
            InviteEvent::PortalPasswordRefused(_) => "PortalPasswordRefused",
            InviteEvent::NotificationSent(_) => "NotificationSent",
            InviteEvent::NotificationFailed(_) => "NotificationFailed",
            InviteEvent::RemindersChanged(_) => "RemindersChanged",
            InviteEvent::StaffDigestSent(_) => "StaffDigestSent",
            InviteEvent::StaffDigestFailed(_) => "StaffDigestFailed",
        }
    }

    fn schema_version(&self) -> u32 {
        current_version(Self::TYPES, self.event_type()).expect("every event type is listed in InviteEvent::TYPES")
    }

    fn to_json(&self) -> String {
        let json = match self {
            InviteEvent::InviteSent(e) => serde_json::to_string(e),
            InviteEvent::ContactAdded(e) => serde_json::to_string(e),
            InviteEvent::RequestAdded(e) => serde_json::to_string(e),
            InviteEvent::DocumentUploaded(e) => serde_json::to_string(e),
            InviteEvent::FormSubmitted(e) => serde_json::to_string(e),
            InviteEvent::MessagePosted(e) => serde_json::to_string(e),
            InviteEvent::DocumentAccepted(e) => serde_json::to_string(e),
            InviteEvent::DocumentRejected(e) => serde_json::to_string(e),
            InviteEvent::DueDateChanged(e) => serde_json::to_string(e),
            InviteEvent::InviteCancelled(e) => serde_json::to_string(e),
            InviteEvent::InviteCompleted(e) => serde_json::to_string(e),
            InviteEvent::PortalLinkReissued(e) => serde_json::to_string(e),
            InviteEvent::PortalOpened(e) => serde_json::to_string(e),
            InviteEvent::PortalPasswordRefused(e) => serde_json::to_string(e),
            InviteEvent::NotificationSent(e) => serde_json::to_string(e),
            InviteEvent::NotificationFailed(e) => serde_json::to_string(e),
            InviteEvent::RemindersChanged(e) => serde_json::to_string(e),
            InviteEvent::StaffDigestSent(e) => serde_json::to_string(e),
            InviteEvent::StaffDigestFailed(e) => serde_json::to_string(e),
        };
        // Serialising plain structs of strings, numbers and maps with string keys cannot fail.
        json.expect("invite events always serialise")
    }

    fn from_json(event_type: &str, schema_version: u32, json: &str) -> Result<Self, EventDecodeError> {
        check_known(Self::TYPES, event_type, schema_version)?;
        let (t, v) = (event_type, schema_version);
        // One arm per (type, version) ever written. When a type moves to version 2, its version 1 arm
        // stays and upcasts the old payload to the new struct.
        match (t, v) {
            ("InviteSent", 1) => payload(t, v, json).map(InviteEvent::InviteSent),
            ("ContactAdded", 1) => payload(t, v, json).map(InviteEvent::ContactAdded),
            ("RequestAdded", 1) => payload(t, v, json).map(InviteEvent::RequestAdded),
            ("DocumentUploaded", 1) => payload(t, v, json).map(InviteEvent::DocumentUploaded),
            ("FormSubmitted", 1) => payload(t, v, json).map(InviteEvent::FormSubmitted),
            ("MessagePosted", 1) => payload(t, v, json).map(InviteEvent::MessagePosted),
            ("DocumentAccepted", 1) => payload(t, v, json).map(InviteEvent::DocumentAccepted),
            ("DocumentRejected", 1) => payload(t, v, json).map(InviteEvent::DocumentRejected),
            ("DueDateChanged", 1) => payload(t, v, json).map(InviteEvent::DueDateChanged),
            ("InviteCancelled", 1) => payload(t, v, json).map(InviteEvent::InviteCancelled),
            ("InviteCompleted", 1) => payload(t, v, json).map(InviteEvent::InviteCompleted),
            ("PortalLinkReissued", 1) => payload(t, v, json).map(InviteEvent::PortalLinkReissued),
            ("PortalOpened", 1) => payload(t, v, json).map(InviteEvent::PortalOpened),
            ("PortalPasswordRefused", 1) => payload(t, v, json).map(InviteEvent::PortalPasswordRefused),
            ("NotificationSent", 1) => payload(t, v, json).map(InviteEvent::NotificationSent),
            ("NotificationFailed", 1) => payload(t, v, json).map(InviteEvent::NotificationFailed),
            ("RemindersChanged", 1) => payload(t, v, json).map(InviteEvent::RemindersChanged),
            ("StaffDigestSent", 1) => payload(t, v, json).map(InviteEvent::StaffDigestSent),
            ("StaffDigestFailed", 1) => payload(t, v, json).map(InviteEvent::StaffDigestFailed),
            _ => Err(never_written(t, v)),
        }
    }
}
