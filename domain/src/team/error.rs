//! Why the team refuses a command, in words for the person who asked.

use crate::contact::ContactError;
use crate::ids::StaffId;
use crate::text::TextError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    #[error("only an owner can change the team")]
    NotAnOwner,
    #[error("the first member of a firm's team must be an owner")]
    FirstMustBeOwner,
    #[error("{email} is already a member of the team")]
    EmailTaken { email: String },
    #[error("the id {0} is already a member's")]
    DuplicateId(StaffId),
    #[error("the team has no member {0}")]
    UnknownMember(StaffId),
    #[error("{name} is deactivated: reactivate them first")]
    Deactivated { name: String },
    #[error("the team needs an active owner: make another member an owner first")]
    LastOwner,
    #[error(transparent)]
    Email(#[from] ContactError),
    #[error(transparent)]
    Text(#[from] TextError),
}
