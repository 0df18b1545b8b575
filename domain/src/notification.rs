//! Notifications: what Lodge tells people, and through which channel. Sending happens outside the
//! domain (the notifier); the domain records each outcome as a fact on the invite.

use serde::{Deserialize, Serialize};

/// Why a notification was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The portal link, when the invite is sent or the contact added.
    Invitation,
    /// A new portal link after the old one was revoked.
    LinkReissued,
    /// A reminder before or after the due date.
    Reminder,
    /// A document was rejected, with the reason.
    DocumentRejected,
    /// Staff wrote to the contact.
    StaffMessage,
}

impl NotificationKind {
    pub fn describe(self) -> &'static str {
        match self {
            NotificationKind::Invitation => "invitation",
            NotificationKind::LinkReissued => "new portal link",
            NotificationKind::Reminder => "reminder",
            NotificationKind::DocumentRejected => "document rejected",
            NotificationKind::StaffMessage => "message from staff",
        }
    }
}
