//! The audit trail: one entry per event of every invite, saying when, who (staff member, contact or
//! Lodge itself), what, on which request and document (with the file's SHA-256), and from where.
//! Entries never change once written, so only an invite's new events are added on each pass.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use lodge_domain::invite::InviteEvent;
use lodge_domain::{Actor, ContactId, DocumentId, InviteId, RequestId};
use lodge_eventlog::Engine;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use uuid::Uuid;

use crate::error::ProjectionError;
use crate::history::{HistoryEvent, InviteHistory, Touched};
use crate::load::Load;
use crate::projection::{Generation, Projection, Table};
use crate::row_values::Bytes;
use crate::store::ReadStore;
use crate::tables::Column;
use crate::tables::bytes_from_hex;

mod read;
mod table;

pub use read::{AuditFilter, entries, spreadsheet_safe};
pub use table::AuditProjection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub position: i64,
    pub invite_id: InviteId,
    pub stream_version: u64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// What happened, e.g. `document_uploaded`.
    pub action: String,
    pub contact_id: Option<ContactId>,
    pub request_id: Option<RequestId>,
    pub document_id: Option<DocumentId>,
    pub sha256: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A short human account: a title, a file name, a reason.
    pub detail: Option<String>,
    /// The event's link in its invite's hash chain (hex), to check against `lodge verify`.
    pub event_hash: String,
}

/// `DocumentUploaded` → `document_uploaded`.
fn action(event: &InviteEvent) -> String {
    use lodge_domain::EventSchema;
    let mut out = String::new();
    for (i, c) in event.event_type().chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The entries of every event of the history after `after_version`.
pub fn render(history: &InviteHistory, after_version: u64) -> Vec<AuditEntry> {
    let mut entries = Vec::with_capacity(history.events.len());
    render_into(history, after_version, &mut entries);
    entries
}

/// [`render`], onto the end of `entries`: a rebuild renders a page of invites into one vector
/// sized for all of them, where collecting each invite's on the way grew it, moving every entry
/// again at each doubling (a tenth of a rebuild's rendering in its profile).
fn render_into(history: &InviteHistory, after_version: u64, entries: &mut Vec<AuditEntry>) {
    // Reviews name the document; its hash and request come from its upload.
    let mut uploads: BTreeMap<DocumentId, (String, RequestId, ContactId)> = BTreeMap::new();
    for recorded in history.events.iter() {
        if let InviteEvent::DocumentUploaded(e) = &recorded.event {
            uploads.insert(
                e.document_id,
                (e.sha256.as_str().to_owned(), e.request_id, e.contact_id),
            );
        }
        if recorded.stream_version > after_version {
            entries.push(entry(history.invite_id, recorded, &uploads));
        }
    }
}

/// `hex::encode` builds its string a char at a time, which showed in a rebuild's profile; its
/// `encode_to_slice` writes bytes.
fn hash_hex(hash: &[u8; 32]) -> String {
    let mut digits = [0u8; 64];
    hex::encode_to_slice(hash, &mut digits).expect("64 digits for 32 bytes");
    String::from_utf8(digits.to_vec()).expect("hex digits are ASCII")
}

fn entry(
    invite_id: InviteId,
    recorded: &HistoryEvent,
    uploads: &BTreeMap<DocumentId, (String, RequestId, ContactId)>,
) -> AuditEntry {
    let source = recorded.metadata.source.as_ref();
    let mut entry = AuditEntry {
        position: recorded.position.0,
        invite_id,
        stream_version: recorded.stream_version,
        at: recorded.recorded_at,
        actor: recorded.metadata.actor.clone(),
        action: action(&recorded.event),
        contact_id: None,
        request_id: None,
        document_id: None,
        sha256: None,
        ip: source.and_then(|s| s.ip).map(|ip| ip.to_string()),
        user_agent: source.and_then(|s| s.user_agent.clone()),
        detail: None,
        event_hash: hash_hex(&recorded.hash),
    };
    let review = |document: DocumentId| uploads.get(&document).cloned();
    match &recorded.event {
        InviteEvent::InviteSent(e) => {
            entry.detail = Some(format!(
                "\"{}\" to {} contacts, {} requests",
                e.title,
                e.contacts.len(),
                e.requests.len()
            ))
        }
        InviteEvent::ContactAdded(e) => {
            entry.contact_id = Some(e.contact.id);
            entry.detail = Some(e.contact.name.clone());
        }
        InviteEvent::RequestAdded(e) => {
            entry.request_id = Some(e.request.id);
            entry.detail = Some(e.request.title.clone());
        }
        InviteEvent::DocumentUploaded(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.request_id = Some(e.request_id);
            entry.document_id = Some(e.document_id);
            entry.sha256 = Some(e.sha256.as_str().to_owned());
            entry.detail = Some(format!("{} ({} bytes, {})", e.file_name, e.size_bytes, e.content_type));
        }
        InviteEvent::FormSubmitted(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.request_id = Some(e.request_id);
        }
        InviteEvent::MessagePosted(e) => entry.contact_id = Some(e.contact_id),
        InviteEvent::DocumentAccepted(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.request_id = Some(e.request_id);
            entry.document_id = Some(e.document_id);
            entry.sha256 = review(e.document_id).map(|(sha, ..)| sha);
        }
        InviteEvent::DocumentRejected(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.request_id = Some(e.request_id);
            entry.document_id = Some(e.document_id);
            entry.sha256 = review(e.document_id).map(|(sha, ..)| sha);
            entry.detail = Some(e.reason.clone());
        }
        InviteEvent::DueDateChanged(e) => {
            let date = |d: Option<chrono::NaiveDate>| d.map_or("none".to_owned(), |d| d.to_string());
            entry.detail = Some(format!("from {} to {}", date(e.previous), date(e.due_on)));
        }
        InviteEvent::InviteCancelled(e) => entry.detail = e.reason.clone(),
        InviteEvent::InviteCompleted(e) => {
            entry.detail = Some(
                if e.completed_by.is_none() {
                    "every request done"
                } else {
                    "marked complete"
                }
                .to_owned(),
            )
        }
        InviteEvent::PortalLinkReissued(e) => entry.contact_id = Some(e.contact_id),
        InviteEvent::PortalOpened(e) => visit(&mut entry, e.contact_id, e.ip, &e.user_agent),
        InviteEvent::PortalPasswordRefused(e) => visit(&mut entry, e.contact_id, e.ip, &e.user_agent),
        InviteEvent::NotificationSent(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.detail = Some(format!("{} by {} to {}", e.kind.describe(), channel(e.channel), e.to));
        }
        InviteEvent::NotificationFailed(e) => {
            entry.contact_id = Some(e.contact_id);
            let kind = if e.permanent {
                "failed for good"
            } else {
                "failed, to be retried"
            };
            entry.detail = Some(format!(
                "{} by {} to {} {kind}: {}",
                e.kind.describe(),
                channel(e.channel),
                e.to,
                e.reason
            ));
        }
        InviteEvent::RemindersChanged(e) => {
            entry.detail = Some(match &e.reminders {
                None => "reminders as the firm's default".to_owned(),
                Some(plan) => describe_reminders(plan),
            })
        }
        InviteEvent::StaffDigestSent(e) => {
            entry.detail = Some(format!("digest of {} to {}", activities(e.covers.len()), e.to))
        }
        InviteEvent::StaffDigestFailed(e) => {
            let kind = if e.permanent {
                "failed for good"
            } else {
                "failed, to be retried"
            };
            entry.detail = Some(format!(
                "digest of {} to {} {kind}: {}",
                activities(e.covers.len()),
                e.to,
                e.reason
            ))
        }
    }
    entry
}

fn activities(n: usize) -> String {
    if n == 1 {
        "1 activity".to_owned()
    } else {
        format!("{n} activities")
    }
}

fn describe_reminders(plan: &lodge_domain::reminder::ReminderPlan) -> String {
    if plan.at_most == 0 {
        return "reminders off".to_owned();
    }
    let before: Vec<String> = plan.days_before.iter().map(u32::to_string).collect();
    format!(
        "reminders {} days before the due date, every {} days while overdue, {} at most",
        if before.is_empty() {
            "no".to_owned()
        } else {
            before.join(", ")
        },
        plan.overdue_every_days,
        plan.at_most
    )
}

fn channel(channel: lodge_domain::contact::Channel) -> &'static str {
    match channel {
        lodge_domain::contact::Channel::Email => "email",
        lodge_domain::contact::Channel::Sms => "SMS",
    }
}

/// A portal visit: the event itself says where it came from.
fn visit(entry: &mut AuditEntry, contact: ContactId, ip: Option<std::net::IpAddr>, user_agent: &Option<String>) {
    entry.contact_id = Some(contact);
    entry.ip = ip.map(|ip| ip.to_string()).or(entry.ip.take());
    entry.user_agent = user_agent.clone().or(entry.user_agent.take());
}
