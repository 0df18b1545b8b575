//! The team's record, for owners and viewers (the compliance reviewer): who joined, roles, who was
//! deactivated, every sign-in and refusal, newest first, a hundred to a page, and all of it as CSV.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use lodge_domain::team::Role;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{html, page};
use crate::console::ConsoleMember;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::pages::templates::serialized;
use crate::staff::team_record::{self, Part, TeamRecordEntry};
use crate::state::AppState;

/// Entries on one page.
const PER_PAGE: usize = 100;

/// Owners keep the team, viewers review it; staff send invites and do not need it.
fn may_read(member: &ConsoleMember) -> Result<(), ApiError> {
    match member.staff.role {
        Role::Owner | Role::Viewer => Ok(()),
        Role::Staff => Err(ApiError::Forbidden(
            "the team's record is for owners and viewers: ask an owner".into(),
        )),
    }
}

#[derive(Deserialize, Default)]
pub(super) struct RecordQuery {
    #[serde(default)]
    part: Part,
    #[serde(default)]
    page: Option<usize>,
}

/// An entry as the page and the CSV say it: the words filled in.
#[derive(Serialize)]
struct Said<'a> {
    #[serde(flatten)]
    entry: &'a TeamRecordEntry,
    said: String,
}

fn said(state: &AppState, entry: &TeamRecordEntry) -> String {
    let words = state.pages.console_text(&format!("record_{}", entry.what));
    let words = if words.is_empty() { entry.what.clone() } else { words };
    words
        .replace("{member}", &entry.member)
        .replace("{detail}", entry.detail.as_deref().unwrap_or_default())
}

pub(super) async fn record(
    State(state): State<AppState>,
    member: ConsoleMember,
    QueryParams(query): QueryParams<RecordQuery>,
) -> Result<Response, ApiError> {
    may_read(&member)?;
    let entries = team_record::entries(&state.log, query.part).await?;
    let pages = entries.len().div_ceil(PER_PAGE).max(1);
    let page_number = query.page.unwrap_or(1).clamp(1, pages);
    let shown: Vec<Said> = entries
        .iter()
        .skip((page_number - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|entry| Said {
            entry,
            said: said(&state, entry),
        })
        .collect();
    let part = serde_json::to_value(query.part)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));
    let values = context! {
        entries => serialized(&shown),
        total => entries.len(),
        part,
        page_number,
        pages,
        ..page(&state, "team_record_heading", Some(&member), "team")
    };
    Ok(html(
        StatusCode::OK,
        state.pages.render("console/team_record.html", values)?,
    ))
}

/// The whole record as CSV, oldest first, cells safe to open in a spreadsheet.
pub(super) async fn csv(
    State(state): State<AppState>,
    member: ConsoleMember,
    QueryParams(query): QueryParams<RecordQuery>,
) -> Result<Response, ApiError> {
    may_read(&member)?;
    let mut entries = team_record::entries(&state.log, query.part).await?;
    entries.reverse();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::Internal(format!("writing the team's record: {e}"));
    writer
        .write_record(["position", "at", "by", "what", "member", "ip", "user_agent"])
        .map_err(fail)?;
    for entry in &entries {
        let safe = lodge_projections::audit::spreadsheet_safe;
        writer
            .write_record([
                entry.position.to_string(),
                entry.at.to_rfc3339(),
                safe(entry.by.clone().unwrap_or_else(|| "Lodge".into())),
                safe(said(&state, entry)),
                safe(entry.member.clone()),
                entry.ip.clone().unwrap_or_default(),
                safe(entry.user_agent.clone().unwrap_or_default()),
            ])
            .map_err(fail)?;
    }
    let body = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(format!("writing the team's record: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"team-record.csv\""),
        ],
        body,
    )
        .into_response())
}
