//! The dashboard: counts at the top, then the invites as a table with their progress, due dates
//! and status; search, filters and paging in the address, so that a link keeps them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use lodge_projections::portal::InviteStatus;
use std::sync::Arc;

use lodge_projections::Projection;
use lodge_projections::staff::{self, InviteSummary, StaffProjection};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{HOME, html, page};
use crate::console::ConsoleMember;
use crate::console::dashboard_cache::DefaultView;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::pages::templates::serialized;
use crate::staff::invites::{self, ListQuery};
use crate::state::AppState;

/// Invites per page of the dashboard.
const PAGE_SIZE: u32 = 50;

/// Which invites the dashboard shows.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DashboardQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    show: Show,
    #[serde(default)]
    offset: u32,
    /// A live page fetching itself once a change it was told of is in the read models.
    after: Option<i64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Show {
    #[default]
    All,
    Open,
    Overdue,
    Completed,
    Cancelled,
}

/// An invite as a row of the dashboard: the summary, with its due date in words.
#[derive(Serialize)]
struct InviteRow<'a> {
    #[serde(flatten)]
    summary: &'a InviteSummary,
    days_left: Option<i64>,
    due_words: String,
}

pub(super) async fn dashboard(
    State(state): State<AppState>,
    member: ConsoleMember,
    QueryParams(query): QueryParams<DashboardQuery>,
) -> Result<Response, ApiError> {
    let (status, overdue) = match query.show {
        Show::All => (None, false),
        Show::Open => (Some(InviteStatus::Open), false),
        Show::Overdue => (None, true),
        Show::Completed => (Some(InviteStatus::Completed), false),
        Show::Cancelled => (Some(InviteStatus::Cancelled), false),
    };
    let q = query.q.trim().to_owned();
    if q.chars().count() > 200 {
        return Err(ApiError::Invalid("search for at most 200 characters".into()));
    }
    let today = state.firm.today();
    let writer = member.staff.writer();
    // The plain first page, with nothing of the reader's own still to show, is shared a moment.
    let shared = q.is_empty()
        && query.show == Show::All
        && query.offset == 0
        && query.after.is_none()
        && state.own_writes.pending(&writer, StaffProjection::NAME).is_none();
    let read = || async {
        // One more than a page, to know whether there is an older page.
        let list = invites::list(
            &state,
            &writer,
            ListQuery {
                status,
                overdue,
                contact: None,
                q: Some(q.clone()),
                limit: Some(PAGE_SIZE + 1),
                offset: Some(query.offset),
                after: query.after,
            },
        )
        .await?;
        let counts = staff::counts(&state.read_models, today, state.firm.month_start()).await?;
        let rows: Vec<InviteRow> = list
            .invites
            .iter()
            .take(PAGE_SIZE as usize)
            .map(|summary| InviteRow {
                days_left: summary.due_on.map(|due| (due - today).num_days()),
                due_words: due_words(&state, summary.due_on, today),
                summary,
            })
            .collect();
        let table = state.pages.render(
            "console/invite_table.html",
            context! { invites => serialized(&rows), q => &q, show => show_name(query.show) },
        )?;
        Ok::<_, ApiError>(Arc::new(DefaultView {
            counts,
            invites: list.invites,
            table,
        }))
    };
    let view = if shared {
        match state.dashboard.get(today) {
            Some(view) => view,
            None => {
                // One request reads it again; the others wait for that read and share it.
                let _turn = state.dashboard.refill.lock().await;
                match state.dashboard.get(today) {
                    Some(view) => view,
                    None => {
                        let read_at = std::time::Instant::now();
                        let view = read().await?;
                        state.dashboard.keep(read_at, today, view.clone());
                        view
                    }
                }
            }
        }
    } else {
        read().await?
    };
    let counts = view.counts;
    let more = view.invites.len() > PAGE_SIZE as usize;
    let link = |offset: u32| {
        let mut address = url::form_urlencoded::Serializer::new(String::new());
        if !q.is_empty() {
            address.append_pair("q", &q);
        }
        if query.show != Show::All {
            address.append_pair("show", show_name(query.show));
        }
        if offset > 0 {
            address.append_pair("offset", &offset.to_string());
        }
        let query = address.finish();
        if query.is_empty() {
            HOME.to_owned()
        } else {
            format!("{HOME}?{query}")
        }
    };
    let values = context! {
        counts => serialized(&counts),
        table => minijinja::Value::from_safe_string(view.table.clone()),
        q => &q,
        show => show_name(query.show),
        newer => (query.offset > 0).then(|| link(query.offset.saturating_sub(PAGE_SIZE))),
        older => more.then(|| link(query.offset + PAGE_SIZE)),
        live => "/staff/live",
        ..page(&state, "dashboard_heading", Some(&member), "invites")
    };
    Ok(html(
        StatusCode::OK,
        state.pages.render("console/dashboard.html", values)?,
    ))
}

fn show_name(show: Show) -> &'static str {
    match show {
        Show::All => "all",
        Show::Open => "open",
        Show::Overdue => "overdue",
        Show::Completed => "completed",
        Show::Cancelled => "cancelled",
    }
}

/// "in 3 days", "today", "2 days overdue".
pub(super) fn due_words(state: &AppState, due_on: Option<NaiveDate>, today: NaiveDate) -> String {
    let Some(due) = due_on else {
        return state.pages.console_text("no_due_date");
    };
    let days = (due - today).num_days();
    let (key, n) = match days {
        0 => ("due_today", 0),
        1 => ("due_tomorrow", 1),
        -1 => ("overdue_by_one_day", 1),
        d if d > 1 => ("due_in_days", d),
        d => ("overdue_by_days", -d),
    };
    state.pages.console_text(key).replace("{days}", &n.to_string())
}
