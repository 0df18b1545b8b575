//! The notifier: it follows the log from its own checkpoint (it is no projection, so a rebuild never
//! sends anything again) and tells people what they need to know — for now, each contact's portal
//! link by email when an invite is sent, a contact added, or a link reissued — and records every
//! outcome on the invite as NotificationSent or NotificationFailed.
//!
//! Delivery is at least once: a crash between sending and recording sends again on restart; a
//! delivery that was recorded is never repeated.

mod checkpoint;
mod email;
mod message;
mod reminders;
mod retries;
mod settings;
mod sms;
mod worker;

pub use reminders::ReminderSchedule;
pub use retries::RetrySettings;
pub use settings::{Clock, NotifierSettings, system_clock};
pub use sms::TwilioSettings;
pub use worker::{NotifierError, run};
