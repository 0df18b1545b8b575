//! The HTTP surface: thin handlers that extract, call one application function, and map the result.

pub(crate) mod health;
pub(crate) mod pages;
pub(crate) mod portal;
pub(crate) mod staff;

use axum::Router;
use tower_http::timeout::TimeoutLayer;

use crate::same_origin;
use crate::state::AppState;

/// Every route; `timeout` bounds all but those that move files.
pub fn router(timeout: TimeoutLayer, state: &AppState) -> Router<AppState> {
    // What a contact's cookie authorises refuses posts from other sites (see `same_origin`).
    let same_origin = || axum::middleware::from_fn_with_state(state.clone(), same_origin::refuse_cross_site);
    Router::new()
        .merge(health::routes())
        .merge(staff::routes())
        .merge(portal::routes().layer(same_origin()))
        .merge(pages::routes(state.clone()))
        .route_layer(timeout)
        .merge(portal::file_routes().layer(same_origin()))
        .merge(staff::file_routes())
        .merge(pages::file_routes(state.clone()))
}
