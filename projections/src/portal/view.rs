//! What a contact sees on their portal, as stored: the API serves it with the parts that depend on
//! the moment of reading (days until due, the firm's details) added.

use chrono::{DateTime, NaiveDate, Utc};
use lodge_domain::request::{Answers, FormField};
use lodge_domain::{ContactId, DocumentId, InviteId, MessageId, RequestId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalView {
    pub invite: PortalInvite,
    pub contact: PortalContact,
    pub sender: PortalSender,
    pub totals: Totals,
    pub requests: Vec<PortalRequest>,
    /// The thread between the firm and this contact, oldest first.
    pub messages: Vec<PortalMessage>,
}

impl PortalView {
    /// Days from `today` (in the firm's time zone) to the due date; negative when overdue.
    pub fn days_until_due(&self, today: NaiveDate) -> Option<i64> {
        self.invite.due_on.map(|due| (due - today).num_days())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InviteStatus {
    Open,
    Completed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalInvite {
    pub id: InviteId,
    pub title: String,
    pub message: Option<String>,
    pub status: InviteStatus,
    pub due_on: Option<NaiveDate>,
    pub password_protected: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortalContact {
    pub id: ContactId,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// The staff member who sent the invite: the portal's Contact tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortalSender {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    pub total: u32,
    pub done: u32,
    pub outstanding: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RequestKind {
    File,
    Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RequestStatus {
    Open,
    WaitingForReview,
    Accepted,
    /// Staff rejected a document and nothing was uploaded since: `reason` says why.
    Rejected,
    FormSubmitted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortalRequest {
    pub id: RequestId,
    pub kind: RequestKind,
    pub title: String,
    pub description: Option<String>,
    pub status: RequestStatus,
    pub reason: Option<String>,
    /// File requests: accepted MIME types (empty: any) and the most files.
    pub allowed_types: Vec<String>,
    pub max_files: Option<u32>,
    /// Form requests: the fields, and the answers once submitted.
    pub fields: Vec<FormField>,
    pub answers: Option<Answers>,
    pub documents: Vec<PortalDocument>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DocumentStatus {
    WaitingForReview,
    Accepted,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortalDocument {
    pub id: DocumentId,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
    pub status: DocumentStatus,
    pub reason: Option<String>,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MessageFrom {
    Staff,
    Contact,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortalMessage {
    pub id: MessageId,
    pub from: MessageFrom,
    pub author: String,
    pub body: String,
    pub at: DateTime<Utc>,
}
