//! Sign-ins half done: the member's password (or sign-in link) was right and their two-step code is
//! still to come. A short-lived random cookie names one; only its SHA-256 is kept. It is used once,
//! and lasts [`LIFETIME`].

use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Duration, Utc};
use lodge_domain::StaffId;
use lodge_domain::team::SignInMethod;
use lodge_store::{Store, on, write_on};

use crate::error::ApiError;
use crate::secrets;
use crate::settings::Settings;

/// How long the code may take to come.
pub const LIFETIME: Duration = Duration::minutes(10);

/// The cookie's name over https (`__Host-`: Secure, this host only), and over plain http.
const SECURE_COOKIE: &str = "__Host-lodge_staff_step";
const COOKIE: &str = "lodge_staff_step";

pub fn cookie_name(settings: &Settings) -> &'static str {
    if settings.secure_cookies() {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

fn cookie(settings: &Settings, value: String) -> Cookie<'static> {
    Cookie::build((cookie_name(settings), value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure_cookies())
        .path("/")
        .max_age(time::Duration::seconds(LIFETIME.num_seconds()))
        .build()
}

/// The cookie that makes a browser forget its half-done sign-in.
pub fn removal_cookie(settings: &Settings) -> Cookie<'static> {
    let mut removal = cookie(settings, String::new());
    removal.make_removal();
    removal
}

/// Starts a half-done sign-in for the member; the cookie carries it.
pub async fn start(
    store: &Store,
    settings: &Settings,
    staff_id: StaffId,
    method: SignInMethod,
) -> Result<Cookie<'static>, ApiError> {
    let (token, hash) = secrets::new_token("");
    let method = serde_json::to_value(method)
        .ok()
        .and_then(|m| m.as_str().map(str::to_owned))
        .unwrap_or_default();
    write_on!(store, |c| {
        sqlx::query(
            "INSERT INTO lodge_staff_pending_sign_ins (token_hash, staff_id, method, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash.as_str().to_owned())
        .bind(staff_id.to_string())
        .bind(method.clone())
        .bind((Utc::now() + LIFETIME).to_rfc3339())
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(cookie(settings, token))
}

/// The member and how they began, of a live half-done sign-in.
pub async fn find(store: &Store, token: &str) -> Result<Option<(StaffId, SignInMethod)>, ApiError> {
    let hash = secrets::hash_token(token.trim());
    let row: Option<(String, String, String)> = on!(store, |c| {
        sqlx::query_as("SELECT staff_id, method, expires_at FROM lodge_staff_pending_sign_ins WHERE token_hash = $1")
            .bind(hash.as_str().to_owned())
            .fetch_optional(c)
            .await
    })?;
    let Some((staff_id, method, expires_at)) = row else {
        return Ok(None);
    };
    let expires_at: DateTime<Utc> = expires_at
        .parse()
        .map_err(|e| ApiError::Internal(format!("a stored sign-in expiry: {e}")))?;
    if expires_at <= Utc::now() {
        end(store, token).await?;
        return Ok(None);
    }
    let staff_id = staff_id
        .parse()
        .map_err(|e| ApiError::Internal(format!("a stored staff id: {e}")))?;
    let method = serde_json::from_value(serde_json::Value::String(method))
        .map_err(|e| ApiError::Internal(format!("a stored sign-in method: {e}")))?;
    Ok(Some((staff_id, method)))
}

/// Ends a half-done sign-in: true if this call did (of two at once, one does).
pub async fn end(store: &Store, token: &str) -> Result<bool, ApiError> {
    let hash = secrets::hash_token(token.trim());
    let ended = write_on!(store, |c| {
        sqlx::query("DELETE FROM lodge_staff_pending_sign_ins WHERE token_hash = $1")
            .bind(hash.as_str().to_owned())
            .execute(c)
            .await
            .map(|done| done.rows_affected())
    })?;
    // Those abandoned (the browser closed before the code came) go too.
    write_on!(store, |c| {
        sqlx::query("DELETE FROM lodge_staff_pending_sign_ins WHERE expires_at < $1")
            .bind(Utc::now().to_rfc3339())
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(ended == 1)
}
