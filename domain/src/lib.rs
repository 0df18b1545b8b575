//! Lodge's domain: what an Invite is, which commands it accepts, and which events record them.
//!
//! Everything here is pure: plain data and functions, no I/O, no clock, no randomness, no async.
//! Ids, the current date and secrets' hashes arrive inside commands, decided by the caller, so every
//! rule can be tested without a database.

pub mod actor;
pub mod contact;
pub mod decider;
pub mod digest;
pub mod firm;
pub mod ids;
pub mod invite;
pub mod limits;
pub mod links;
pub mod notification;
pub mod reminder;
pub mod request;
pub mod team;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use actor::{Actor, Sender, StaffMember};
pub use decider::{Decider, EventDecodeError, EventSchema};
pub use ids::{ContactId, DocumentId, InviteId, MessageId, RequestId, StaffId};
