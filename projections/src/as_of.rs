//! Compliance: what an invite looked like at any moment, and a document's chain of custody, from the
//! log alone (no read model), with the check of the invite's hash chain.

use chrono::{DateTime, Utc};
use lodge_domain::{Actor, ContactId, DocumentId, InviteId, RequestId};
use lodge_eventlog::{EventLog, LogError, StreamId, VerifyReport};
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditEntry};
use crate::history::InviteHistory;
use crate::staff::{self, StaffInviteView};

#[derive(Debug, thiserror::Error)]
pub enum AsOfError {
    #[error("there is no invite {0}")]
    UnknownInvite(InviteId),
    #[error("invite {invite} did not exist yet at {as_of}: it was sent at {sent_at}")]
    BeforeItExisted {
        invite: InviteId,
        as_of: DateTime<Utc>,
        sent_at: DateTime<Utc>,
    },
    #[error("invite {invite} had no document {document} at {as_of}")]
    UnknownDocument {
        invite: InviteId,
        document: DocumentId,
        as_of: DateTime<Utc>,
    },
    #[error(transparent)]
    Log(#[from] LogError),
}

/// The result of checking the invite's hash chain (the whole stream, not only up to the moment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainCheck {
    pub events: u64,
    pub intact: bool,
    pub broken: Option<String>,
}

impl From<VerifyReport> for ChainCheck {
    fn from(report: VerifyReport) -> Self {
        Self {
            events: report.events,
            intact: report.broken.is_none(),
            broken: report.broken.map(|b| b.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteAsOf {
    pub as_of: DateTime<Utc>,
    /// Events up to the moment, and when the last of them happened.
    pub events: usize,
    pub last_event_at: DateTime<Utc>,
    pub invite: StaffInviteView,
    pub chain: ChainCheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Custodial {
    Uploaded,
    Accepted,
    Rejected,
    /// The contact sent another file for the same request after this one was rejected.
    ReplacedBy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustodyStep {
    pub at: DateTime<Utc>,
    pub position: i64,
    pub step: Custodial,
    pub actor: Actor,
    pub document_id: DocumentId,
    pub sha256: Option<String>,
    /// The file (for uploads), or the reason (for rejections).
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub event_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Custody {
    pub as_of: DateTime<Utc>,
    pub invite_id: InviteId,
    pub document_id: DocumentId,
    pub request_id: Option<RequestId>,
    pub contact_id: Option<ContactId>,
    pub steps: Vec<CustodyStep>,
    pub chain: ChainCheck,
}

/// The invite's history up to `as_of` (now when None), and the check of its chain.
async fn history_until(
    log: &EventLog,
    invite: InviteId,
    as_of: DateTime<Utc>,
) -> Result<(InviteHistory, ChainCheck), AsOfError> {
    let stream = StreamId::invite(invite);
    let recorded = match log.read_stream(&stream).await {
        Ok(recorded) => recorded,
        Err(LogError::UnknownStream(_)) => return Err(AsOfError::UnknownInvite(invite)),
        Err(error) => return Err(error.into()),
    };
    let sent_at = recorded[0].recorded_at;
    if as_of < sent_at {
        return Err(AsOfError::BeforeItExisted { invite, as_of, sent_at });
    }
    let until: Vec<_> = recorded.into_iter().take_while(|e| e.recorded_at <= as_of).collect();
    let history = InviteHistory::decode(invite, &until)?;
    let chain = log.verify_stream(&stream).await?.into();
    Ok((history, chain))
}

/// The invite as it stood at `as_of` (now when None).
pub async fn invite(log: &EventLog, invite: InviteId, as_of: Option<DateTime<Utc>>) -> Result<InviteAsOf, AsOfError> {
    let as_of = as_of.unwrap_or_else(Utc::now);
    let (history, chain) = history_until(log, invite, as_of).await?;
    let view = staff::render(&history).ok_or(AsOfError::UnknownInvite(invite))?;
    Ok(InviteAsOf {
        as_of,
        events: history.events.len(),
        last_event_at: history.events.last().map_or(as_of, |e| e.recorded_at),
        invite: view,
        chain,
    })
}

/// A document's chain of custody up to `as_of` (now when None): who uploaded it, who reviewed it,
/// and what replaced it, when, with hashes.
pub async fn custody(
    log: &EventLog,
    invite: InviteId,
    document: DocumentId,
    as_of: Option<DateTime<Utc>>,
) -> Result<Custody, AsOfError> {
    let as_of = as_of.unwrap_or_else(Utc::now);
    let (history, chain) = history_until(log, invite, as_of).await?;
    let entries = audit::render(&history, 0);
    let upload = entries
        .iter()
        .find(|e| e.document_id == Some(document) && e.action == "document_uploaded")
        .ok_or(AsOfError::UnknownDocument {
            invite,
            document,
            as_of,
        })?;
    let (request_id, contact_id) = (upload.request_id, upload.contact_id);
    let step = |entry: &AuditEntry, step| CustodyStep {
        at: entry.at,
        position: entry.position,
        step,
        actor: entry.actor.clone(),
        document_id: entry.document_id.unwrap_or(document),
        sha256: entry.sha256.clone(),
        detail: entry.detail.clone(),
        ip: entry.ip.clone(),
        user_agent: entry.user_agent.clone(),
        event_hash: entry.event_hash.clone(),
    };
    let mut steps = Vec::new();
    let mut rejected = false;
    for entry in &entries {
        if entry.document_id == Some(document) {
            match entry.action.as_str() {
                "document_uploaded" => steps.push(step(entry, Custodial::Uploaded)),
                "document_accepted" => steps.push(step(entry, Custodial::Accepted)),
                "document_rejected" => {
                    rejected = true;
                    steps.push(step(entry, Custodial::Rejected));
                }
                _ => {}
            }
        } else if rejected
            && entry.action == "document_uploaded"
            && entry.request_id == request_id
            && entry.contact_id == contact_id
        {
            steps.push(step(entry, Custodial::ReplacedBy));
            rejected = false;
        }
    }
    Ok(Custody {
        as_of,
        invite_id: invite,
        document_id: document,
        request_id,
        contact_id,
        steps,
        chain,
    })
}
