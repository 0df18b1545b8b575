//! Emails the sign-in links the console makes for staff (`SignInLinkMade` on the `sign-ins`
//! stream): a new colleague's first link, and a link for a forgotten password. The link is derived
//! from the event's command id under the server's secret, as the API derived it; the outcome is
//! recorded on the same stream under a command id derived from the event's, so that after a crash
//! the email is not sent again once recorded (at most once more if the crash fell between sending
//! and recording, as for contacts' emails). A link past its expiry is not sent at all. No retries:
//! the owner's page showed the link, and a member can ask again.

use lodge_domain::Actor;
use lodge_domain::links::{staff_link_token, staff_link_url};
use lodge_domain::team::{SignInEvent, SignInLinkEmailed, SignInLinkNotEmailed};
use lodge_eventlog::{ExpectedVersion, Metadata, NewEvent, RecordedEvent, StreamId};
use uuid::Uuid;

use super::{Notifier, NotifierError};
use crate::email::Outcome;
use crate::message;

impl Notifier {
    pub(super) async fn email_sign_in_link(&self, recorded: &RecordedEvent) -> Result<(), NotifierError> {
        let SignInEvent::SignInLinkMade(made) = recorded.decode::<SignInEvent>()? else {
            return Ok(());
        };
        if made.expires_at <= (self.settings.clock)() {
            return Ok(());
        }
        let outcome_id = Uuid::new_v5(&recorded.metadata.command_id, b"sign-in-link/emailed");
        if self.log.command_outcome(outcome_id).await?.is_some() {
            return Ok(());
        }
        let (token, _) = staff_link_token(&self.settings.secret_key, recorded.metadata.command_id);
        let url = staff_link_url(&self.settings.public_url, &token);
        let rendered = message::sign_in_link(&self.settings.templates, &self.firm.get().name, &made, &url);
        let outcome = match &self.mailer {
            Some(mailer) => mailer.send(&made.name, &made.email, &rendered).await,
            None => Outcome::Failed {
                reason: "email is not configured (LODGE_SMTP_URL)".into(),
                permanent: true,
            },
        };
        let staff_id = made.staff_id;
        let event = match outcome {
            Outcome::Delivered { message_id } => {
                SignInEvent::SignInLinkEmailed(SignInLinkEmailed { staff_id, message_id })
            }
            Outcome::Failed { reason, .. } => {
                tracing::warn!(%reason, "a sign-in link could not be emailed");
                SignInEvent::SignInLinkNotEmailed(SignInLinkNotEmailed { staff_id, reason })
            }
        };
        let mut metadata = Metadata::new(Actor::System);
        metadata.command_id = outcome_id;
        metadata.correlation_id = recorded.metadata.correlation_id;
        metadata.causation_id = Some(recorded.event_id);
        self.log
            .append(
                &StreamId::sign_ins(),
                ExpectedVersion::Any,
                &[NewEvent::from_domain(&event)],
                &metadata,
            )
            .await?;
        Ok(())
    }
}
