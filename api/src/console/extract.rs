//! The signed-in member behind a console request: their session cookie, and the team as it is now
//! (their role, whether they are still active). Not signed in, a page sends them to sign in; a
//! deactivated member's sessions all end.

use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use lodge_domain::team::Role;

use crate::console::sessions::{self, Session};
use crate::error::ApiError;
use crate::secrets;
use crate::staff::team;
use crate::staff::tokens::StaffMember;
use crate::state::AppState;

/// Where a visitor who is not signed in is sent.
pub const SIGN_IN: &str = "/staff/sign-in";

/// A console request from a signed-in, active member of the team.
#[derive(Debug, Clone)]
pub struct ConsoleMember {
    /// The member as the API knows a staff member: their writes are known by the session's id.
    pub staff: StaffMember,
    pub session: Session,
}

impl ConsoleMember {
    /// Refuses with 403, saying which role it needs, unless the member's role includes `needed`.
    pub fn needs(&self, needed: Role) -> Result<(), ApiError> {
        if self.staff.role.includes(needed) {
            return Ok(());
        }
        let roles = match needed {
            Role::Owner => "owner role",
            Role::Staff => "staff or owner role",
            Role::Viewer => "viewer, staff or owner role",
        };
        Err(ApiError::Forbidden(format!(
            "this needs the {roles}, and {} is a {}: an owner can change roles",
            self.staff.name, self.staff.role
        )))
    }
}

/// Why a console request was not let in: not signed in (to the sign-in page), or a failure.
pub enum ConsoleRejection {
    SignIn,
    Failed(ApiError),
}

impl From<ApiError> for ConsoleRejection {
    fn from(error: ApiError) -> Self {
        ConsoleRejection::Failed(error)
    }
}

impl IntoResponse for ConsoleRejection {
    fn into_response(self) -> Response {
        match self {
            ConsoleRejection::SignIn => Redirect::to(SIGN_IN).into_response(),
            ConsoleRejection::Failed(error) => error.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for ConsoleMember {
    type Rejection = ConsoleRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let cookie = jar
            .get(sessions::cookie_name(&state.settings))
            .ok_or(ConsoleRejection::SignIn)?;
        let session = live_session(state, cookie.value())
            .await?
            .ok_or(ConsoleRejection::SignIn)?;
        let member = match team::member(state, session.staff_id).await? {
            Some(member) if member.active => member,
            // Deactivated (or no longer known): every session of theirs ends now.
            _ => {
                sessions::end_all(&state.store, session.staff_id).await?;
                state.accounts.forget_member(session.staff_id);
                return Err(ConsoleRejection::SignIn);
            }
        };
        Ok(ConsoleMember {
            staff: StaffMember {
                id: session.staff_id,
                name: member.name.clone(),
                email: Some(member.email.clone()),
                token_id: session.id,
                role: member.role,
            },
            session,
        })
    }
}

/// The live session a cookie names: from memory when read a moment ago (`console::cache`), else
/// from the database.
async fn live_session(state: &AppState, cookie: &str) -> Result<Option<Session>, ApiError> {
    let hash = secrets::hash_token(cookie);
    let found = match state.accounts.session(hash.as_str()) {
        Some(known) => {
            let checked = sessions::check(&state.store, &state.settings, known).await?;
            if let Some(checked) = &checked {
                state.accounts.touched(hash.as_str(), checked.last_seen_at);
            }
            checked
        }
        None => {
            let read_at = Instant::now();
            let found = sessions::find(&state.store, &state.settings, cookie).await?;
            if let Some(known) = &found {
                state.accounts.keep_session(read_at, known.clone());
            }
            found
        }
    };
    match found {
        Some(known) => Ok(Some(known.session)),
        None => {
            state.accounts.forget_session(hash.as_str());
            Ok(None)
        }
    }
}
