//! Portal sessions. A contact opens their portal with the token of their link; Lodge answers with a
//! session cookie, so the token is not needed after. When the invite has a portal password, the
//! session only opens the portal once the password is given; wrong passwords are limited per
//! contact and each one is recorded in the log (`portal::password`). Each sign-in step (the link,
//! the password) makes a new session id and ends the one before, and a session can be ended
//! (signing out).

use lodge_store::{on, write_on};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};
use lodge_domain::digest::TokenHash;
use lodge_domain::invite::InviteCommand;
use lodge_domain::invite::{PortalAccess, RecordPortalAccess};
use lodge_domain::{Actor, ContactId, InviteId};
use lodge_projections::Projection;
use lodge_projections::portal::{self, InviteStatus, PortalProjection, PortalView};

use crate::commands;
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::limits::{self, Action, Who};
use crate::own_writes::Writer;
use crate::portal::cache::CachedSession;
use crate::secrets;
use crate::state::AppState;

pub const COOKIE: &str = "lodge_portal";

/// A signed-in contact: whose portal this request may see and change.
#[derive(Debug, Clone)]
pub struct ContactSession {
    pub invite_id: InviteId,
    pub contact_id: ContactId,
    pub contact_name: String,
    pub(crate) session_hash: String,
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

    /// Whose writes these are, so that the session's reads show them.
    pub fn writer(&self) -> Writer {
        Writer::Contact(self.session_hash.clone())
    }

    /// Whose tries these are, for the limits on what a contact may do.
    pub fn who(&self, context: &RequestContext) -> Who {
        Who {
            contact: Some((self.invite_id, self.contact_id)),
            address: context.source.ip,
        }
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

pub(crate) fn signed_out() -> ApiError {
    ApiError::Unauthenticated("open your portal link again to sign in".into())
}

/// unlocked, expires_at, the current link's hash, the view, the view's position.
type SessionRow = (i64, String, Option<String>, Option<String>, Option<i64>);

/// Whether a request reads the portal (and must show the session's own writes) or writes to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Read,
    /// A command: the log decides it, so it need not wait for the read model to catch up.
    Write,
}

/// The session a cookie names, with the portal as the read model shows it to that session; to a
/// read, after the session's own last write, when it made one here (see [`crate::own_writes`]).
pub(crate) async fn session_for(state: &AppState, cookie: &str, purpose: Purpose) -> Result<ContactSession, ApiError> {
    let mut session = stored_session(state, cookie).await?;
    if purpose == Purpose::Write {
        return Ok(session);
    }
    let writer = Writer::Contact(session.session_hash.clone());
    if let Some(own) = state.own_writes.pending(&writer, PortalProjection::NAME) {
        state.wait_for(PortalProjection::NAME, None, Some(&writer)).await?;
        let view = portal::portal_view(&state.read_models, session.invite_id, session.contact_id)
            .await?
            .ok_or_else(signed_out)?;
        session.view = Arc::new(view);
        state
            .portal_cache
            .refresh(&session.session_hash, session.view.clone(), own.0);
    }
    Ok(session)
}

async fn stored_session(state: &AppState, cookie: &str) -> Result<ContactSession, ApiError> {
    let session_hash = secrets::hash_token(cookie).as_str().to_owned();
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
    let row: Option<SessionRow> = on!(state.store, |c| {
        sqlx::query_as(
            "SELECT s.unlocked, s.expires_at,
                (SELECT l.token_hash FROM portal_links l
                  WHERE l.token_hash = s.link_hash AND l.invite_id = s.invite_id AND l.contact_id = s.contact_id),
                v.doc, v.position
         FROM lodge_portal_sessions s
         LEFT JOIN portal_views v ON v.invite_id = s.invite_id AND v.contact_id = s.contact_id
         WHERE s.session_hash = $1",
        )
        .bind(&session_hash)
        .fetch_optional(c)
        .await
    })?;
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

async fn session_from(parts: &Parts, state: &AppState) -> Result<ContactSession, ApiError> {
    let jar = CookieJar::from_headers(&parts.headers);
    let cookie = jar.get(COOKIE).ok_or_else(signed_out)?;
    // Reads show the session's own writes; a command is decided from the log, whatever the view.
    let purpose = if parts.method.is_safe() {
        Purpose::Read
    } else {
        Purpose::Write
    };
    session_for(state, cookie.value(), purpose).await
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

/// The portal a link opens.
#[derive(Debug, Clone)]
pub struct Link {
    pub invite_id: InviteId,
    pub contact_id: ContactId,
    hash: TokenHash,
}

fn not_a_link() -> ApiError {
    ApiError::NotFound("this portal link is not valid: it may have been replaced by a newer one".into())
}

/// Finds the portal a link's token opens. Opening links is limited per address, before anything
/// is looked up, and per contact; an unknown token is refused at once, unless the read model of
/// links is behind the log (a link sent a moment ago), when it waits for it as long as a read may
/// wait (`read_wait`): one second was too short for a server just started, on a busy machine. If
/// it is still behind then, the answer is 503 (try again), not that the link is not valid.
pub async fn find_link(state: &AppState, context: &RequestContext, token: &str) -> Result<Link, ApiError> {
    let address = Who {
        contact: None,
        address: context.source.ip,
    };
    limits::check(state, Action::LinkOpen, address).await?;
    let hash = secrets::hash_token(token.trim());
    let found = match portal::portal_link(&state.read_models, hash.as_str()).await? {
        Some(found) => Some(found),
        None => {
            // The settled head, or later if this server wrote later: on PostgreSQL the head can
            // read low for a moment while other databases of the server are busy.
            let head = state.log.settled_head().await?.max(state.own_writes.latest());
            let caught_up = state
                .read_models
                .wait_for(&state.log, PortalProjection::NAME, head, state.settings.read_wait)
                .await?;
            if !caught_up {
                // Not known yet is not the same as not valid: the contact is told to try again.
                return Err(ApiError::NotYetVisible(
                    "this portal is still being prepared; try the link again in a moment".into(),
                ));
            }
            portal::portal_link(&state.read_models, hash.as_str()).await?
        }
    };
    let (invite_id, contact_id) = found.ok_or_else(not_a_link)?;
    let contact = Who {
        contact: Some((invite_id, contact_id)),
        address: None,
    };
    limits::check(state, Action::LinkOpen, contact).await?;
    Ok(Link {
        invite_id,
        contact_id,
        hash,
    })
}

/// The cookie that carries a portal session: HTTP only, this site only, Secure over https.
pub(crate) fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.secure_cookies())
        .path("/")
        .max_age(cookie_max_age(state.settings.session_lifetime))
        .build()
}

/// Opens a new session on `link`'s portal. The session the browser had (`replacing`, its cookie)
/// ends: every sign-in gets a session id of its own, so one planted beforehand opens nothing.
pub async fn open(
    state: &AppState,
    context: &RequestContext,
    link: Link,
    replacing: Option<&str>,
) -> Result<Opened, ApiError> {
    let Link {
        invite_id,
        contact_id,
        hash: link_hash,
    } = link;
    let view = portal::portal_view(&state.read_models, invite_id, contact_id)
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
    write_on!(state.store, |c| {
        sqlx::query(
            "INSERT INTO lodge_portal_sessions (session_hash, link_hash, invite_id, contact_id, unlocked, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session_hash.as_str().to_owned())
        .bind(link_hash.as_str().to_owned())
        .bind(invite_id.to_string())
        .bind(contact_id.to_string())
        .bind(i64::from(!password_required))
        .bind(now.to_rfc3339())
        .bind(expires_at.to_rfc3339())
        .execute(c).await.map(|_| ())
    })?;
    if let Some(old) = replacing {
        end(state, old).await?;
    }
    let actor = Actor::Contact {
        id: contact_id,
        name: view.contact.name.clone(),
    };
    if !password_required {
        record_access(state, context, invite_id, contact_id, actor, PortalAccess::Opened).await?;
    }
    Ok(Opened {
        cookie: session_cookie(state, session),
        password_required,
    })
}

/// Ends the session a cookie names, if there is one.
pub async fn end(state: &AppState, cookie: &str) -> Result<(), ApiError> {
    let session_hash = secrets::hash_token(cookie).as_str().to_owned();
    state.portal_cache.forget(&session_hash);
    write_on!(state.store, |c| {
        sqlx::query("DELETE FROM lodge_portal_sessions WHERE session_hash = $1")
            .bind(session_hash)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// The cookie that tells a browser to forget its portal session.
pub fn removal_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build((COOKIE, "")).path("/").build();
    cookie.make_removal();
    cookie
}

fn cookie_max_age(lifetime: Duration) -> time::Duration {
    time::Duration::seconds(lifetime.as_secs() as i64)
}

pub(crate) async fn record_access(
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
    commands::execute(state, None, invite, command, &metadata).await?;
    Ok(())
}
