//! The HTTP surface: thin handlers that extract, call one application function, and map the result.

pub(crate) mod console;
pub(crate) mod health;
pub(crate) mod pages;
pub(crate) mod portal;
pub(crate) mod staff;
pub(crate) mod team;

use axum::Router;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::same_origin;
use crate::state::AppState;

/// Every route; `timeout` bounds all but those that move files.
pub fn router(timeout: TimeoutLayer, state: &AppState) -> Router<AppState> {
    let (timed, untimed) = api(Some(state));
    Router::new()
        .merge(timed.split_for_parts().0)
        .merge(pages::routes(state.clone()))
        .merge(console::routes(state.clone()))
        .route_layer(timeout)
        .merge(untimed.split_for_parts().0)
        .merge(pages::file_routes(state.clone()))
        .merge(console::file_routes(state.clone()))
}

/// The API's routes, each with its OpenAPI description: those bounded by the request timeout,
/// and those that move files. With the state to serve, the portal's routes refuse posts from other
/// sites (see `same_origin`); without, the routes are only described.
fn api(state: Option<&AppState>) -> (OpenApiRouter<AppState>, OpenApiRouter<AppState>) {
    let cookie_authorised = |routes: OpenApiRouter<AppState>| match state {
        Some(state) => routes.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            same_origin::refuse_cross_site,
        )),
        None => routes,
    };
    let timed = OpenApiRouter::new()
        .merge(health::routes())
        .merge(staff::routes())
        .merge(team::routes())
        .merge(cookie_authorised(portal::routes()));
    let untimed = OpenApiRouter::new()
        .merge(cookie_authorised(portal::file_routes()))
        .merge(staff::file_routes());
    (timed, untimed)
}

/// The OpenAPI document: what the router serves (every API route is added with its description,
/// so none is served undocumented), with the parts described once for all.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (timed, untimed) = api(None);
        let mut document = crate::openapi::ApiDoc::openapi();
        document.merge(timed.into_openapi());
        document.merge(untimed.into_openapi());
        document
    })
}
