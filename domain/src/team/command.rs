//! What may be asked of the team, and by whom.

use serde::{Deserialize, Serialize};

use crate::ids::StaffId;

/// What a member may do. Owners do everything, and alone manage the team and the firm's settings;
/// staff send and manage invites, review and write; viewers read everything and change nothing
/// (the compliance reviewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Viewer,
    Staff,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Staff, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role includes everything `needed` allows (owner ⊃ staff ⊃ viewer).
    pub fn includes(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| format!("`{text}` is not a role: give owner, staff or viewer"))
    }
}

/// Who asks: the operator at the server's command line (`lodge staff …`), who holds the machine and
/// may do anything, or a member through the console, bound by their role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    Operator,
    Member(StaffId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamCommand {
    AddMember(AddMember),
    ChangeRole(ChangeRole),
    Deactivate(MemberChange),
    Reactivate(MemberChange),
}

impl TeamCommand {
    pub fn name(&self) -> &'static str {
        match self {
            TeamCommand::AddMember(_) => "add_member",
            TeamCommand::ChangeRole(_) => "change_role",
            TeamCommand::Deactivate(_) => "deactivate_member",
            TeamCommand::Reactivate(_) => "reactivate_member",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddMember {
    pub by: Authority,
    /// A new id, chosen by the caller.
    pub staff_id: StaffId,
    pub email: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRole {
    pub by: Authority,
    pub staff_id: StaffId,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChange {
    pub by: Authority,
    pub staff_id: StaffId,
}
