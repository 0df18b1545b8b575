//! Running a command on an invite through the log's command path, as every endpoint that changes
//! something does.

use lodge_domain::Decider;
use lodge_domain::InviteId;
use lodge_domain::invite::{InviteCommand, InviteDecider, InviteEvent, InviteState};
use lodge_eventlog::command::{self, CommandOutcome};
use lodge_eventlog::{LogError, Metadata, StreamId};

use crate::error::ApiError;
use crate::own_writes::Writer;
use crate::state::AppState;

/// Commands on one invite from this server take turns. Concurrent commands on one stream would
/// otherwise race to append, and all but one would decide again (and, past a few rounds, give up):
/// a contact double-clicking, or a burst of messages, would turn into conflicts. Striped locks
/// keep memory fixed whatever the number of invites; servers sharing a database still meet on the
/// log's optimistic check.
pub struct StreamLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for StreamLocks {
    fn default() -> Self {
        Self {
            stripes: (0..256).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl StreamLocks {
    async fn lock(&self, invite: InviteId) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = (invite.as_uuid().as_u128() % self.stripes.len() as u128) as usize;
        self.stripes[stripe].lock().await
    }
}

/// Runs `command` on `invite`; `writer`'s next reads will show what it recorded (see
/// [`crate::own_writes`]).
pub async fn execute(
    state: &AppState,
    writer: Option<Writer>,
    invite: InviteId,
    command: InviteCommand,
    metadata: &Metadata,
) -> Result<CommandOutcome<InviteEvent>, ApiError> {
    execute_all(state, writer, invite, std::slice::from_ref(&command), metadata).await
}

/// Several commands on one invite, recorded together or not at all.
pub async fn execute_all(
    state: &AppState,
    writer: Option<Writer>,
    invite: InviteId,
    commands: &[InviteCommand],
    metadata: &Metadata,
) -> Result<CommandOutcome<InviteEvent>, ApiError> {
    let turn = state.stream_locks.lock(invite).await;
    let outcome =
        command::execute_all::<InviteDecider>(&state.log, &StreamId::invite(invite), commands, metadata).await;
    drop(turn);
    for command in commands {
        state.metrics.command(command.name(), outcome.is_ok());
    }
    let outcome = outcome?;
    if let (Some(writer), Some(position)) = (writer, outcome.position) {
        state.own_writes.wrote(writer, position);
    }
    Ok(outcome)
}

/// An invite as its whole history in the log says it is now (for a check the read models may not
/// show yet); None when the log has no such invite.
pub async fn invite_now(state: &AppState, invite: InviteId) -> Result<Option<InviteState>, ApiError> {
    let history = match state.log.read_stream(&StreamId::invite(invite)).await {
        Ok(history) => history,
        Err(LogError::UnknownStream(_)) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    let mut events = Vec::with_capacity(history.len());
    for recorded in &history {
        events.push(recorded.decode::<InviteEvent>()?);
    }
    Ok(Some(InviteDecider::fold(&events)))
}
