//! Builders for the team's tests: three members and given/when/then over the team's stream.

use uuid::Uuid;

use crate::StaffId;
use crate::decider::Decider;
use crate::team::*;

pub const OLIVE: StaffId = StaffId::from_uuid(Uuid::from_u128(0x9001));
pub const SAM: StaffId = StaffId::from_uuid(Uuid::from_u128(0x9002));
pub const VAL: StaffId = StaffId::from_uuid(Uuid::from_u128(0x9003));
pub const NEW: StaffId = StaffId::from_uuid(Uuid::from_u128(0x9004));

pub fn joined(staff_id: StaffId, email: &str, name: &str, role: Role) -> TeamEvent {
    TeamEvent::MemberJoined(MemberJoined {
        staff_id,
        email: email.into(),
        name: name.into(),
        role,
    })
}

/// Olive the owner, Sam of the staff and Val the viewer.
pub fn team() -> Vec<TeamEvent> {
    vec![
        joined(OLIVE, "olive@firm.example", "Olive Owner", Role::Owner),
        joined(SAM, "sam@firm.example", "Sam Staff", Role::Staff),
        joined(VAL, "val@firm.example", "Val Viewer", Role::Viewer),
    ]
}

pub fn add(by: Authority, staff_id: StaffId, email: &str, name: &str, role: Role) -> TeamCommand {
    TeamCommand::AddMember(AddMember {
        by,
        staff_id,
        email: email.into(),
        name: name.into(),
        role,
    })
}

pub fn change_role(by: Authority, staff_id: StaffId, role: Role) -> TeamCommand {
    TeamCommand::ChangeRole(ChangeRole { by, staff_id, role })
}

pub fn deactivate(by: Authority, staff_id: StaffId) -> TeamCommand {
    TeamCommand::Deactivate(MemberChange { by, staff_id })
}

pub fn reactivate(by: Authority, staff_id: StaffId) -> TeamCommand {
    TeamCommand::Reactivate(MemberChange { by, staff_id })
}

pub fn when(history: &[TeamEvent], command: TeamCommand) -> Result<Vec<TeamEvent>, TeamError> {
    TeamDecider::decide(&TeamDecider::fold(history), &command)
}

/// Decides `command` after `history` and returns the history with the new events appended; a
/// refusal fails the test at the caller's line.
#[track_caller]
pub fn then(history: &[TeamEvent], command: TeamCommand) -> Vec<TeamEvent> {
    let mut events = history.to_vec();
    match when(history, command) {
        Ok(new) => events.extend(new),
        Err(refused) => panic!("command refused: {refused}"),
    }
    events
}

/// Asserts that `command` after `history` is refused with `error`, at the caller's line.
#[track_caller]
pub fn refused(history: &[TeamEvent], command: TeamCommand, error: TeamError) {
    assert_eq!(when(history, command), Err(error));
}

pub fn member(history: &[TeamEvent], id: StaffId) -> Member {
    TeamDecider::fold(history).members[&id].clone()
}
