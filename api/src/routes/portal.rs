use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use lodge_domain::{DocumentId, RequestId};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{JsonBody, MultipartBody, PathParams, QueryParams, ReadAfter, RequestContext};
use crate::openapi::{ProblemDocument, UploadForm};
use crate::portal::contact::{self, ContactMessage};
use crate::portal::password;
use crate::portal::session::{self, Contact, PendingContact};
use crate::portal::uploads::{self, Uploaded};
use crate::portal::view::PortalResponse;
use crate::staff::invites::{PostedMessage, Recorded};
use crate::state::AppState;

/// The portal API; each route comes with its OpenAPI description (`routes!`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_session, sign_out))
        .routes(routes!(give_password))
        .routes(routes!(view))
        .routes(routes!(post_message))
        .routes(routes!(submit_form))
}

#[utoipa::path(post, path = "/api/portal/requests/{request_id}/form", tag = "portal", security(("portal_session" = [])),
    params(("request_id" = Uuid, Path, description = "A form request")), request_body = contact::FormAnswers,
    responses((status = 201, description = "Submitted", body = Recorded),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "refused: a request from another site", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, description = "too many in a short time: wait as Retry-After says", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn submit_form(
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
/// Uploads are limited per file as they stream in, not by the JSON body limit.
pub fn file_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload).layer(DefaultBodyLimit::disable()))
        .routes(routes!(download))
}

#[utoipa::path(post, path = "/api/portal/requests/{request_id}/documents", tag = "portal", security(("portal_session" = [])),
    params(("request_id" = Uuid, Path, description = "A file request")),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "One or more fields named `file`"),
    responses((status = 201, description = "Stored and recorded", body = Uploaded),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 413, description = "a file is too large", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "refused: a request from another site", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, description = "too many in a short time: wait as Retry-After says", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    Contact(session): Contact,
    context: RequestContext,
    PathParams(request_id): PathParams<RequestId>,
    MultipartBody(multipart): MultipartBody,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let uploaded = uploads::upload(&state, &session, &context, request_id, multipart).await?;
    Ok((StatusCode::CREATED, Json(uploaded)))
}

#[utoipa::path(get, path = "/api/portal/documents/{document_id}", operation_id = "portal_download", tag = "portal", security(("portal_session" = [])),
    params(("document_id" = Uuid, Path, description = "One of the contact's own documents"), ("Range" = Option<String>, Header, description = "bytes=START-END")),
    responses((status = 200, description = "The file, as an attachment", content_type = "application/octet-stream"), (status = 206, description = "Part of the file"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 416, description = "the range is outside the file", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn download(
    State(state): State<AppState>,
    Contact(session): Contact,
    PathParams(document_id): PathParams<DocumentId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    contact::download(&state, &session, document_id, &headers).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub(crate) struct OpenSession {
    token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SessionOpened {
    password_required: bool,
}

#[utoipa::path(post, path = "/api/portal/session", tag = "portal", request_body = OpenSession,
    responses((status = 200, description = "Signed in: a session cookie is set", body = SessionOpened),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such thing (or not yours)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "refused: a request from another site", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, description = "too many in a short time: wait as Retry-After says", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn open_session(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    JsonBody(body): JsonBody<OpenSession>,
) -> Result<(CookieJar, Json<SessionOpened>), ApiError> {
    let link = session::find_link(&state, &context, &body.token).await?;
    let replacing = jar.get(session::COOKIE).map(|cookie| cookie.value().to_owned());
    let opened = session::open(&state, &context, link, replacing.as_deref()).await?;
    Ok((
        jar.add(opened.cookie),
        Json(SessionOpened {
            password_required: opened.password_required,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/portal/session", tag = "portal", security(("portal_session" = [])),
    responses((status = 204, description = "Signed out: the session ends, and its cookie is removed"),
        (status = 403, description = "refused: a request from another site", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode), ApiError> {
    if let Some(cookie) = jar.get(session::COOKIE) {
        session::end(&state, cookie.value()).await?;
    }
    Ok((jar.add(session::removal_cookie()), StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub(crate) struct Password {
    password: String,
}

#[utoipa::path(post, path = "/api/portal/session/password", tag = "portal", security(("portal_session" = [])), request_body = Password,
    responses((status = 204, description = "The portal is open, to a new session whose cookie is set"),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, description = "too many attempts", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "refused: a request from another site", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn give_password(
    State(state): State<AppState>,
    jar: CookieJar,
    PendingContact(session): PendingContact,
    context: RequestContext,
    JsonBody(body): JsonBody<Password>,
) -> Result<(CookieJar, StatusCode), ApiError> {
    let jar = match password::unlock(&state, &context, &session, body.password).await? {
        password::Unlocked::NewSession(cookie) => jar.add(cookie),
        password::Unlocked::AlreadyOpen => jar,
    };
    Ok((jar, StatusCode::NO_CONTENT))
}

#[utoipa::path(get, path = "/api/portal", tag = "portal", security(("portal_session" = [])), params(ReadAfter),
    responses((status = 200, description = "The signed-in contact's portal", body = PortalResponse),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "the read models have not reached `after` yet", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn view(
    State(state): State<AppState>,
    Contact(session): Contact,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Json<PortalResponse>, ApiError> {
    contact::view(&state, session, read.position()?).await.map(Json)
}

#[utoipa::path(post, path = "/api/portal/messages", operation_id = "portal_post_message", tag = "portal", security(("portal_session" = [])), request_body = ContactMessage,
    responses((status = 201, description = "Posted to the contact's thread", body = PostedMessage),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "conflicts with the invite's state", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "refused: a request from another site", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 429, description = "too many in a short time: wait as Retry-After says", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn post_message(
    State(state): State<AppState>,
    Contact(session): Contact,
    context: RequestContext,
    JsonBody(body): JsonBody<ContactMessage>,
) -> Result<(StatusCode, Json<PostedMessage>), ApiError> {
    let posted = contact::post_message(&state, &session, &context, body).await?;
    Ok((StatusCode::CREATED, Json(posted)))
}
