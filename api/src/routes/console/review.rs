//! The review queue: every document waiting for review, across invites, oldest first, each with its
//! preview beside it and accept / reject forms; the keyboard moves through it (console.js: j and k
//! move, a accepts, r goes to the reason). A review posted here comes back here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lodge_domain::team::Role;
use lodge_projections::Projection;
use lodge_projections::staff::{self, StaffProjection, WaitingDocument};
use minijinja::context;
use serde::Serialize;

use super::invite::PREVIEWED_TYPES;
use super::{html, page};
use crate::console::ConsoleMember;
use crate::error::ApiError;
use crate::extract::{QueryParams, ReadAfter};
use crate::pages::templates::serialized;
use crate::state::AppState;

/// Documents the queue shows at once; the rest follow as these are reviewed.
const SHOWN: u32 = 100;

#[derive(Serialize)]
struct QueueItem<'a> {
    #[serde(flatten)]
    waiting: &'a WaitingDocument,
    previewed: bool,
}

pub(super) async fn queue(
    State(state): State<AppState>,
    member: ConsoleMember,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Response, ApiError> {
    state
        .wait_for(StaffProjection::NAME, read.position()?, Some(&member.staff.writer()))
        .await?;
    let waiting = staff::waiting(&state.read_models, SHOWN).await?;
    let total = staff::waiting_count(&state.read_models).await?;
    let items: Vec<QueueItem> = waiting
        .iter()
        .map(|waiting| QueueItem {
            waiting,
            previewed: PREVIEWED_TYPES.contains(&waiting.document.content_type.as_str()),
        })
        .collect();
    let values = context! {
        items => serialized(&items),
        total,
        can_change => member.staff.role.includes(Role::Staff),
        live => "/staff/live",
        ..page(&state, "queue_heading", Some(&member), "review")
    };
    Ok(html(StatusCode::OK, state.pages.render("console/review.html", values)?))
}
