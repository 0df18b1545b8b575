//! What happened to the team. Kept forever like every event: a type name, a schema version, and a
//! stored JSON fixture under `domain/tests/fixtures/events/`.

use serde::{Deserialize, Serialize};

use crate::decider::{EventDecodeError, EventSchema, check_known, current_version, never_written, payload};
use crate::ids::StaffId;

use super::command::Role;

#[derive(Debug, Clone, PartialEq)]
pub enum TeamEvent {
    MemberJoined(MemberJoined),
    MemberRoleChanged(MemberRoleChanged),
    MemberDeactivated(MemberDeactivated),
    MemberReactivated(MemberReactivated),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberJoined {
    pub staff_id: StaffId,
    /// Normalised (trimmed, the domain lower-cased).
    pub email: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRoleChanged {
    pub staff_id: StaffId,
    pub from: Role,
    pub to: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberDeactivated {
    pub staff_id: StaffId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberReactivated {
    pub staff_id: StaffId,
}

impl TeamEvent {
    /// Every type this code writes, with its current schema version.
    pub const TYPES: &'static [(&'static str, u32)] = &[
        ("MemberJoined", 1),
        ("MemberRoleChanged", 1),
        ("MemberDeactivated", 1),
        ("MemberReactivated", 1),
    ];
}

impl EventSchema for TeamEvent {
    fn event_type(&self) -> &'static str {
        match self {
            TeamEvent::MemberJoined(_) => "MemberJoined",
            TeamEvent::MemberRoleChanged(_) => "MemberRoleChanged",
            TeamEvent::MemberDeactivated(_) => "MemberDeactivated",
            TeamEvent::MemberReactivated(_) => "MemberReactivated",
        }
    }

    fn schema_version(&self) -> u32 {
        current_version(Self::TYPES, self.event_type()).expect("every event type is listed in TeamEvent::TYPES")
    }

    fn to_json(&self) -> String {
        let json = match self {
            TeamEvent::MemberJoined(e) => serde_json::to_string(e),
            TeamEvent::MemberRoleChanged(e) => serde_json::to_string(e),
            TeamEvent::MemberDeactivated(e) => serde_json::to_string(e),
            TeamEvent::MemberReactivated(e) => serde_json::to_string(e),
        };
        json.expect("team events serialise")
    }

    fn from_json(event_type: &str, schema_version: u32, json: &str) -> Result<Self, EventDecodeError> {
        check_known(Self::TYPES, event_type, schema_version)?;
        let (t, v) = (event_type, schema_version);
        // One arm per (type, version) ever written.
        match (t, v) {
            ("MemberJoined", 1) => payload(t, v, json).map(TeamEvent::MemberJoined),
            ("MemberRoleChanged", 1) => payload(t, v, json).map(TeamEvent::MemberRoleChanged),
            ("MemberDeactivated", 1) => payload(t, v, json).map(TeamEvent::MemberDeactivated),
            ("MemberReactivated", 1) => payload(t, v, json).map(TeamEvent::MemberReactivated),
            _ => Err(never_written(t, v)),
        }
    }
}
