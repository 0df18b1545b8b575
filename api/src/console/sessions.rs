//! Console sessions: a random cookie whose SHA-256 names a row beside the log. A session ends when
//! unused for the idle time, at its absolute end (both in the settings), at sign-out, or when its
//! member is deactivated; each sign-in makes a new one, so a session id planted beforehand opens
//! nothing. The cookie is `__Host-` prefixed on https (Secure, Path=/, no Domain: no other host can
//! set it), HttpOnly, SameSite=Lax; posts from other sites are refused before they reach a handler
//! (`same_origin`).

use std::net::IpAddr;

use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};
use lodge_domain::StaffId;
use lodge_store::{Store, on, write_on};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::console::cache::KnownSession;
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::secrets;
use crate::settings::Settings;

/// The cookie's name over https: the prefix makes browsers refuse it unless Secure, for the whole
/// host, and set by the host itself.
pub const SECURE_COOKIE: &str = "__Host-lodge_staff";
/// Over plain http (a laptop, a test), where a `__Host-` cookie cannot be kept.
pub const COOKIE: &str = "lodge_staff";

/// A session is marked used at most this often, so that most requests only read.
const TOUCH_EVERY_SECONDS: i64 = 60;

pub fn cookie_name(settings: &Settings) -> &'static str {
    if settings.secure_cookies() {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

/// A live session: whose, and what its writes are known by.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub staff_id: StaffId,
    pub(crate) hash: String,
}

/// One of a member's sessions, as their list of sessions shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// Opens a new session for `staff_id`; the cookie carries it.
pub async fn open(
    store: &Store,
    settings: &Settings,
    context: &RequestContext,
    staff_id: StaffId,
) -> Result<Cookie<'static>, ApiError> {
    let (cookie, hash) = secrets::new_token("");
    let now = Utc::now();
    let expires_at = now + settings.console.lifetime;
    write_on!(store, |c| {
        sqlx::query(
            "INSERT INTO lodge_staff_sessions (session_hash, id, staff_id, created_at, last_seen_at, expires_at, ip, user_agent)
             VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
        )
        .bind(hash.as_str().to_owned())
        .bind(Uuid::now_v7().to_string())
        .bind(staff_id.to_string())
        .bind(now.to_rfc3339())
        .bind(expires_at.to_rfc3339())
        .bind(context.source.ip.map(|ip| ip.to_string()))
        .bind(context.source.user_agent.clone())
        .execute(c)
        .await
        .map(|_| ())
    })?;
    let max_age = time::Duration::seconds(i64::try_from(settings.console.lifetime.as_secs()).unwrap_or(i64::MAX));
    Ok(Cookie::build((cookie_name(settings), cookie))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure_cookies())
        .path("/")
        .max_age(max_age)
        .build())
}

/// The cookie that tells a browser to forget its console session: named and flagged as the session's
/// was (a browser refuses a `__Host-` cookie without Secure, removal or not).
pub fn removal_cookie(settings: &Settings) -> Cookie<'static> {
    let mut cookie = Cookie::build((cookie_name(settings), ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure_cookies())
        .path("/")
        .build();
    cookie.make_removal();
    cookie
}

/// The live session a cookie names, marked used; None when there is none, or it has ended (when
/// idle too long or past its end, it is removed). The accounts cache (`console::cache`) keeps what
/// this reads for a moment; [`check`] judges a kept one the same way.
pub async fn find(store: &Store, settings: &Settings, cookie: &str) -> Result<Option<KnownSession>, ApiError> {
    let hash = secrets::hash_token(cookie).as_str().to_owned();
    let row: Option<(String, String, String, String)> = on!(store, |c| {
        sqlx::query_as(
            "SELECT id, staff_id, last_seen_at, expires_at FROM lodge_staff_sessions WHERE session_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(c)
        .await
    })?;
    let Some((id, staff_id, last_seen_at, expires_at)) = row else {
        return Ok(None);
    };
    let stored = |what: &str, e: &dyn std::fmt::Display| ApiError::Internal(format!("a stored session {what}: {e}"));
    let time = |text: &str| text.parse::<DateTime<Utc>>().map_err(|e| stored("time", &e));
    let known = KnownSession {
        session: Session {
            id: id.parse().map_err(|e| stored("id", &e))?,
            staff_id: staff_id.parse().map_err(|e| stored("staff id", &e))?,
            hash,
        },
        last_seen_at: time(&last_seen_at)?,
        expires_at: time(&expires_at)?,
    };
    check(store, settings, known).await
}

/// A session read earlier, if it is still live: ended (and removed) when idle too long or past its
/// end; marked used at most once a minute.
pub async fn check(
    store: &Store,
    settings: &Settings,
    mut known: KnownSession,
) -> Result<Option<KnownSession>, ApiError> {
    let now = Utc::now();
    let idle = chrono::Duration::from_std(settings.console.idle).unwrap_or(chrono::Duration::MAX);
    if known.expires_at <= now || known.last_seen_at + idle <= now {
        delete(store, &known.session.hash).await?;
        return Ok(None);
    }
    if (now - known.last_seen_at).num_seconds() >= TOUCH_EVERY_SECONDS {
        write_on!(store, |c| {
            sqlx::query("UPDATE lodge_staff_sessions SET last_seen_at = $1 WHERE session_hash = $2")
                .bind(now.to_rfc3339())
                .bind(&known.session.hash)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        known.last_seen_at = now;
    }
    Ok(Some(known))
}

/// Ends the session a cookie names, if there is one.
pub async fn end(store: &Store, cookie: &str) -> Result<(), ApiError> {
    delete(store, secrets::hash_token(cookie).as_str()).await
}

/// Ends a session found earlier (signing out).
pub async fn end_session(store: &Store, session: &Session) -> Result<(), ApiError> {
    delete(store, &session.hash).await
}

async fn delete(store: &Store, hash: &str) -> Result<(), ApiError> {
    write_on!(store, |c| {
        sqlx::query("DELETE FROM lodge_staff_sessions WHERE session_hash = $1")
            .bind(hash)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// Ends every session of a member: "sign out everywhere", and deactivation.
pub async fn end_all(store: &Store, staff_id: StaffId) -> Result<u64, ApiError> {
    Ok(write_on!(store, |c| {
        sqlx::query("DELETE FROM lodge_staff_sessions WHERE staff_id = $1")
            .bind(staff_id.to_string())
            .execute(c)
            .await
            .map(|done| done.rows_affected())
    })?)
}

/// A member's live sessions, the latest first.
pub async fn list(store: &Store, settings: &Settings, staff_id: StaffId) -> Result<Vec<SessionInfo>, ApiError> {
    // id, created, last seen, ends, ip, user agent.
    type Row = (String, String, String, String, Option<String>, Option<String>);
    let rows: Vec<Row> = on!(store, |c| {
        sqlx::query_as(
            "SELECT id, created_at, last_seen_at, expires_at, ip, user_agent FROM lodge_staff_sessions
             WHERE staff_id = $1 ORDER BY created_at DESC",
        )
        .bind(staff_id.to_string())
        .fetch_all(c)
        .await
    })?;
    let now = Utc::now();
    let idle = chrono::Duration::from_std(settings.console.idle).unwrap_or(chrono::Duration::MAX);
    let stored = |e: &dyn std::fmt::Display| ApiError::Internal(format!("a stored session: {e}"));
    let mut live = Vec::new();
    for (id, created_at, last_seen_at, expires_at, ip, user_agent) in rows {
        let time = |text: &str| text.parse::<DateTime<Utc>>().map_err(|e| stored(&e));
        let (last_seen_at, expires_at) = (time(&last_seen_at)?, time(&expires_at)?);
        if expires_at <= now || last_seen_at + idle <= now {
            continue;
        }
        live.push(SessionInfo {
            id: id.parse().map_err(|e| stored(&e))?,
            created_at: time(&created_at)?,
            last_seen_at,
            ip: ip.and_then(|ip| ip.parse().ok()),
            user_agent,
        });
    }
    Ok(live)
}
