//! What staff do with invites: send them, read them, write to contacts, review documents, cancel.
//! Each function is one use case; the routes only extract and map.

mod changes;
mod new_ids;
mod send;

use lodge_domain::{ContactId, InviteId};
use lodge_eventlog::Position;
use lodge_projections::portal::PortalProjection;
use lodge_projections::staff::{self, InviteQuery, InviteSummary, StaffInviteView, StaffProjection};
use lodge_projections::{Projection, portal};
use serde::{Deserialize, Serialize};

pub use changes::{
    AddedContact, AddedRequest, Cancel, Decision, InviteChanges, PostedMessage, Recorded, ReissuedLink, Review,
    StaffMessage, add_contact, add_request, cancel, change, post_message, reissue_link, review,
};
pub use send::{NewContact, NewInvite, NewRequest, SentContact, SentInvite, SentRequest, send};

use crate::error::ApiError;
use crate::extract::after_position;
use crate::own_writes::Writer;
use crate::portal::view::PortalResponse;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub status: Option<lodge_projections::portal::InviteStatus>,
    #[serde(default)]
    pub overdue: bool,
    pub contact: Option<String>,
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    pub after: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InviteList {
    pub invites: Vec<InviteSummary>,
    pub limit: u32,
    pub offset: u32,
}

pub async fn list(state: &AppState, reader: &Writer, query: ListQuery) -> Result<InviteList, ApiError> {
    state
        .wait_for(StaffProjection::NAME, after_position(query.after)?, Some(reader))
        .await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Invalid("limit must be between 1 and 500".into()));
    }
    let offset = query.offset.unwrap_or(0);
    let invites = staff::list(
        &state.read_models,
        &InviteQuery {
            status: query.status,
            overdue: query.overdue,
            today: state.firm.today(),
            contact: query.contact.filter(|c| !c.trim().is_empty()),
            text: query.q.filter(|q| !q.trim().is_empty()),
            limit,
            offset,
        },
    )
    .await?;
    Ok(InviteList { invites, limit, offset })
}

fn no_invite(id: InviteId) -> ApiError {
    ApiError::NotFound(format!("there is no invite {id}"))
}

pub async fn get(
    state: &AppState,
    reader: &Writer,
    id: InviteId,
    after: Option<Position>,
) -> Result<StaffInviteView, ApiError> {
    state.wait_for(StaffProjection::NAME, after, Some(reader)).await?;
    staff::invite(&state.read_models, id)
        .await?
        .ok_or_else(|| no_invite(id))
}

/// Exactly what the contact sees on their portal.
pub async fn portal(
    state: &AppState,
    reader: Option<&Writer>,
    invite: InviteId,
    contact: ContactId,
    after: Option<Position>,
) -> Result<PortalResponse, ApiError> {
    state.wait_for(PortalProjection::NAME, after, reader).await?;
    let view = match portal::portal_view(&state.read_models, invite, contact).await? {
        Some(view) => view,
        None => {
            // Sent a moment ago by someone else (a colleague's view link to it): not known yet is
            // not unknown. Wait for the read model to reach the log's head, then look again.
            let head = state.log.settled_head().await?.max(state.own_writes.latest());
            if head.0 > 0 {
                state.wait_for(PortalProjection::NAME, Some(head), None).await?;
            }
            portal::portal_view(&state.read_models, invite, contact)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("invite {invite} has no contact {contact}")))?
        }
    };
    Ok(PortalResponse::new(&view, &state.firm.get()))
}
