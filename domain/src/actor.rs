//! Who does things: staff members, contacts, or Lodge itself.

use serde::{Deserialize, Serialize};

use crate::ids::{ContactId, StaffId};

/// A staff member as events name them: enough to say who acted without looking anything up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub id: StaffId,
    pub name: String,
}

/// The staff member who sends an Invite, with the details a contact sees on the portal's Contact tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub id: StaffId,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

impl Sender {
    pub fn as_staff_member(&self) -> StaffMember {
        StaffMember {
            id: self.id,
            name: self.name.clone(),
        }
    }
}

/// Who caused an event, as recorded in the log's metadata and shown in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Actor {
    Staff {
        id: StaffId,
        name: String,
    },
    Contact {
        id: ContactId,
        name: String,
    },
    /// Lodge itself: the notifier, a scheduled reminder, an automatic completion.
    System,
}

impl From<&StaffMember> for Actor {
    fn from(staff: &StaffMember) -> Self {
        Actor::Staff {
            id: staff.id,
            name: staff.name.clone(),
        }
    }
}
