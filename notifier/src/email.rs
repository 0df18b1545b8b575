//! Email over SMTP (lettre, with its connection pool). Transient failures (the server is down, a
//! 4xx answer) are retried a few times with growing pauses; a 5xx answer is final.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::message::Rendered;

/// Tries per email, and the first pause between them (doubled each time).
const ATTEMPTS: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(500);

pub enum Outcome {
    Delivered { message_id: String },
    Failed { reason: String, permanent: bool },
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain of the Message-IDs Lodge makes.
    domain: String,
}

impl Mailer {
    pub fn new(smtp_url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| format!("LODGE_SMTP_URL is not usable: {e}"))?
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("LODGE_MAIL_FROM `{from}` is not an address: {e}"))?;
        let domain = from.email.domain().to_owned();
        Ok(Self {
            transport,
            from,
            domain,
        })
    }

    pub async fn send(&self, to_name: &str, to_address: &str, rendered: &Rendered) -> Outcome {
        let to = match to_address.parse() {
            Ok(address) => Mailbox::new(Some(to_name.to_owned()), address),
            Err(error) => {
                return Outcome::Failed {
                    reason: format!("`{to_address}` is not an email address: {error}"),
                    permanent: true,
                };
            }
        };
        let message_id = format!("<{}@{}>", uuid::Uuid::now_v7(), self.domain);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.clone())
            .message_id(Some(message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text.clone(),
                rendered.html.clone(),
            ));
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                return Outcome::Failed {
                    reason: format!("the email could not be made: {error}"),
                    permanent: true,
                };
            }
        };
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=ATTEMPTS {
            match self.transport.send(message.clone()).await {
                Ok(_) => return Outcome::Delivered { message_id },
                Err(error) if error.is_permanent() => {
                    return Outcome::Failed {
                        reason: format!("the mail server refused it: {error}"),
                        permanent: true,
                    };
                }
                Err(error) if attempt == ATTEMPTS => {
                    return Outcome::Failed {
                        reason: format!("the mail server could not take it after {ATTEMPTS} tries: {error}"),
                        permanent: false,
                    };
                }
                Err(error) => {
                    tracing::info!(%error, attempt, "email not sent yet; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        unreachable!("the last attempt returns")
    }
}
