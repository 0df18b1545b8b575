//! The firm's team: who its staff are, with which role, and who may no longer sign in. One stream
//! for the firm (`team`), decided by [`TeamDecider`], so that the rules across members hold: an
//! email names one member, and the firm always keeps an active owner.
//!
//! Credentials (password hashes, second factors, sessions) are not here: they stay beside the log
//! as hashes (docs/decisions/0010). Who did what is the event's metadata (its actor); the command
//! carries who asks ([`Authority`]) because the rules depend on it.

mod command;
mod decide;
mod error;
mod event;
mod sign_in;
mod state;

pub use command::*;
pub use decide::decide;
pub use error::TeamError;
pub use event::*;
pub use sign_in::*;
pub use state::{Member, TeamState, evolve};

use crate::decider::Decider;

/// The Team decider: [`decide`] and [`evolve`] as one type, for the log's command path.
pub struct TeamDecider;

impl Decider for TeamDecider {
    type State = TeamState;
    type Command = TeamCommand;
    type Event = TeamEvent;
    type Error = TeamError;

    fn decide(state: &TeamState, command: &TeamCommand) -> Result<Vec<TeamEvent>, TeamError> {
        decide(state, command)
    }

    fn evolve(state: TeamState, event: &TeamEvent) -> TeamState {
        evolve(state, event)
    }

    fn command_name(command: &TeamCommand) -> &'static str {
        command.name()
    }
}
