//! The notifier: it follows the log from its own checkpoint (it is no projection, so a rebuild never
//! sends anything again) and tells people what they need to know — each contact's portal
//! link when an invite is sent, a contact added, or a link reissued; rejections, staff messages and
//! reminders; and, to staff, a digest of what contacts did — and records every outcome on the invite.
//!
//! Delivery is at least once: a crash between sending and recording sends again on restart; a
//! delivery that was recorded is never repeated.

mod checkpoint;
mod email;
mod firm;
mod message;
pub mod migrations;
mod reminders;
mod retries;
mod settings;
mod sms;
mod staff_digest;
mod worker;

pub use message::Templates;
pub use retries::RetrySettings;
pub use settings::{Clock, NotifierSettings, system_clock};
pub use sms::TwilioSettings;
pub use staff_digest::DigestSettings;
pub use worker::{NotifierError, run};
