//! SMS through Twilio's Messages REST API, over reqwest with a configurable base URL (so that tests
//! and other Twilio-compatible providers can stand in). `twilio-async` is not used: it is
//! unmaintained, pins hyper 0.14 and hard-codes Twilio's host.
//!
//! 429 and 5xx answers and connection errors are transient and tried again a few times; any other
//! 4xx (an invalid number, code 21211) is final.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use lodge_domain::notification::NotificationKind;

use crate::email::Outcome;

const ATTEMPTS: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// The most GSM-7 characters one SMS segment holds.
pub const SEGMENT: usize = 160;

#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The sending number, or else a messaging service.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    /// `https://api.twilio.com` unless told otherwise.
    pub base_url: String,
}

pub struct Sms {
    client: reqwest::Client,
    settings: TwilioSettings,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

impl Sms {
    pub fn new(settings: TwilioSettings) -> Result<Self, String> {
        if settings.from.is_none() && settings.messaging_service_sid.is_none() {
            return Err("set LODGE_TWILIO_FROM or LODGE_TWILIO_MESSAGING_SERVICE_SID".into());
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("an HTTP client for Twilio: {e}"))?;
        Ok(Self { client, settings })
    }

    pub async fn send(&self, to: &str, body: &str) -> Outcome {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.settings.base_url.trim_end_matches('/'),
            self.settings.account_sid
        );
        let mut form = vec![("To", to.to_owned()), ("Body", body.to_owned())];
        match (&self.settings.from, &self.settings.messaging_service_sid) {
            (Some(from), _) => form.push(("From", from.clone())),
            (None, Some(service)) => form.push(("MessagingServiceSid", service.clone())),
            (None, None) => unreachable!("checked in new"),
        }
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=ATTEMPTS {
            let answer = self
                .client
                .post(&url)
                .basic_auth(
                    &self.settings.account_sid,
                    Some(self.settings.auth_token.expose_secret()),
                )
                .form(&form)
                .send()
                .await;
            let transient = match answer {
                Ok(response) if response.status().is_success() => {
                    return match response.json::<Created>().await {
                        Ok(created) => Outcome::Delivered {
                            message_id: created.sid,
                        },
                        Err(error) => Outcome::Failed {
                            reason: format!("Twilio accepted the message but its answer was unreadable: {error}"),
                            permanent: true,
                        },
                    };
                }
                Ok(response) => {
                    let status = response.status();
                    let detail = match response.json::<TwilioError>().await {
                        Ok(TwilioError { code, message }) => format!(
                            " ({}): {}",
                            code.map_or("no code".to_owned(), |c| c.to_string()),
                            message.unwrap_or_default()
                        ),
                        Err(_) => String::new(),
                    };
                    let reason = format!("Twilio {}{detail}", status.as_u16());
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Outcome::Failed {
                            reason,
                            permanent: true,
                        };
                    }
                    reason
                }
                Err(error) => format!("Twilio could not be reached: {error}"),
            };
            if attempt == ATTEMPTS {
                return Outcome::Failed {
                    reason: format!("{transient} (after {ATTEMPTS} tries)"),
                    permanent: false,
                };
            }
            tracing::info!(reason = %transient, attempt, "SMS not sent yet; trying again");
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        unreachable!("the last attempt returns")
    }
}

/// Whether `text` uses only the GSM 03.38 basic character set, so that it costs 1 character per
/// character (anything else turns the whole message into UCS-2, 70 characters a segment).
pub fn is_gsm7(text: &str) -> bool {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    text.chars().all(|c| BASIC.contains(c))
}

/// The SMS for `kind`: short, with the contact's link, in one GSM-7 segment where it can be.
pub fn sms_text(kind: NotificationKind, firm: &str, title: &str, portal_url: &str) -> String {
    match kind {
        NotificationKind::Invitation | NotificationKind::Reminder => invitation_text(firm, title, portal_url, false),
        NotificationKind::LinkReissued => invitation_text(firm, title, portal_url, true),
        NotificationKind::DocumentRejected => {
            format!(
                "{}: a document needs sending again, see why: {portal_url}",
                gsm7_only(firm)
            )
        }
        NotificationKind::StaffMessage => format!("{}: you have a new message: {portal_url}", gsm7_only(firm)),
    }
}

fn gsm7_only(text: &str) -> String {
    text.chars()
        .filter(|c| is_gsm7(&c.to_string()) && *c != '\n' && *c != '\r')
        .collect()
}

/// The invitation by SMS: the firm, what is asked, and the link, in one segment where it can be.
/// The link is never cut; the title is shortened, then dropped, to make room.
fn invitation_text(firm: &str, title: &str, portal_url: &str, reissued: bool) -> String {
    let (firm, title) = (gsm7_only(firm), gsm7_only(title));
    let verb = if reissued {
        "your new link for"
    } else {
        "please send what is asked for"
    };
    let with_title = |title: &str| format!("{firm}: {verb} \"{title}\": {portal_url}");
    let full = with_title(&title);
    if full.chars().count() <= SEGMENT {
        return full;
    }
    let room = SEGMENT.saturating_sub(with_title("").chars().count());
    if room >= 8 {
        let short: String = title.chars().take(room - 3).collect();
        return with_title(&format!("{}...", short.trim_end()));
    }
    let bare = if reissued {
        "your new portal link"
    } else {
        "your portal"
    };
    format!("{firm}: {bare}: {portal_url}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_fits_one_segment_where_it_can() {
        let url = format!("https://lodge.example/p/{}", "a".repeat(64));
        let short = invitation_text("Alves & Co", "Tax return 2026", &url, false);
        assert_eq!(
            short,
            format!("Alves & Co: please send what is asked for \"Tax return 2026\": {url}")
        );
        assert!(short.chars().count() <= SEGMENT && is_gsm7(&short));
        let long = invitation_text(
            "Alves & Co",
            &"Quarterly business activity statement ".repeat(3),
            &url,
            false,
        );
        assert!(long.chars().count() <= SEGMENT, "{long}");
        assert!(long.ends_with(&url), "the link is never cut");
        let odd = invitation_text("Alves — Co", "Impôts 2026 ✓", &url, true);
        assert!(is_gsm7(&odd), "{odd}");
        assert!(!is_gsm7("✓"));
    }
}
