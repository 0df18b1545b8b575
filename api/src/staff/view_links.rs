//! Staff open a contact's portal in the browser through a short-lived link: the same pages the
//! contact sees, read-only, under a banner saying whose portal it is. The link's token becomes the
//! browser's cookie for that view; only its hash is kept.

use lodge_store::{on, write_on};
use std::time::Duration;

use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, SecondsFormat, Utc};
use lodge_domain::{ContactId, InviteId};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::secrets;
use crate::staff::tokens::StaffMember;
use crate::state::AppState;

pub const COOKIE: &str = "lodge_staff_view";
/// How long a view link (and the view it opens) lasts.
pub const LIFETIME: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ViewLink {
    /// Open it in a browser: it shows the contact's portal, read-only.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Who is looking at which contact's portal.
#[derive(Debug, Clone)]
pub struct StaffView {
    pub invite_id: InviteId,
    pub contact_id: ContactId,
    pub staff_name: String,
    /// The staff token (or console session) that made the view: the view shows its own writes.
    pub made_with: uuid::Uuid,
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A view link for one contact of one invite.
pub async fn issue(
    state: &AppState,
    staff: &StaffMember,
    invite: InviteId,
    contact: ContactId,
) -> Result<ViewLink, ApiError> {
    // Only for a portal that exists, as the log says (the read model may not show it yet).
    let now_in_log = crate::commands::invite_now(state, invite)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no invite {invite}")))?;
    let known = now_in_log.invite().is_some_and(|sent| sent.contact(contact).is_some());
    if !known {
        return Err(ApiError::NotFound(format!("invite {invite} has no contact {contact}")));
    }
    let (token, hash) = secrets::new_token("v_");
    let now = Utc::now();
    let expires_at = now + LIFETIME;
    write_on!(state.store, |c| {
        sqlx::query(
            "INSERT INTO lodge_staff_views (token_hash, invite_id, contact_id, staff_id, staff_name, created_at, expires_at, made_with)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(hash.as_str())
        .bind(invite.to_string())
        .bind(contact.to_string())
        .bind(staff.id.to_string())
        .bind(&staff.name)
        .bind(stamp(now))
        .bind(stamp(expires_at))
        .bind(staff.token_id.to_string())
        .execute(c).await.map(|_| ())
    })?;
    Ok(ViewLink {
        url: format!("{}/v/{token}", state.settings.public_url),
        expires_at,
    })
}

type ViewRow = (String, String, String, String, String);

/// The view a token opens, if it is one, has not expired, and the staff token or console session
/// that made it is live: a view link dies with its maker's token or session.
pub async fn find(state: &AppState, token: &str) -> Result<Option<StaffView>, ApiError> {
    let row: Option<ViewRow> = on!(state.store, |c| {
        sqlx::query_as(
            "SELECT v.invite_id, v.contact_id, v.staff_name, v.expires_at, v.made_with
         FROM lodge_staff_views v
         WHERE v.token_hash = $1
           AND (EXISTS (SELECT 1 FROM lodge_staff_tokens t WHERE t.id = v.made_with AND t.revoked_at IS NULL)
             OR EXISTS (SELECT 1 FROM lodge_staff_sessions s WHERE s.id = v.made_with))",
        )
        .bind(secrets::hash_token(token).as_str())
        .fetch_optional(c)
        .await
    })?;
    let Some((invite, contact, staff_name, expires_at, made_with)) = row else {
        return Ok(None);
    };
    let bad = |what: &str| ApiError::Internal(format!("a stored staff view's {what}"));
    let expires_at: DateTime<Utc> = expires_at.parse().map_err(|_| bad("expiry"))?;
    if expires_at <= Utc::now() {
        return Ok(None);
    }
    Ok(Some(StaffView {
        invite_id: invite.parse().map_err(|_| bad("invite"))?,
        contact_id: contact.parse().map_err(|_| bad("contact"))?,
        staff_name,
        made_with: made_with.parse().map_err(|_| bad("maker"))?,
    }))
}

/// Opens the view in this browser: the token becomes its cookie, for as long as the link lasts.
pub async fn open(state: &AppState, token: &str) -> Result<Cookie<'static>, ApiError> {
    if find(state, token).await?.is_none() {
        return Err(ApiError::Unauthenticated(
            "this view link has expired or is not one: ask for a new one".into(),
        ));
    }
    Ok(Cookie::build((COOKIE, token.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.secure_cookies())
        .max_age(time::Duration::seconds(LIFETIME.as_secs() as i64))
        .build())
}
