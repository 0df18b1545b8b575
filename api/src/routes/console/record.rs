//! The record of an invite, for compliance: the check of its hash chain (a badge, or an alarm), the
//! invite as it stood at any moment (from the log alone), one document's chain of custody, and the
//! audit trail as a table, filtered by what happened, downloadable as CSV or JSON lines.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{NaiveDateTime, TimeZone};
use lodge_domain::{DocumentId, InviteId};
use minijinja::context;
use serde::Deserialize;

use super::{html, page};
use crate::console::ConsoleMember;
use crate::error::ApiError;
use crate::extract::{PathParams, QueryParams};
use crate::pages::templates::serialized;
use crate::staff::records::{self, AuditFormat, AuditQuery};
use crate::state::AppState;

/// Entries the page shows; the downloads hold them all.
const SHOWN: usize = 1_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordQuery {
    /// A moment in the firm's time zone, as a browser's `datetime-local` gives it.
    #[serde(default)]
    as_of: String,
    /// Only entries of this kind (`document_uploaded`, …).
    #[serde(default)]
    action: String,
    /// One document's chain of custody.
    document: Option<DocumentId>,
}

pub(super) async fn record(
    State(state): State<AppState>,
    member: ConsoleMember,
    PathParams(invite): PathParams<InviteId>,
    QueryParams(query): QueryParams<RecordQuery>,
) -> Result<Response, ApiError> {
    let at = match query.as_of.trim() {
        "" => None,
        text => {
            let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
                .map_err(|_| {
                    ApiError::Invalid(format!(
                        "`{text}` is not a moment: give a date and time such as 2026-12-05T14:30"
                    ))
                })?;
            let zoned = state
                .settings
                .firm
                .time_zone
                .from_local_datetime(&local)
                .earliest()
                .ok_or_else(|| {
                    ApiError::Invalid(format!(
                        "{text} does not exist in the firm's time zone (a clock change skipped it)"
                    ))
                })?;
            Some(zoned.with_timezone(&chrono::Utc))
        }
    };
    let now = records::invite_as_of(&state, invite, None).await?;
    let then = match at {
        Some(at) => Some(records::invite_as_of(&state, invite, Some(at)).await?),
        None => None,
    };
    let custody = match query.document {
        Some(document) => Some(records::custody(&state, invite, document, at).await?),
        None => None,
    };
    let entries = records::entries(&state, &member.staff.writer(), invite, SHOWN).await?;
    let mut actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    actions.sort_unstable();
    actions.dedup();
    let shown: Vec<_> = entries
        .iter()
        .filter(|e| query.action.is_empty() || e.action == query.action)
        .collect();
    let values = context! {
        invite => serialized(&now.invite),
        chain => serialized(&now.chain),
        then => then.as_ref().map(serialized),
        custody => custody.as_ref().map(serialized),
        entries => serialized(&shown),
        actions => serialized(&actions),
        action => &query.action,
        as_of => query.as_of.trim(),
        more => entries.len() >= SHOWN,
        page_title => format!("{} · {}", state.pages.console_text("record_heading"), now.invite.title),
        ..page(&state, "record_heading", Some(&member), "invites")
    };
    Ok(html(StatusCode::OK, state.pages.render("console/record.html", values)?))
}

/// The whole audit trail as a file: CSV, or JSON lines.
pub(super) async fn download(
    State(state): State<AppState>,
    member: ConsoleMember,
    PathParams((invite, format)): PathParams<(InviteId, String)>,
) -> Result<Response, ApiError> {
    let format = match format.as_str() {
        "csv" => AuditFormat::Csv,
        "jsonl" => AuditFormat::Jsonl,
        other => {
            return Err(ApiError::NotFound(format!(
                "the record comes as csv or jsonl, not {other}"
            )));
        }
    };
    records::audit_trail(
        &state,
        &member.staff.writer(),
        invite,
        AuditQuery { format, after: None },
    )
    .await
}
