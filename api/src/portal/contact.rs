//! What a signed-in contact does on their portal. Every function acts on the session's own invite
//! and contact only, so a contact can never reach another's portal.

use lodge_domain::MessageId;
use lodge_domain::invite::{InviteCommand, MessageFrom, PostMessage};
use lodge_eventlog::Position;
use lodge_projections::Projection;
use lodge_projections::portal::{self, PortalProjection};
use serde::Deserialize;
use uuid::Uuid;

use crate::commands;
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::portal::session::ContactSession;
use crate::portal::view::PortalResponse;
use crate::staff::invites::PostedMessage;
use crate::state::AppState;

pub async fn view(
    state: &AppState,
    session: &ContactSession,
    after: Option<Position>,
) -> Result<PortalResponse, ApiError> {
    state.wait_for(PortalProjection::NAME, after).await?;
    let view = portal::portal_view(&state.store, session.invite_id, session.contact_id)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("open your portal link again to sign in".into()))?;
    Ok(PortalResponse::new(view, &state.settings))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactMessage {
    pub body: String,
}

pub async fn post_message(
    state: &AppState,
    session: &ContactSession,
    context: &RequestContext,
    body: ContactMessage,
) -> Result<PostedMessage, ApiError> {
    let metadata = context.metadata(session.actor(), "message");
    let message_id = MessageId::from_uuid(Uuid::new_v5(&metadata.command_id, b"message"));
    let command = InviteCommand::PostMessage(PostMessage {
        message_id,
        contact_id: session.contact_id,
        from: MessageFrom::Contact,
        body: body.body,
    });
    let outcome = commands::execute(state, session.invite_id, command, &metadata).await?;
    Ok(PostedMessage {
        id: message_id,
        position: outcome.position.map(|p| p.0),
    })
}

/// One of the contact's own documents.
pub async fn download(
    state: &AppState,
    session: &ContactSession,
    document: lodge_domain::DocumentId,
    headers: &axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    let view = portal::portal_view(&state.store, session.invite_id, session.contact_id)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("open your portal link again to sign in".into()))?;
    let found = view
        .requests
        .iter()
        .flat_map(|r| &r.documents)
        .find(|d| d.id == document)
        .ok_or_else(|| ApiError::NotFound(format!("you have no document {document}")))?;
    crate::downloads::send(state, found, headers).await
}
