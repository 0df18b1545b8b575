//! The portal password: the second sign-in step of a protected portal. At most
//! [`MAX_PASSWORD_ATTEMPTS`] wrong passwords per contact are checked in [`ATTEMPT_WINDOW`] (slots
//! under `limits`, taken before any hashing); each wrong one is recorded in the log; the right one
//! opens the portal to a new session.

use lodge_store::on;
use std::time::Duration;

use axum_extra::extract::cookie::Cookie;
use chrono::Utc;
use lodge_domain::invite::PortalAccess;

use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::limits;
use crate::portal::session::{ContactSession, record_access, session_cookie, signed_out};
use crate::secrets;
use crate::state::AppState;

/// Wrong passwords allowed per contact in [`ATTEMPT_WINDOW`], before 429.
pub const MAX_PASSWORD_ATTEMPTS: usize = 5;
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What giving the password did: the portal is open to a new session (its cookie), or was already.
pub enum Unlocked {
    NewSession(Cookie<'static>),
    AlreadyOpen,
}

/// Checks the portal password for a session. At most [`MAX_PASSWORD_ATTEMPTS`] wrong passwords per
/// contact in [`ATTEMPT_WINDOW`] are ever checked, however they arrive (in parallel, on several
/// sessions or servers): each check first takes a slot under the contact's limit (a right password
/// gives it back), and one past the limit gets 429 before any hashing. Wrong passwords are
/// recorded. The right one opens the portal to a new session, which replaces this one.
pub async fn unlock(
    state: &AppState,
    context: &RequestContext,
    session: &ContactSession,
    password: String,
) -> Result<Unlocked, ApiError> {
    if session.is_unlocked() {
        return Ok(Unlocked::AlreadyOpen);
    }
    let key = format!("password:{}:{}", session.invite_id, session.contact_id);
    let rate = limits::Rate {
        most: MAX_PASSWORD_ATTEMPTS as u32,
        per: ATTEMPT_WINDOW,
    };
    let slot = match limits::take(&state.store, &key, rate).await? {
        Ok(slot) => slot,
        Err(retry_after) => {
            return Err(ApiError::TooManyRequests {
                detail: format!(
                    "too many wrong passwords: try again in {} minutes, or ask the firm for help",
                    retry_after.as_secs().div_ceil(60)
                ),
                retry_after,
            });
        }
    };
    let hash = crate::commands::invite_now(state, session.invite_id)
        .await?
        .ok_or_else(signed_out)?
        .invite()
        .and_then(|invite| invite.portal_password.clone());
    let matches = match hash {
        None => true,
        Some(hash) => secrets::password_matches(password, hash).await?,
    };
    let record = |access| {
        record_access(
            state,
            context,
            session.invite_id,
            session.contact_id,
            session.actor(),
            access,
        )
    };
    if !matches {
        record(PortalAccess::PasswordRefused).await?;
        return Err(ApiError::Unauthenticated(if slot.left == 0 {
            "wrong password; that was the last try for now, so wait 15 minutes before trying again".into()
        } else {
            format!("wrong password; {} more tries before a 15-minute wait", slot.left)
        }));
    }
    limits::give_back(&state.store, slot).await?;
    let cookie = rotate_unlocked(state, session).await?;
    record(PortalAccess::Opened).await?;
    Ok(Unlocked::NewSession(cookie))
}

/// A new, unlocked session in place of `session`, which ends.
async fn rotate_unlocked(state: &AppState, session: &ContactSession) -> Result<Cookie<'static>, ApiError> {
    let (cookie, new_hash) = secrets::new_token("");
    let mut tx = state.store.begin_write().await?;
    let copied = on!(tx, |c| {
        sqlx::query(
            "INSERT INTO lodge_portal_sessions (session_hash, link_hash, invite_id, contact_id, unlocked, created_at, expires_at)
         SELECT $1, link_hash, invite_id, contact_id, 1, $2, expires_at FROM lodge_portal_sessions WHERE session_hash = $3",
        )
        .bind(new_hash.as_str().to_owned())
        .bind(Utc::now().to_rfc3339())
        .bind(&session.session_hash)
        .execute(c)
        .await
        .map(|done| done
        .rows_affected())
    })?;
    on!(tx, |c| {
        sqlx::query("DELETE FROM lodge_portal_sessions WHERE session_hash = $1")
            .bind(&session.session_hash)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    tx.commit().await?;
    state.portal_cache.forget(&session.session_hash);
    if copied != 1 {
        return Err(signed_out());
    }
    Ok(session_cookie(state, cookie))
}
