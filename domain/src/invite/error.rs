//! Why an Invite refuses a command. Each rule has its own variant so that callers (the API, tests) can
//! tell them apart; the messages are written for the person who made the mistake.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::contact::ContactError;
use crate::digest::DigestError;
use crate::ids::{ContactId, DocumentId, RequestId};
use crate::reminder::ReminderError;
use crate::request::RequestError;
use crate::text::TextError;

use super::state::InviteStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("this invite has not been sent")]
    NotSent,
    #[error("this invite has already been sent")]
    AlreadySent,
    #[error("this invite is {status}; only messages can be added to it now")]
    Closed { status: InviteStatus },
    #[error("an invite needs at least one contact")]
    NoContacts,
    #[error("an invite has at most {max} contacts")]
    TooManyContacts { max: usize },
    #[error("an invite needs at least one request")]
    NoRequests,
    #[error("an invite has at most {max} requests")]
    TooManyRequests { max: usize },
    #[error("{name} is already a contact of this invite (same {same})")]
    DuplicateContact { name: String, same: &'static str },
    #[error("the id {0} is used twice")]
    DuplicateId(Uuid),
    #[error("the due date {due_on} is in the past (today is {today})")]
    DueDateInPast { due_on: NaiveDate, today: NaiveDate },
    #[error("this invite has no contact {0}")]
    UnknownContact(ContactId),
    #[error("this invite has no request {0}")]
    UnknownRequest(RequestId),
    #[error("this invite has no document {0}")]
    UnknownDocument(DocumentId),
    #[error("request {request} is not assigned to contact {contact}")]
    NotAssigned { request: RequestId, contact: ContactId },
    #[error("request {0} asks for files, not form answers")]
    NotAFormRequest(RequestId),
    #[error("request {0} asks for form answers, not files")]
    NotAFileRequest(RequestId),
    #[error(
        "request {request} takes at most {max} files from each contact; wait for a review or replace a rejected file"
    )]
    TooManyFiles { request: RequestId, max: u32 },
    #[error("files of type {content_type} are not accepted for this request (accepted: {allowed})")]
    TypeNotAllowed { content_type: String, allowed: String },
    #[error("`{0}` is not a content type such as application/pdf")]
    InvalidContentType(String),
    #[error("the file `{0}` is empty")]
    EmptyFile(String),
    #[error("`{0}` is not a plain file name: it must not contain `/` or `\\`")]
    InvalidFileName(String),
    #[error("a rejection needs a reason, so that the contact knows what to send instead")]
    RejectionNeedsReason,
    #[error("document {document} is {status}, not waiting for review")]
    NotAwaitingReview { document: DocumentId, status: &'static str },
    #[error("this invite has no portal password, so no password can have been refused")]
    NoPortalPassword,
    #[error(transparent)]
    Text(#[from] TextError),
    #[error(transparent)]
    Contact(#[from] ContactError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Reminder(#[from] ReminderError),
    #[error("a digest tells of at least one event")]
    EmptyDigest,
}
