//! The staff member behind a request, from its `Authorization: Bearer` token, with the role they have
//! in the team now: [`Staff`] lets any active member in (viewers read everything), [`CanChange`]
//! only those whose role changes invites (staff and owners).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use lodge_domain::team::Role;

use crate::error::ApiError;
use crate::staff::team;
use crate::staff::tokens::{self, StaffMember};
use crate::state::AppState;

/// A request from a signed-in staff member, whatever their role.
pub struct Staff(pub StaffMember);

/// A request from a staff member whose role lets them change invites (staff or owner): a viewer's is
/// refused with 403, saying so.
pub struct CanChange(pub StaffMember);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        signed_in(parts, state).await.map(Staff)
    }
}

impl FromRequestParts<AppState> for CanChange {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let staff = signed_in(parts, state).await?;
        if !staff.role.includes(Role::Staff) {
            return Err(ApiError::Forbidden(format!(
                "this needs the staff or owner role, and {} is a {}: an owner can change roles",
                staff.name, staff.role
            )));
        }
        Ok(CanChange(staff))
    }
}

/// The live token's member, as the team has them now: a deactivated member's tokens are refused; a
/// token made by name alone, for no member of the team, acts with the staff role.
async fn signed_in(parts: &Parts, state: &AppState) -> Result<StaffMember, ApiError> {
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
    let Some(mut staff) = tokens::authenticate(&state.store, token).await? else {
        return Err(ApiError::Unauthenticated(
            "this staff token is unknown or was revoked".into(),
        ));
    };
    if let Some(member) = team::member(state, staff.id).await? {
        if !member.active {
            return Err(ApiError::Unauthenticated(format!(
                "{} was deactivated, and their tokens with them: an owner can reactivate them",
                member.name
            )));
        }
        staff.role = member.role;
    }
    Ok(staff)
}
