//! What the notifier needs to know, filled from Lodge's configuration.

use lodge_domain::links::SecretKey;

#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// `smtp://user:pass@host:587?tls=required`, `smtps://…`; None: email is not configured, and
    /// every email is recorded as failed with that reason.
    pub smtp_url: Option<String>,
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
}
