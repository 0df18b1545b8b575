//! What every page response gets: security headers, and an HTML page in place of a problem
//! document, so that a person in a browser reads the same `detail` an API client would.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::state::AppState;

/// Problem documents are small; anything larger is passed on as it is.
const MAX_PROBLEM_BYTES: usize = 64 * 1024;

pub async fn pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let console = request.uri().path().starts_with("/staff");
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let mut response = if is_problem {
        as_page(&state, response, console).await
    } else {
        response
    };
    let headers = response.headers_mut();
    // A response that set a stricter policy of its own (a sandboxed preview) keeps it.
    if let Ok(policy) = HeaderValue::from_str(&state.pages.content_security_policy) {
        headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(policy);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Portal links carry their token in the address: never tell another site where we came from.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The error page; on the console's pages (`console`), with a way back to the console.
async fn as_page(state: &AppState, response: Response, console: bool) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PROBLEM_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let detail = problem["detail"].as_str().unwrap_or_default();
    let signed_out = parts.status == axum::http::StatusCode::UNAUTHORIZED;
    let page = if console {
        state.pages.render(
            "console/error.html",
            context! {
                page_title => state.pages.text("error_heading"),
                detail,
            },
        )
    } else {
        state.pages.render(
            "error.html",
            context! {
                page_title => state.pages.text("error_heading"),
                detail => if signed_out && detail.is_empty() { state.pages.text("error_signed_out") } else { detail.to_owned() },
                back => (!signed_out).then_some("/portal"),
            },
        )
    };
    match page {
        Ok(html) => {
            let mut page = (parts.status, axum::response::Html(html)).into_response();
            if let Some(retry) = parts.headers.get(header::RETRY_AFTER) {
                page.headers_mut().insert(header::RETRY_AFTER, retry.clone());
            }
            // The cause of a failure on our side goes on to the tracing layer, which logs it.
            *page.extensions_mut() = parts.extensions;
            page
        }
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}
