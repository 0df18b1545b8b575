//! The staff console's accounts: how a member of the team proves who they are in a browser. A
//! one-time sign-in link (`links`) lets them choose a password (`credentials`, argon2id); signing in
//! (with a code from an app, `two_step`, or a recovery code, `recovery_codes`, after the password
//! when the member turned that on: `pending` holds the sign-in meanwhile) opens a session (`sessions`) that ends when idle, at its absolute end, at sign-out, or when the
//! member is deactivated. What happens is on the record (`record`: the `sign-ins` stream); the
//! credentials stay beside the log as hashes (docs/decisions/0010, 0029). `sign_in` holds the use
//! cases the pages call; `extract` finds the signed-in member of a request.

pub mod cache;
pub mod credentials;
pub mod dashboard_cache;
pub mod emailed_links;
pub mod extract;
pub mod invite_form;
pub mod links;
pub mod own_account;
pub mod pending;
mod record;
pub mod recovery_codes;
pub mod sessions;
pub mod sign_in;
pub mod two_step;

pub use extract::{ConsoleMember, ConsoleRejection};
