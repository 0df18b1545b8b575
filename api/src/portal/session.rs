//! Portal sessions. A contact opens their portal with the token of their link; Lodge answers with a
//! session cookie, so the token is not needed after. When the invite has a portal password, the
//! session only opens the portal once the password is given; wrong passwords are limited per
//! contact and each one is recorded in the log.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};
use lodge_domain::invite::InviteCommand;
use lodge_domain::invite::{InviteDecider, InviteEvent, InviteState, PortalAccess, RecordPortalAccess};
use lodge_domain::{Actor, ContactId, Decider, InviteId};
use lodge_eventlog::{LogError, StreamId};
use lodge_projections::portal::{self, InviteStatus, PortalView};

use crate::commands;
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::portal::cache::CachedSession;
use crate::secrets;
use crate::state::AppState;

pub const COOKIE: &str = "lodge_portal";

/// Wrong passwords allowed per contact in [`ATTEMPT_WINDOW`], before 429.
pub const MAX_PASSWORD_ATTEMPTS: usize = 5;
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long opening a portal waits for a link that the read model does not show yet.
const LINK_WAIT: Duration = Duration::from_secs(1);

/// A signed-in contact: whose portal this request may see and change.
#[derive(Debug, Clone)]
pub struct ContactSession {
    pub invite_id: InviteId,
    pub contact_id: ContactId,
    pub contact_name: String,
    session_hash: String,
    unlocked: bool,
    /// The portal as the read model showed it when the request arrived.
    pub view: Arc<PortalView>,
}

impl ContactSession {
    /// One of the requests on this contact's portal; another's is as good as missing.
    pub fn request(
        &self,
        request_id: lodge_domain::RequestId,
    ) -> Result<&lodge_projections::portal::PortalRequest, ApiError> {
        self.view
            .requests
            .iter()
            .find(|r| r.id == request_id)
            .ok_or_else(|| ApiError::NotFound(format!("your portal has no request {request_id}")))
    }

    /// The hash of the session's cookie, which the portal cache keys sessions by.
    pub(crate) fn session_hash(&self) -> &str {
        &self.session_hash
    }

    /// Whether the portal is open to this session (its password given, when it has one).
    pub fn is_unlocked(&self) -> bool {
        self.unlocked
    }

    pub fn actor(&self) -> Actor {
        Actor::Contact {
            id: self.contact_id,
            name: self.contact_name.clone(),
        }
    }
}

/// A contact whose session has opened the portal (password given, when there is one).
pub struct Contact(pub ContactSession);

/// A contact whose session may still need the password.
pub struct PendingContact(pub ContactSession);

fn signed_out() -> ApiError {
    ApiError::Unauthenticated("open your portal link again to sign in".into())
}

/// unlocked, expires_at, the current link's hash, the view, the view's position.
type SessionRow = (i64, String, Option<String>, Option<String>, Option<i64>);

async fn session_from(parts: &Parts, state: &AppState) -> Result<ContactSession, ApiError> {
    let jar = CookieJar::from_headers(&parts.headers);
    let cookie = jar.get(COOKIE).ok_or_else(signed_out)?;
    let session_hash = secrets::hash_token(cookie.value()).as_str().to_owned();
    if let Some(cached) = state.portal_cache.get(&session_hash) {
        if cached.expires_at <= Utc::now() {
            return Err(expired());
        }
        return Ok(ContactSession {
            invite_id: cached.invite_id,
            contact_id: cached.contact_id,
            contact_name: cached.view.contact.name.clone(),
            session_hash,
            unlocked: cached.unlocked,
            view: cached.view,
        });
    }
    // One query for every check a portal request needs, and the view it will most likely show.
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.unlocked, s.expires_at,
                (SELECT l.token_hash FROM portal_links l
                  WHERE l.token_hash = s.link_hash AND l.invite_id = s.invite_id AND l.contact_id = s.contact_id),
                v.doc, v.position
         FROM lodge_portal_sessions s
         LEFT JOIN portal_views v ON v.invite_id = s.invite_id AND v.contact_id = s.contact_id
         WHERE s.session_hash = $1",
    )
    .bind(&session_hash)
    .fetch_optional(state.store.pool())
    .await?;
    let (unlocked, expires_at, current_link, doc, position) = row.ok_or_else(signed_out)?;
    let expires_at: DateTime<Utc> = expires_at
        .parse()
        .map_err(|e| ApiError::Internal(format!("a stored session expiry: {e}")))?;
    if expires_at <= Utc::now() {
        return Err(expired());
    }
    // The session lives only while its link is the contact's current one and the invite is open.
    if current_link.is_none() {
        return Err(ApiError::Unauthenticated(
            "this portal link was replaced by a newer one: use the link in your latest email or text message".into(),
        ));
    }
    let view: PortalView = serde_json::from_str(&doc.ok_or_else(signed_out)?)
        .map_err(|e| ApiError::Internal(format!("a stored portal view: {e}")))?;
    if view.invite.status == InviteStatus::Cancelled {
        return Err(ApiError::Unauthenticated(
            "this invite was cancelled, so its portal is closed".into(),
        ));
    }
    let view = Arc::new(view);
    let session = ContactSession {
        invite_id: view.invite.id,
        contact_id: view.contact.id,
        contact_name: view.contact.name.clone(),
        session_hash,
        unlocked: unlocked == 1,
        view,
    };
    state.portal_cache.insert(
        session.session_hash.clone(),
        CachedSession {
            invite_id: session.invite_id,
            contact_id: session.contact_id,
            unlocked: session.unlocked,
            expires_at,
            view: session.view.clone(),
        },
        position.unwrap_or_default(),
    );
    Ok(session)
}

fn expired() -> ApiError {
    ApiError::Unauthenticated("your session has expired: open your portal link again".into())
}

impl FromRequestParts<AppState> for PendingContact {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        session_from(parts, state).await.map(PendingContact)
    }
}

impl FromRequestParts<AppState> for Contact {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = session_from(parts, state).await?;
        if !session.unlocked {
            return Err(ApiError::Unauthenticated(
                "this portal is protected by a password: send it to /api/portal/session/password first".into(),
            ));
        }
        Ok(Contact(session))
    }
}

/// A new session: the cookie to set, and whether the password is still needed.
pub struct Opened {
    pub cookie: Cookie<'static>,
    pub password_required: bool,
}

/// Opens a session with a portal link's token.
pub async fn open(state: &AppState, context: &RequestContext, token: &str) -> Result<Opened, ApiError> {
    let link_hash = secrets::hash_token(token.trim());
    let not_a_link =
        || ApiError::NotFound("this portal link is not valid: it may have been replaced by a newer one".into());
    // A link sent moments ago may not be in the read model yet: look again for a short while. An
    // unknown token therefore takes a second to refuse, which also slows anyone guessing.
    let deadline = tokio::time::Instant::now() + LINK_WAIT;
    let (invite_id, contact_id) = loop {
        if let Some(link) = portal::portal_link(&state.store, link_hash.as_str()).await? {
            break link;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(not_a_link());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let view = portal::portal_view(&state.store, invite_id, contact_id)
        .await?
        .ok_or_else(not_a_link)?;
    if view.invite.status == InviteStatus::Cancelled {
        return Err(ApiError::Unauthenticated(
            "this invite was cancelled, so its portal is closed".into(),
        ));
    }
    let password_required = view.invite.password_protected;
    let (session, session_hash) = secrets::new_token("");
    let now = Utc::now();
    let expires_at = now + state.settings.session_lifetime;
    let query = sqlx::query(
        "INSERT INTO lodge_portal_sessions (session_hash, link_hash, invite_id, contact_id, unlocked, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(session_hash.as_str().to_owned())
    .bind(link_hash.as_str().to_owned())
    .bind(invite_id.to_string())
    .bind(contact_id.to_string())
    .bind(i64::from(!password_required))
    .bind(now.to_rfc3339())
    .bind(expires_at.to_rfc3339());
    state.store.execute_write(query).await?;
    let actor = Actor::Contact {
        id: contact_id,
        name: view.contact.name.clone(),
    };
    if !password_required {
        record_access(state, context, invite_id, contact_id, actor, PortalAccess::Opened).await?;
    }
    let cookie = Cookie::build((COOKIE, session))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.secure_cookies())
        .path("/")
        .max_age(cookie_max_age(state.settings.session_lifetime))
        .build();
    Ok(Opened {
        cookie,
        password_required,
    })
}

fn cookie_max_age(lifetime: Duration) -> time::Duration {
    time::Duration::seconds(lifetime.as_secs() as i64)
}

async fn record_access(
    state: &AppState,
    context: &RequestContext,
    invite: InviteId,
    contact: ContactId,
    actor: Actor,
    access: PortalAccess,
) -> Result<(), ApiError> {
    let mut metadata = context.metadata(actor, "portal-access");
    // Every access is its own command, even under a repeated Idempotency-Key.
    metadata.command_id = uuid::Uuid::now_v7();
    metadata.correlation_id = metadata.command_id;
    let command = InviteCommand::RecordPortalAccess(RecordPortalAccess {
        contact_id: contact,
        access,
        ip: context.source.ip,
        user_agent: context.source.user_agent.clone(),
    });
    commands::execute(state, invite, command, &metadata).await?;
    Ok(())
}

/// Checks the portal password for a session. Wrong passwords are recorded; after
/// [`MAX_PASSWORD_ATTEMPTS`] in [`ATTEMPT_WINDOW`] the contact must wait.
pub async fn unlock(
    state: &AppState,
    context: &RequestContext,
    session: &ContactSession,
    password: String,
) -> Result<(), ApiError> {
    if session.unlocked {
        return Ok(());
    }
    let stream = StreamId::invite(session.invite_id);
    let history = state.log.read_stream(&stream).await.map_err(|error| match error {
        LogError::UnknownStream(_) => signed_out(),
        other => other.into(),
    })?;
    let since = Utc::now() - ATTEMPT_WINDOW;
    let mut state_now = InviteState::default();
    let mut refused = Vec::new();
    for recorded in &history {
        let event = recorded.decode::<InviteEvent>()?;
        if let InviteEvent::PortalPasswordRefused(refusal) = &event
            && refusal.contact_id == session.contact_id
            && recorded.recorded_at > since
        {
            refused.push(recorded.recorded_at);
        }
        state_now = InviteDecider::evolve(state_now, &event);
    }
    if refused.len() >= MAX_PASSWORD_ATTEMPTS {
        let oldest = refused[refused.len() - MAX_PASSWORD_ATTEMPTS];
        let retry_after = (oldest + ATTEMPT_WINDOW - Utc::now())
            .to_std()
            .unwrap_or(Duration::from_secs(1));
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "too many wrong passwords: try again in {} minutes, or ask the firm for help",
                retry_after.as_secs().div_ceil(60)
            ),
            retry_after,
        });
    }
    let hash = state_now.invite().and_then(|invite| invite.portal_password.clone());
    let actor = session.actor();
    let matches = match hash {
        None => true,
        Some(hash) => secrets::password_matches(password, hash).await?,
    };
    if !matches {
        record_access(
            state,
            context,
            session.invite_id,
            session.contact_id,
            actor,
            PortalAccess::PasswordRefused,
        )
        .await?;
        let left = MAX_PASSWORD_ATTEMPTS - refused.len() - 1;
        return Err(ApiError::Unauthenticated(if left == 0 {
            "wrong password; that was the last try for now, so wait 15 minutes before trying again".into()
        } else {
            format!("wrong password; {left} more tries before a 15-minute wait")
        }));
    }
    state.portal_cache.forget(&session.session_hash);
    state
        .store
        .execute_write(
            sqlx::query("UPDATE lodge_portal_sessions SET unlocked = 1 WHERE session_hash = $1")
                .bind(&session.session_hash),
        )
        .await?;
    record_access(
        state,
        context,
        session.invite_id,
        session.contact_id,
        actor,
        PortalAccess::Opened,
    )
    .await
}
