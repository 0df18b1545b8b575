//! Puts what happened at sign-in on the record: the firm's `sign-ins` stream. These are facts seen
//! beside the log (a password checked against its hash), not decisions over the stream's past, so
//! they are appended at any version, without reading the stream.

use lodge_domain::Actor;
use lodge_domain::team::SignInEvent;
use lodge_eventlog::{ExpectedVersion, NewEvent, StreamId};

use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::state::AppState;

/// Records `event` as `actor`'s (the member, or Lodge itself for a refusal), with where it came from.
pub async fn record(
    state: &AppState,
    context: &RequestContext,
    actor: Actor,
    event: SignInEvent,
) -> Result<(), ApiError> {
    // Each sign-in is its own, even under a repeated Idempotency-Key.
    record_as(state, context, actor, event, uuid::Uuid::now_v7()).await
}

/// [`record`] under a command id chosen beforehand (a link derived from it).
pub async fn record_as(
    state: &AppState,
    context: &RequestContext,
    actor: Actor,
    event: SignInEvent,
    command_id: uuid::Uuid,
) -> Result<(), ApiError> {
    let mut metadata = context.metadata(actor, "sign-in");
    metadata.command_id = command_id;
    metadata.correlation_id = metadata.command_id;
    state
        .log
        .append(
            &StreamId::sign_ins(),
            ExpectedVersion::Any,
            &[NewEvent::from_domain(&event)],
            &metadata,
        )
        .await?;
    Ok(())
}
