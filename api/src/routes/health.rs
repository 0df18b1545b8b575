use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::health;
use crate::health::ReadinessReport;
use crate::openapi::ProblemDocument;
use crate::secrets;
use crate::state::AppState;

/// Which address a request came in on: the public one, or the operators' own (`ops_listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public,
    Operators,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(crate::openapi::openapi_json))
        .layer(axum::Extension(Audience::Public))
}

/// The operators' address: health, readiness in full, and metrics, to anyone who can reach it.
pub fn operations_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::Extension(Audience::Operators))
}

/// Whether the request may read what is for operators: it came in on their address, or carries
/// the operations token.
fn for_operators(state: &AppState, audience: Audience, headers: &HeaderMap) -> bool {
    if audience == Audience::Operators {
        return true;
    }
    let Some(expected) = &state.settings.operations.token_hash else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| secrets::hash_token(token.trim()).as_str() == expected.as_str())
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is up", body = String, content_type = "text/plain")))]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations", security((), ("operations_token" = [])),
    responses((status = 200, description = "Ready: `{\"ready\": true}`, and with the operations token (or on `ops_listen`) the database and each projector's place", body = ReadinessReport),
        (status = 503, description = "The database is unreachable, or a projector stopped or is far behind", body = ReadinessReport)))]
pub(crate) async fn readyz(
    State(state): State<AppState>,
    axum::Extension(audience): axum::Extension<Audience>,
    headers: HeaderMap,
) -> Response {
    let detailed = for_operators(&state, audience, &headers);
    let report = match health::readiness(&state).await {
        Ok(readiness) => ReadinessReport::of(readiness, detailed),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            ReadinessReport::unreachable(detailed)
        }
    };
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "operations", security(("operations_token" = [])),
    responses((status = 200, description = "Prometheus text", body = String, content_type = "text/plain"),
        (status = 401, description = "metrics are for operators: use `ops_listen`, or the operations token", body = ProblemDocument, content_type = "application/problem+json")))]
pub(crate) async fn metrics(
    State(state): State<AppState>,
    axum::Extension(audience): axum::Extension<Audience>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !for_operators(&state, audience, &headers) {
        return Err(ApiError::Unauthenticated(
            "metrics are for operators: read them on ops_listen (LODGE_OPS_LISTEN), or here with Authorization: Bearer and the operations token (LODGE_OPS_TOKEN)".into(),
        ));
    }
    let text = state.metrics.render(&state).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
