use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lodge_domain::{ContactId, DocumentId, InviteId};
use lodge_projections::staff::StaffInviteView;

use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, QueryParams, ReadAfter, RequestContext};
use crate::portal::view::PortalResponse;
use crate::staff::auth::Staff;
use crate::staff::invites::{self, InviteList, PostedMessage, Recorded, SentInvite};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/invites", post(send_invite).get(list_invites))
        .route("/api/invites/{invite_id}", get(get_invite))
        .route("/api/invites/{invite_id}/portal/{contact_id}", get(portal))
        .route("/api/invites/{invite_id}/messages", post(post_message))
        .route("/api/invites/{invite_id}/documents/{document_id}/review", post(review))
        .route("/api/invites/{invite_id}/cancel", post(cancel))
}

async fn send_invite(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    JsonBody(body): JsonBody<invites::NewInvite>,
) -> Result<(StatusCode, Json<SentInvite>), ApiError> {
    let sent = invites::send(&state, &staff, &context, body).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

async fn list_invites(
    State(state): State<AppState>,
    Staff(_): Staff,
    QueryParams(query): QueryParams<invites::ListQuery>,
) -> Result<Json<InviteList>, ApiError> {
    invites::list(&state, query).await.map(Json)
}

async fn get_invite(
    State(state): State<AppState>,
    Staff(_): Staff,
    PathParams(invite_id): PathParams<InviteId>,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Json<StaffInviteView>, ApiError> {
    invites::get(&state, invite_id, read.position()).await.map(Json)
}

async fn portal(
    State(state): State<AppState>,
    Staff(_): Staff,
    PathParams((invite_id, contact_id)): PathParams<(InviteId, ContactId)>,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Json<PortalResponse>, ApiError> {
    invites::portal(&state, invite_id, contact_id, read.position())
        .await
        .map(Json)
}

async fn post_message(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    PathParams(invite_id): PathParams<InviteId>,
    JsonBody(body): JsonBody<invites::StaffMessage>,
) -> Result<(StatusCode, Json<PostedMessage>), ApiError> {
    let posted = invites::post_message(&state, &staff, &context, invite_id, body).await?;
    Ok((StatusCode::CREATED, Json(posted)))
}

async fn review(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    PathParams((invite_id, document_id)): PathParams<(InviteId, DocumentId)>,
    JsonBody(body): JsonBody<invites::Review>,
) -> Result<Json<Recorded>, ApiError> {
    invites::review(&state, &staff, &context, invite_id, document_id, body)
        .await
        .map(Json)
}

async fn cancel(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    PathParams(invite_id): PathParams<InviteId>,
    body: axum::body::Bytes,
) -> Result<Json<Recorded>, ApiError> {
    // The body is optional: `{"reason": "…"}` or nothing.
    let body: invites::Cancel = if body.iter().all(u8::is_ascii_whitespace) {
        invites::Cancel::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::Invalid(format!("the body: {e}")))?
    };
    invites::cancel(&state, &staff, &context, invite_id, body)
        .await
        .map(Json)
}
