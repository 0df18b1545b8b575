//! Running a command on an invite through the log's command path, as every endpoint that changes
//! something does.

use lodge_domain::InviteId;
use lodge_domain::invite::{InviteCommand, InviteDecider, InviteEvent};
use lodge_eventlog::command::{self, CommandOutcome};
use lodge_eventlog::{Metadata, StreamId};

use crate::error::ApiError;
use crate::state::AppState;

pub async fn execute(
    state: &AppState,
    invite: InviteId,
    command: InviteCommand,
    metadata: &Metadata,
) -> Result<CommandOutcome<InviteEvent>, ApiError> {
    let name = command.name();
    let outcome = command::execute::<InviteDecider>(&state.log, &StreamId::invite(invite), &command, metadata).await;
    state.metrics.command(name, outcome.is_ok());
    Ok(outcome?)
}

/// Several commands on one invite, recorded together or not at all.
pub async fn execute_all(
    state: &AppState,
    invite: InviteId,
    commands: &[InviteCommand],
    metadata: &Metadata,
) -> Result<CommandOutcome<InviteEvent>, ApiError> {
    let outcome =
        command::execute_all::<InviteDecider>(&state.log, &StreamId::invite(invite), commands, metadata).await;
    for command in commands {
        state.metrics.command(command.name(), outcome.is_ok());
    }
    Ok(outcome?)
}
