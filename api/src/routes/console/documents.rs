//! Documents from the console: a download (always an attachment), a preview of an image (inline,
//! from a sandboxed response, so nothing in it can run in Lodge's origin; never HTML or SVG), and
//! every document of an invite as one zip.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use lodge_domain::{DocumentId, InviteId};

use super::invite::PREVIEWED_TYPES;
use crate::console::ConsoleMember;
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::staff::{archive, records};
use crate::state::AppState;

/// What a preview may do: nothing but show itself.
const PREVIEW_POLICY: &str = "sandbox; default-src 'none'; img-src 'self'";

pub(super) async fn download(
    State(state): State<AppState>,
    _member: ConsoleMember,
    PathParams(document): PathParams<DocumentId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    records::download(&state, document, &headers).await
}

pub(super) async fn preview(
    State(state): State<AppState>,
    _member: ConsoleMember,
    PathParams(document): PathParams<DocumentId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut response = records::download(&state, document, &headers).await?;
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !PREVIEWED_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::NotFound(format!(
            "a {content_type} file has no preview here: download it instead"
        )));
    }
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PREVIEW_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

pub(super) async fn zip(
    State(state): State<AppState>,
    member: ConsoleMember,
    PathParams(invite): PathParams<InviteId>,
) -> Result<Response, ApiError> {
    archive::documents_zip(&state, &member.staff.writer(), invite).await
}
