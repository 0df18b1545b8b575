use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use lodge_domain::{ContactId, DocumentId, InviteId};
use lodge_projections::staff::StaffInviteView;

use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, QueryParams, ReadAfter, RequestContext};
use crate::portal::view::PortalResponse;
use crate::staff::auth::Staff;
use crate::staff::invites::{self, InviteList, PostedMessage, Recorded, SentInvite};
use crate::staff::records;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/invites", post(send_invite).get(list_invites))
        .route("/api/invites/{invite_id}", get(get_invite))
        .route("/api/invites/{invite_id}/portal/{contact_id}", get(portal))
        .route("/api/invites/{invite_id}/messages", post(post_message))
        .route("/api/invites/{invite_id}/documents/{document_id}/review", post(review))
        .route("/api/invites/{invite_id}/cancel", post(cancel))
        .route("/api/invites/{invite_id}", patch(change_invite))
        .route("/api/invites/{invite_id}/contacts", post(add_contact))
        .route("/api/invites/{invite_id}/requests", post(add_request))
        .route(
            "/api/invites/{invite_id}/contacts/{contact_id}/link",
            post(reissue_link),
        )
        .route("/api/invites/{invite_id}/audit", get(audit))
        .route("/api/invites/{invite_id}/history", get(history))
}

/// Staff downloads: as long as the connection needs, so outside the request timeout.
pub fn file_routes() -> Router<AppState> {
    Router::new().route("/api/documents/{document_id}", get(download))
}

async fn change_invite(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    PathParams(invite_id): PathParams<InviteId>,
    JsonBody(body): JsonBody<invites::InviteChanges>,
) -> Result<Json<Recorded>, ApiError> {
    invites::change(&state, &staff, &context, invite_id, body)
        .await
        .map(Json)
}

async fn add_contact(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    PathParams(invite_id): PathParams<InviteId>,
    JsonBody(body): JsonBody<invites::NewContact>,
) -> Result<(StatusCode, Json<invites::AddedContact>), ApiError> {
    let added = invites::add_contact(&state, &staff, &context, invite_id, body).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

async fn add_request(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    PathParams(invite_id): PathParams<InviteId>,
    JsonBody(body): JsonBody<invites::NewRequest>,
) -> Result<(StatusCode, Json<invites::AddedRequest>), ApiError> {
    let added = invites::add_request(&state, &staff, &context, invite_id, body).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

async fn reissue_link(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    PathParams((invite_id, contact_id)): PathParams<(InviteId, ContactId)>,
) -> Result<Json<invites::ReissuedLink>, ApiError> {
    invites::reissue_link(&state, &staff, &context, invite_id, contact_id)
        .await
        .map(Json)
}

async fn audit(
    State(state): State<AppState>,
    Staff(_): Staff,
    PathParams(invite_id): PathParams<InviteId>,
    QueryParams(query): QueryParams<records::AuditQuery>,
) -> Result<Response, ApiError> {
    records::audit_trail(&state, invite_id, query).await
}

async fn history(
    State(state): State<AppState>,
    Staff(_): Staff,
    PathParams(invite_id): PathParams<InviteId>,
    QueryParams(query): QueryParams<records::HistoryQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    records::history(&state, invite_id, query).await.map(Json)
}

async fn download(
    State(state): State<AppState>,
    Staff(_): Staff,
    PathParams(document_id): PathParams<DocumentId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    records::download(&state, document_id, &headers).await
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
