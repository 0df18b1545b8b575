//! The Invite aggregate: one stream per invite, decided by [`InviteDecider`].

mod command;
mod decide;
mod error;
mod event;
mod state;

pub use command::*;
pub use decide::decide;
pub use error::InviteError;
pub use event::*;
pub use state::{Document, DocumentStatus, Invite, InviteState, InviteStatus, RequestStatus, evolve};

use crate::decider::Decider;

/// The Invite decider: [`decide`] and [`evolve`] as one type, for the log's command path.
pub struct InviteDecider;

impl Decider for InviteDecider {
    type State = InviteState;
    type Command = InviteCommand;
    type Event = InviteEvent;
    type Error = InviteError;

    fn decide(state: &InviteState, command: &InviteCommand) -> Result<Vec<InviteEvent>, InviteError> {
        decide(state, command)
    }

    fn evolve(state: InviteState, event: &InviteEvent) -> InviteState {
        evolve(state, event)
    }

    fn command_name(command: &InviteCommand) -> &'static str {
        command.name()
    }
}
