//! Identifiers. Each kind of thing has its own type so that a contact's id can never be passed where a
//! request's is expected. Ids are UUIDs chosen by the caller (UUIDv7 in practice), never by the domain.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// An Invite: one list of requests sent to one or more contacts.
    InviteId
);
uuid_id!(
    /// A contact of an Invite (a firm's client), who has their own portal.
    ContactId
);
uuid_id!(
    /// A request of an Invite: a document to upload or a form to fill in.
    RequestId
);
uuid_id!(
    /// A document (one uploaded file) in answer to a request.
    DocumentId
);
uuid_id!(
    /// A message between the firm and one contact.
    MessageId
);
uuid_id!(
    /// A member of the firm's staff.
    StaffId
);
