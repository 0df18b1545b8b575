//! The team's rules.

use crate::contact::normalise_email;
use crate::ids::StaffId;
use crate::limits::MAX_NAME_CHARS;
use crate::text::{self, Lines};

use super::command::{AddMember, Authority, ChangeRole, MemberChange, Role, TeamCommand};
use super::error::TeamError;
use super::event::*;
use super::state::{Member, TeamState};

pub fn decide(state: &TeamState, command: &TeamCommand) -> Result<Vec<TeamEvent>, TeamError> {
    match command {
        TeamCommand::AddMember(add) => add_member(state, add),
        TeamCommand::ChangeRole(change) => change_role(state, change),
        TeamCommand::Deactivate(change) => deactivate(state, change),
        TeamCommand::Reactivate(change) => reactivate(state, change),
    }
}

/// Only an active owner changes the team through the console; the operator always may.
fn authorised(state: &TeamState, by: Authority) -> Result<(), TeamError> {
    match by {
        Authority::Operator => Ok(()),
        Authority::Member(id) => match state.active(id) {
            Some(member) if member.role == Role::Owner => Ok(()),
            _ => Err(TeamError::NotAnOwner),
        },
    }
}

fn member(state: &TeamState, id: StaffId) -> Result<&Member, TeamError> {
    state.members.get(&id).ok_or(TeamError::UnknownMember(id))
}

fn add_member(state: &TeamState, add: &AddMember) -> Result<Vec<TeamEvent>, TeamError> {
    if state.members.is_empty() {
        // The firm's first owner is the operator's to name: no one is a member yet to ask.
        if add.by != Authority::Operator {
            return Err(TeamError::NotAnOwner);
        }
        if add.role != Role::Owner {
            return Err(TeamError::FirstMustBeOwner);
        }
    } else {
        authorised(state, add.by)?;
    }
    let email = normalise_email(&add.email)?;
    let name = text::required("a member's name", &add.name, MAX_NAME_CHARS, Lines::One)?;
    if state.members.contains_key(&add.staff_id) {
        return Err(TeamError::DuplicateId(add.staff_id));
    }
    if state.by_email(&email).is_some() {
        return Err(TeamError::EmailTaken { email });
    }
    Ok(vec![TeamEvent::MemberJoined(MemberJoined {
        staff_id: add.staff_id,
        email,
        name,
        role: add.role,
    })])
}

fn change_role(state: &TeamState, change: &ChangeRole) -> Result<Vec<TeamEvent>, TeamError> {
    authorised(state, change.by)?;
    let member = member(state, change.staff_id)?;
    if !member.active {
        return Err(TeamError::Deactivated {
            name: member.name.clone(),
        });
    }
    if member.role == change.role {
        // Already so: a repeated request changes nothing.
        return Ok(vec![]);
    }
    if member.role == Role::Owner && state.active_owners() == 1 {
        return Err(TeamError::LastOwner);
    }
    Ok(vec![TeamEvent::MemberRoleChanged(MemberRoleChanged {
        staff_id: change.staff_id,
        from: member.role,
        to: change.role,
    })])
}

fn deactivate(state: &TeamState, change: &MemberChange) -> Result<Vec<TeamEvent>, TeamError> {
    authorised(state, change.by)?;
    let member = member(state, change.staff_id)?;
    if !member.active {
        // Already done: a repeated request changes nothing.
        return Ok(vec![]);
    }
    if member.role == Role::Owner && state.active_owners() == 1 {
        return Err(TeamError::LastOwner);
    }
    Ok(vec![TeamEvent::MemberDeactivated(MemberDeactivated {
        staff_id: change.staff_id,
    })])
}

fn reactivate(state: &TeamState, change: &MemberChange) -> Result<Vec<TeamEvent>, TeamError> {
    authorised(state, change.by)?;
    if member(state, change.staff_id)?.active {
        return Ok(vec![]);
    }
    Ok(vec![TeamEvent::MemberReactivated(MemberReactivated {
        staff_id: change.staff_id,
    })])
}
