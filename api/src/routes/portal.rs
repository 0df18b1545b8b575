use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use lodge_domain::{DocumentId, RequestId};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{JsonBody, MultipartBody, PathParams, QueryParams, ReadAfter, RequestContext};
use crate::portal::contact::{self, ContactMessage};
use crate::portal::session::{self, Contact, PendingContact};
use crate::portal::uploads::{self, Uploaded};
use crate::portal::view::PortalResponse;
use crate::staff::invites::{PostedMessage, Recorded};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/portal/session", post(open_session))
        .route("/api/portal/session/password", post(give_password))
        .route("/api/portal", get(view))
        .route("/api/portal/messages", post(post_message))
        .route("/api/portal/requests/{request_id}/form", post(submit_form))
}

async fn submit_form(
    State(state): State<AppState>,
    Contact(session): Contact,
    context: RequestContext,
    PathParams(request_id): PathParams<RequestId>,
    JsonBody(body): JsonBody<contact::FormAnswers>,
) -> Result<(StatusCode, Json<Recorded>), ApiError> {
    let recorded = contact::submit_form(&state, &session, &context, request_id, body).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

/// Uploads and downloads: as long as the connection needs, so outside the request timeout.
pub fn file_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/portal/requests/{request_id}/documents",
            // Uploads are limited per file as they stream in, not by the JSON body limit.
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/portal/documents/{document_id}", get(download))
}

async fn upload(
    State(state): State<AppState>,
    Contact(session): Contact,
    context: RequestContext,
    PathParams(request_id): PathParams<RequestId>,
    MultipartBody(multipart): MultipartBody,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let uploaded = uploads::upload(&state, &session, &context, request_id, multipart).await?;
    Ok((StatusCode::CREATED, Json(uploaded)))
}

async fn download(
    State(state): State<AppState>,
    Contact(session): Contact,
    PathParams(document_id): PathParams<DocumentId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    contact::download(&state, &session, document_id, &headers).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenSession {
    token: String,
}

#[derive(Serialize)]
struct SessionOpened {
    password_required: bool,
}

async fn open_session(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    JsonBody(body): JsonBody<OpenSession>,
) -> Result<(CookieJar, Json<SessionOpened>), ApiError> {
    let opened = session::open(&state, &context, &body.token).await?;
    Ok((
        jar.add(opened.cookie),
        Json(SessionOpened {
            password_required: opened.password_required,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Password {
    password: String,
}

async fn give_password(
    State(state): State<AppState>,
    PendingContact(session): PendingContact,
    context: RequestContext,
    JsonBody(body): JsonBody<Password>,
) -> Result<StatusCode, ApiError> {
    session::unlock(&state, &context, &session, body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn view(
    State(state): State<AppState>,
    Contact(session): Contact,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Json<PortalResponse>, ApiError> {
    contact::view(&state, session, read.position()).await.map(Json)
}

async fn post_message(
    State(state): State<AppState>,
    Contact(session): Contact,
    context: RequestContext,
    JsonBody(body): JsonBody<ContactMessage>,
) -> Result<(StatusCode, Json<PostedMessage>), ApiError> {
    let posted = contact::post_message(&state, &session, &context, body).await?;
    Ok((StatusCode::CREATED, Json(posted)))
}
