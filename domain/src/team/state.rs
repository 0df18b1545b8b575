//! The team as its events leave it.

use std::collections::BTreeMap;

use crate::ids::StaffId;

use super::command::Role;
use super::event::TeamEvent;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamState {
    pub members: BTreeMap<StaffId, Member>,
}

impl TeamState {
    /// The active member `id`, if there is one.
    pub fn active(&self, id: StaffId) -> Option<&Member> {
        self.members.get(&id).filter(|m| m.active)
    }

    /// The member whose email is `email` (already normalised), active or not.
    pub fn by_email(&self, email: &str) -> Option<(StaffId, &Member)> {
        self.members
            .iter()
            .find(|(_, m)| m.email.eq_ignore_ascii_case(email))
            .map(|(id, m)| (*id, m))
    }

    /// How many active owners the team has.
    pub fn active_owners(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.active && m.role == Role::Owner)
            .count()
    }
}

pub fn evolve(mut state: TeamState, event: &TeamEvent) -> TeamState {
    match event {
        TeamEvent::MemberJoined(e) => {
            state.members.insert(
                e.staff_id,
                Member {
                    email: e.email.clone(),
                    name: e.name.clone(),
                    role: e.role,
                    active: true,
                },
            );
        }
        TeamEvent::MemberRoleChanged(e) => {
            if let Some(member) = state.members.get_mut(&e.staff_id) {
                member.role = e.to;
            }
        }
        TeamEvent::MemberDeactivated(e) => {
            if let Some(member) = state.members.get_mut(&e.staff_id) {
                member.active = false;
            }
        }
        TeamEvent::MemberReactivated(e) => {
            if let Some(member) = state.members.get_mut(&e.staff_id) {
                member.active = true;
            }
        }
    }
    state
}
