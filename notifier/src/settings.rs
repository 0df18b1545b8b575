//! What the notifier needs to know, filled from Lodge's configuration.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lodge_domain::links::SecretKey;
use secrecy::SecretString;

/// What time it is: the real clock, or a test's.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

#[derive(Clone)]
pub struct NotifierSettings {
    /// `smtp://user:pass@host:587?tls=required`, `smtps://…`; None: email is not configured, and
    /// every email is recorded as failed with that reason.
    /// A secret: it may carry the SMTP server's password.
    pub smtp_url: Option<SecretString>,
    /// `Name <address>` that emails come from.
    pub mail_from: String,
    /// Where portal links point (`{public_url}/p/{token}`).
    pub public_url: String,
    /// The server's secret, from which portal links are derived.
    pub secret_key: SecretKey,
    pub firm_name: String,
    /// Twilio's Messages API; None: SMS is not configured, and every SMS is recorded as failed.
    pub twilio: Option<crate::sms::TwilioSettings>,
    /// When failed notifications are tried again.
    pub retry: crate::retries::RetrySettings,
    /// When contacts who still owe something are reminded (the firm's default; staff may choose
    /// otherwise per invite), and how often to look.
    pub reminders: lodge_domain::reminder::ReminderPlan,
    pub reminder_check_every: Duration,
    /// Due dates are days in the firm's time zone.
    pub time_zone: chrono_tz::Tz,
    /// When staff hear of what contacts did.
    pub digest: crate::staff_digest::DigestSettings,
    /// The email templates (the firm's over Lodge's).
    pub templates: Arc<crate::message::Templates>,
    pub clock: Clock,
}
