//! What people ask an Invite to do. Commands carry everything a decision needs that the domain may not
//! find out for itself: ids (chosen by the caller), today's date in the firm's time zone, and hashes of
//! secrets.

use std::collections::BTreeSet;
use std::net::IpAddr;

use chrono::NaiveDate;

use crate::actor::{Sender, StaffMember};
use crate::contact::{Channel, ContactDetails};
use crate::digest::{PasswordHash, TokenHash};
use crate::ids::{ContactId, DocumentId, InviteId, MessageId, RequestId};
use crate::notification::NotificationKind;
use crate::reminder::ReminderPlan;
use crate::request::{Answers, RequestSpec};

#[derive(Debug, Clone, PartialEq)]
pub enum InviteCommand {
    SendInvite(SendInvite),
    AddContact(AddContact),
    AddRequest(AddRequest),
    UploadDocument(UploadDocument),
    SubmitForm(SubmitForm),
    PostMessage(PostMessage),
    ReviewDocument(ReviewDocument),
    ChangeDueDate(ChangeDueDate),
    CancelInvite(CancelInvite),
    CompleteInvite(CompleteInvite),
    ReissuePortalLink(ReissuePortalLink),
    RecordPortalAccess(RecordPortalAccess),
    RecordNotification(RecordNotification),
    ChangeReminders(ChangeReminders),
    RecordStaffDigest(RecordStaffDigest),
}

impl InviteCommand {
    /// The command's name, for logs and tracing spans.
    pub fn name(&self) -> &'static str {
        match self {
            InviteCommand::SendInvite(_) => "SendInvite",
            InviteCommand::AddContact(_) => "AddContact",
            InviteCommand::AddRequest(_) => "AddRequest",
            InviteCommand::UploadDocument(_) => "UploadDocument",
            InviteCommand::SubmitForm(_) => "SubmitForm",
            InviteCommand::PostMessage(_) => "PostMessage",
            InviteCommand::ReviewDocument(_) => "ReviewDocument",
            InviteCommand::ChangeDueDate(_) => "ChangeDueDate",
            InviteCommand::CancelInvite(_) => "CancelInvite",
            InviteCommand::CompleteInvite(_) => "CompleteInvite",
            InviteCommand::ReissuePortalLink(_) => "ReissuePortalLink",
            InviteCommand::RecordPortalAccess(_) => "RecordPortalAccess",
            InviteCommand::RecordNotification(_) => "RecordNotification",
            InviteCommand::ChangeReminders(_) => "ChangeReminders",
            InviteCommand::RecordStaffDigest(_) => "RecordStaffDigest",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SendInvite {
    pub invite_id: InviteId,
    pub title: String,
    pub message: Option<String>,
    pub sender: Sender,
    pub channels: BTreeSet<Channel>,
    pub contacts: Vec<ContactDetails>,
    pub requests: Vec<RequestSpec>,
    pub due_on: Option<NaiveDate>,
    pub portal_password: Option<PasswordHash>,
    /// Today in the firm's time zone, against which the due date is checked.
    pub today: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddContact {
    pub contact: ContactDetails,
    pub by: StaffMember,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddRequest {
    pub request: RequestSpec,
    pub by: StaffMember,
}

/// Records a file already stored in the blob store; the bytes never pass through the domain.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadDocument {
    pub document_id: DocumentId,
    pub request_id: RequestId,
    pub contact_id: ContactId,
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub content_type: String,
    pub blob_key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubmitForm {
    pub request_id: RequestId,
    pub contact_id: ContactId,
    pub answers: Answers,
}

/// Who writes a message. Every thread is between the firm and one contact.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageFrom {
    Staff(StaffMember),
    Contact,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostMessage {
    pub message_id: MessageId,
    /// The contact whose thread this is.
    pub contact_id: ContactId,
    pub from: MessageFrom,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewDecision {
    Accept,
    Reject { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewDocument {
    pub document_id: DocumentId,
    pub decision: ReviewDecision,
    pub reviewer: StaffMember,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeDueDate {
    /// None removes the due date.
    pub due_on: Option<NaiveDate>,
    pub today: NaiveDate,
    pub by: StaffMember,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CancelInvite {
    pub reason: Option<String>,
    pub by: StaffMember,
}

/// Staff mark an invite complete before every request is done ("we have what we need").
/// Lodge completes it by itself when the last request is accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct CompleteInvite {
    pub by: StaffMember,
}

/// Revokes a contact's portal link and gives them a new one.
#[derive(Debug, Clone, PartialEq)]
pub struct ReissuePortalLink {
    pub contact_id: ContactId,
    pub portal_link: TokenHash,
    pub by: StaffMember,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalAccess {
    Opened,
    PasswordRefused,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordPortalAccess {
    pub contact_id: ContactId,
    pub access: PortalAccess,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// What became of a notification the notifier sent: a fact to record, whatever the invite's status.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordNotification {
    pub contact_id: ContactId,
    pub channel: Channel,
    pub kind: NotificationKind,
    /// The address or number it went to.
    pub to: String,
    /// The event that called for it.
    pub cause: uuid::Uuid,
    pub outcome: NotificationOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// The provider accepted it, with its message id when it gives one.
    Delivered { provider_message_id: Option<String> },
    /// It could not be delivered; `permanent` when trying again cannot help.
    Failed { reason: String, permanent: bool },
}

/// Staff choose when this invite's contacts are reminded (None: as the firm's default says).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeReminders {
    pub reminders: Option<ReminderPlan>,
    pub by: StaffMember,
}

/// What became of a digest email telling the invite's sender what contacts uploaded or wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordStaffDigest {
    /// The address it went to.
    pub to: String,
    /// The events (uploads, forms, messages) it told of.
    pub covers: Vec<uuid::Uuid>,
    pub outcome: NotificationOutcome,
}
