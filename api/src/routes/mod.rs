//! The HTTP surface: thin handlers that extract, call one application function, and map the result.

pub(crate) mod health;
pub(crate) mod pages;
pub(crate) mod portal;
pub(crate) mod staff;

use axum::Router;
use tower_http::timeout::TimeoutLayer;

use crate::state::AppState;

/// Every route; `timeout` bounds all but those that move files.
pub fn router(timeout: TimeoutLayer, state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(health::routes())
        .merge(staff::routes())
        .merge(portal::routes())
        .merge(pages::routes(state.clone()))
        .route_layer(timeout)
        .merge(portal::file_routes())
        .merge(staff::file_routes())
        .merge(pages::file_routes(state.clone()))
}
