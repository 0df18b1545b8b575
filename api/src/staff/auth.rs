//! The staff member behind a request, from its `Authorization: Bearer` token.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::staff::tokens::{self, StaffMember};
use crate::state::AppState;

/// A request from a signed-in staff member.
pub struct Staff(pub StaffMember);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let missing = || {
            ApiError::Unauthenticated(
                "this endpoint needs a staff token: send Authorization: Bearer TOKEN (create one with `lodge token create`)"
                    .into(),
            )
        };
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(missing)?;
        match tokens::authenticate(&state.store, token).await? {
            Some(staff) => Ok(Staff(staff)),
            None => Err(ApiError::Unauthenticated(
                "this staff token is unknown or was revoked".into(),
            )),
        }
    }
}
