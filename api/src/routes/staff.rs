use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::Response;
use lodge_domain::{ContactId, DocumentId, InviteId};
use lodge_projections::staff::StaffInviteView;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, QueryParams, ReadAfter, RequestContext};
use crate::openapi::{AuditTrail, ProblemDocument};
use crate::portal::view::PortalResponse;
use crate::staff::auth::{CanChange, Staff};
use crate::staff::invites::{self, InviteList, PostedMessage, Recorded, SentInvite};
use crate::staff::{archive, records, view_links};
use crate::state::AppState;
use lodge_projections::as_of::InviteAsOf;

/// The staff API; each route comes with its OpenAPI description (`routes!`), so none is served
/// undocumented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_invite, list_invites))
        .routes(routes!(get_invite, change_invite))
        .routes(routes!(portal))
        .routes(routes!(post_message))
        .routes(routes!(review))
        .routes(routes!(cancel))
        .routes(routes!(add_contact))
        .routes(routes!(add_request))
        .routes(routes!(reissue_link))
        .routes(routes!(view_link))
        .routes(routes!(audit))
        .routes(routes!(history))
}

/// Staff downloads: as long as the connection needs, so outside the request timeout.
pub fn file_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(download))
        .routes(routes!(documents_zip))
}

#[utoipa::path(patch, path = "/api/invites/{invite_id}", tag = "staff", security(("staff_token" = [])), params(("invite_id" = Uuid, Path, description = "The invite")),
    request_body = invites::InviteChanges,
    responses((status = 200, description = "Changed", body = Recorded),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "a viewer's role does not change invites", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn change_invite(
    State(state): State<AppState>,
    CanChange(staff): CanChange,
    context: RequestContext,
    PathParams(invite_id): PathParams<InviteId>,
    JsonBody(body): JsonBody<invites::InviteChanges>,
) -> Result<Json<Recorded>, ApiError> {
    invites::change(&state, &staff, &context, invite_id, body)
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/api/invites/{invite_id}/contacts", tag = "staff", security(("staff_token" = [])), params(("invite_id" = Uuid, Path, description = "The invite")),
    request_body = invites::NewContact,
    responses((status = 201, description = "Added, with their portal link (shown once)", body = invites::AddedContact),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "a viewer's role does not change invites", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn add_contact(
    State(state): State<AppState>,
    CanChange(staff): CanChange,
    context: RequestContext,
    PathParams(invite_id): PathParams<InviteId>,
    JsonBody(body): JsonBody<invites::NewContact>,
) -> Result<(StatusCode, Json<invites::AddedContact>), ApiError> {
    let added = invites::add_contact(&state, &staff, &context, invite_id, body).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

#[utoipa::path(post, path = "/api/invites/{invite_id}/requests", tag = "staff", security(("staff_token" = [])), params(("invite_id" = Uuid, Path, description = "The invite")),
    request_body = invites::NewRequest,
    responses((status = 201, description = "Added", body = invites::AddedRequest),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "a viewer's role does not change invites", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn add_request(
    State(state): State<AppState>,
    CanChange(staff): CanChange,
    context: RequestContext,
    PathParams(invite_id): PathParams<InviteId>,
    JsonBody(body): JsonBody<invites::NewRequest>,
) -> Result<(StatusCode, Json<invites::AddedRequest>), ApiError> {
    let added = invites::add_request(&state, &staff, &context, invite_id, body).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

#[utoipa::path(post, path = "/api/invites/{invite_id}/contacts/{contact_id}/link", tag = "staff", security(("staff_token" = [])),
    params(("invite_id" = Uuid, Path, description = "The invite"), ("contact_id" = Uuid, Path, description = "The contact")),
    responses((status = 200, description = "The old link and its sessions are revoked; the new link is shown once", body = invites::ReissuedLink),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "a viewer's role does not change invites", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn reissue_link(
    State(state): State<AppState>,
    CanChange(staff): CanChange,
    context: RequestContext,
    PathParams((invite_id, contact_id)): PathParams<(InviteId, ContactId)>,
) -> Result<Json<invites::ReissuedLink>, ApiError> {
    invites::reissue_link(&state, &staff, &context, invite_id, contact_id)
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/api/invites/{invite_id}/portal/{contact_id}/view-link", tag = "staff", security(("staff_token" = [])),
    params(("invite_id" = Uuid, Path, description = "The invite"), ("contact_id" = Uuid, Path, description = "The contact")),
    responses((status = 201, description = "A link that opens the contact's portal pages read-only, for 30 minutes", body = view_links::ViewLink),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn view_link(
    State(state): State<AppState>,
    Staff(staff): Staff,
    PathParams((invite_id, contact_id)): PathParams<(InviteId, ContactId)>,
) -> Result<(StatusCode, Json<view_links::ViewLink>), ApiError> {
    let link = view_links::issue(&state, &staff, invite_id, contact_id).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

#[utoipa::path(get, path = "/api/invites/{invite_id}/audit", tag = "records", security(("staff_token" = [])), params(("invite_id" = Uuid, Path, description = "The invite"), records::AuditQuery),
    responses((status = 200, description = "`{\"entries\": [...]}`, streamed; `?format=csv` for CSV", body = AuditTrail),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "the read models have not reached `after` yet", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn audit(
    State(state): State<AppState>,
    Staff(staff): Staff,
    PathParams(invite_id): PathParams<InviteId>,
    QueryParams(query): QueryParams<records::AuditQuery>,
) -> Result<Response, ApiError> {
    records::audit_trail(&state, &staff.writer(), invite_id, query).await
}

#[utoipa::path(get, path = "/api/invites/{invite_id}/history", tag = "records", security(("staff_token" = [])), params(("invite_id" = Uuid, Path, description = "The invite"), records::HistoryQuery),
    responses((status = 200, description = "The invite (InviteAsOf), or with `document_id` that document's chain of custody (Custody), as it stood at `as_of`", body = InviteAsOf),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Staff(_): Staff,
    PathParams(invite_id): PathParams<InviteId>,
    QueryParams(query): QueryParams<records::HistoryQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    records::history(&state, invite_id, query).await.map(Json)
}

#[utoipa::path(get, path = "/api/documents/{document_id}", operation_id = "staff_download", tag = "records", security(("staff_token" = [])),
    params(("document_id" = Uuid, Path, description = "The document"), ("Range" = Option<String>, Header, description = "bytes=START-END")),
    responses((status = 200, description = "The file, as an attachment", content_type = "application/octet-stream"), (status = 206, description = "Part of the file"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 416, description = "the range is outside the file", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn download(
    State(state): State<AppState>,
    Staff(_): Staff,
    PathParams(document_id): PathParams<DocumentId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    records::download(&state, document_id, &headers).await
}

#[utoipa::path(post, path = "/api/invites", tag = "staff", security(("staff_token" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key appends nothing and returns the first response")),
    request_body = invites::NewInvite,
    responses((status = 201, description = "Sent: each contact's portal link, shown once", body = SentInvite),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "a viewer's role does not change invites", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn send_invite(
    State(state): State<AppState>,
    CanChange(staff): CanChange,
    context: RequestContext,
    JsonBody(body): JsonBody<invites::NewInvite>,
) -> Result<(StatusCode, Json<SentInvite>), ApiError> {
    let sent = invites::send(&state, &staff, &context, body).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

#[utoipa::path(get, path = "/api/invites", tag = "staff", security(("staff_token" = [])), params(invites::ListQuery),
    responses((status = 200, description = "Invites, newest first", body = InviteList),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "the read models have not reached `after` yet", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn list_invites(
    State(state): State<AppState>,
    Staff(staff): Staff,
    QueryParams(query): QueryParams<invites::ListQuery>,
) -> Result<Json<InviteList>, ApiError> {
    invites::list(&state, &staff.writer(), query).await.map(Json)
}

#[utoipa::path(get, path = "/api/invites/{invite_id}", tag = "staff", security(("staff_token" = [])), params(("invite_id" = Uuid, Path, description = "The invite"), ReadAfter),
    responses((status = 200, description = "The invite with every contact's progress", body = StaffInviteView),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "the read models have not reached `after` yet", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn get_invite(
    State(state): State<AppState>,
    Staff(staff): Staff,
    PathParams(invite_id): PathParams<InviteId>,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Json<StaffInviteView>, ApiError> {
    invites::get(&state, &staff.writer(), invite_id, read.position()?)
        .await
        .map(Json)
}

#[utoipa::path(get, path = "/api/invites/{invite_id}/portal/{contact_id}", tag = "staff", security(("staff_token" = [])),
    params(("invite_id" = Uuid, Path, description = "The invite"), ("contact_id" = Uuid, Path, description = "The contact"), ReadAfter),
    responses((status = 200, description = "Exactly what the contact sees", body = PortalResponse),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "the read models have not reached `after` yet", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn portal(
    State(state): State<AppState>,
    Staff(staff): Staff,
    PathParams((invite_id, contact_id)): PathParams<(InviteId, ContactId)>,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Json<PortalResponse>, ApiError> {
    invites::portal(&state, Some(&staff.writer()), invite_id, contact_id, read.position()?)
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/api/invites/{invite_id}/messages", operation_id = "staff_post_message", tag = "staff", security(("staff_token" = [])), params(("invite_id" = Uuid, Path, description = "The invite")),
    request_body = invites::StaffMessage,
    responses((status = 201, description = "Posted to the contact's thread", body = PostedMessage),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "a viewer's role does not change invites", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn post_message(
    State(state): State<AppState>,
    CanChange(staff): CanChange,
    context: RequestContext,
    PathParams(invite_id): PathParams<InviteId>,
    JsonBody(body): JsonBody<invites::StaffMessage>,
) -> Result<(StatusCode, Json<PostedMessage>), ApiError> {
    let posted = invites::post_message(&state, &staff, &context, invite_id, body).await?;
    Ok((StatusCode::CREATED, Json(posted)))
}

#[utoipa::path(post, path = "/api/invites/{invite_id}/documents/{document_id}/review", tag = "staff", security(("staff_token" = [])),
    params(("invite_id" = Uuid, Path, description = "The invite"), ("document_id" = Uuid, Path, description = "The document")),
    request_body = invites::Review,
    responses((status = 200, description = "Reviewed", body = Recorded),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "a viewer's role does not change invites", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn review(
    State(state): State<AppState>,
    CanChange(staff): CanChange,
    context: RequestContext,
    PathParams((invite_id, document_id)): PathParams<(InviteId, DocumentId)>,
    JsonBody(body): JsonBody<invites::Review>,
) -> Result<Json<Recorded>, ApiError> {
    invites::review(&state, &staff, &context, invite_id, document_id, body)
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/api/invites/{invite_id}/cancel", tag = "staff", security(("staff_token" = [])), params(("invite_id" = Uuid, Path, description = "The invite")),
    request_body(content = Option<invites::Cancel>, description = "Optional: a reason"),
    responses((status = 200, description = "Cancelled: its portals close", body = Recorded),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "a viewer's role does not change invites", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    CanChange(staff): CanChange,
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

#[utoipa::path(get, path = "/api/invites/{invite_id}/documents.zip", tag = "records", security(("staff_token" = [])),
    params(("invite_id" = Uuid, Path, description = "The invite")),
    responses((status = 200, description = "Every accepted and pending document, as `contact/request/file` in a ZIP, streamed", content_type = "application/zip"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json")))]
pub(crate) async fn documents_zip(
    State(state): State<AppState>,
    Staff(staff): Staff,
    PathParams(invite_id): PathParams<InviteId>,
) -> Result<Response, ApiError> {
    archive::documents_zip(&state, &staff.writer(), invite_id).await
}
