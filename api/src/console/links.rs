//! One-time sign-in links: `{public_url}/staff/welcome/{token}`, made for a member by `lodge staff
//! add` (and an owner's invitation), opening a page to choose a password. Only the token's SHA-256
//! is kept; a link opens once, before it expires, and a newer link for the member replaces it.

use chrono::{DateTime, Utc};
use lodge_domain::StaffId;
use lodge_store::{Store, on, write_on};

use crate::error::ApiError;
use crate::secrets;
use crate::settings::Settings;

/// Where sign-in links point; their last part is the token (kept out of logs, see `server`).
pub const PATH: &str = "/staff/welcome/";

/// Makes a sign-in link for `staff_id`, replacing any earlier one, and returns its address.
pub async fn create(store: &Store, settings: &Settings, staff_id: StaffId) -> Result<String, ApiError> {
    let (token, hash) = secrets::new_token("");
    keep(store, staff_id, &hash, Utc::now() + settings.console.link_lifetime).await?;
    Ok(format!("{}{PATH}{token}", settings.public_url))
}

/// Makes the sign-in link that command `command_id` emails (its token derived from the command id
/// under the server's secret, as the notifier derives it), lasting `lifetime`; returns its address
/// and when it expires.
pub async fn create_for_email(
    store: &Store,
    settings: &Settings,
    staff_id: StaffId,
    command_id: uuid::Uuid,
    lifetime: std::time::Duration,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let (token, hash) = lodge_domain::links::staff_link_token(&settings.secret_key, command_id);
    let expires_at = Utc::now() + lifetime;
    keep(store, staff_id, &hash, expires_at).await?;
    Ok((
        lodge_domain::links::staff_link_url(&settings.public_url, &token),
        expires_at,
    ))
}

/// Keeps a link's hash for `staff_id`, in place of any earlier link of theirs.
async fn keep(
    store: &Store,
    staff_id: StaffId,
    hash: &lodge_domain::digest::TokenHash,
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let now = Utc::now();
    let mut tx = store.begin_write().await?;
    on!(tx, |c| {
        sqlx::query("DELETE FROM lodge_staff_sign_in_links WHERE staff_id = $1")
            .bind(staff_id.to_string())
            .execute(c)
            .await
            .map(|_| ())
    })?;
    on!(tx, |c| {
        sqlx::query(
            "INSERT INTO lodge_staff_sign_in_links (token_hash, staff_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash.as_str().to_owned())
        .bind(staff_id.to_string())
        .bind(now.to_rfc3339())
        .bind(expires_at.to_rfc3339())
        .execute(c)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(())
}

/// What a link's token names: its member, while the link is unused and unexpired.
pub async fn find(store: &Store, token: &str) -> Result<Option<StaffId>, ApiError> {
    let hash = secrets::hash_token(token.trim());
    let row: Option<(String, String)> = on!(store, |c| {
        sqlx::query_as("SELECT staff_id, expires_at FROM lodge_staff_sign_in_links WHERE token_hash = $1")
            .bind(hash.as_str().to_owned())
            .fetch_optional(c)
            .await
    })?;
    let Some((staff_id, expires_at)) = row else {
        return Ok(None);
    };
    let expires_at: DateTime<Utc> = expires_at
        .parse()
        .map_err(|e| ApiError::Internal(format!("a stored link expiry: {e}")))?;
    if expires_at <= Utc::now() {
        return Ok(None);
    }
    staff_id
        .parse()
        .map(Some)
        .map_err(|e| ApiError::Internal(format!("a stored staff id: {e}")))
}

/// Uses the link up: true if this call did (of two at once, one does).
pub async fn spend(store: &Store, token: &str) -> Result<bool, ApiError> {
    let hash = secrets::hash_token(token.trim());
    let spent = write_on!(store, |c| {
        sqlx::query("DELETE FROM lodge_staff_sign_in_links WHERE token_hash = $1")
            .bind(hash.as_str().to_owned())
            .execute(c)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(spent == 1)
}
