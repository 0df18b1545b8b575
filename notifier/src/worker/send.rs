//! Sending one notification on one channel and recording its outcome in the log, as a command of
//! its own; what deliveries, reminders, retries and digests share.

use lodge_domain::contact::Channel;
use lodge_domain::invite::{InviteCommand, InviteDecider, NotificationOutcome, RecordNotification};
use lodge_domain::notification::NotificationKind;
use lodge_domain::{Actor, ContactId, InviteId};
use lodge_eventlog::command::{self, CommandError};
use lodge_eventlog::{Metadata, RecordedEvent, StreamId};
use uuid::Uuid;

use super::{Notifier, NotifierError};
use crate::email::Outcome;
use crate::message::{self, About};
use crate::sms::sms_text;

/// What a notification is recorded under: the event that called for it (or a reminder's slot), and
/// the correlation it belongs to.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cause {
    pub id: Uuid,
    pub correlation: Uuid,
}

impl Cause {
    pub fn of(event: &RecordedEvent) -> Self {
        Self {
            id: event.event_id,
            correlation: event.metadata.correlation_id,
        }
    }

    /// A reminder's cause: its slot, which is no event.
    pub fn slot(id: Uuid) -> Self {
        Self { id, correlation: id }
    }
}

/// Which try an outcome is of: each is recorded by a command of its own.
#[derive(Debug, Clone, Copy)]
pub(super) enum Attempt {
    First,
    Retry(u32),
    GiveUp,
}

impl Attempt {
    fn key(self) -> String {
        match self {
            Attempt::First => "first".to_owned(),
            Attempt::Retry(n) => format!("retry-{n}"),
            Attempt::GiveUp => "give-up".to_owned(),
        }
    }
}

/// One notification an event calls for.
pub(super) struct Due {
    pub contact: ContactId,
    pub channel: Channel,
    pub kind: NotificationKind,
}

impl Notifier {
    /// Sends `due` to the contact `about` names (the email rendered by `email` only if it goes by
    /// email), then records the outcome under `cause`.
    pub(super) async fn send(
        &self,
        invite_id: InviteId,
        cause: Cause,
        due: &Due,
        about: &About<'_>,
        email: impl FnOnce() -> message::Rendered,
        attempt: Attempt,
    ) -> Result<(), NotifierError> {
        let (to, outcome) = match due.channel {
            Channel::Email => {
                let to = about.contact.email.clone().unwrap_or_default();
                let outcome = self.mail(&about.contact.name, &to, &email()).await;
                (to, outcome)
            }
            Channel::Sms => {
                let to = about.contact.phone.clone().unwrap_or_default();
                let text = sms_text(due.kind, about.firm, &about.invite.title, about.url);
                let outcome = self.text(&to, &text).await;
                (to, outcome)
            }
        };
        self.record(invite_id, cause, due, to, outcome, attempt).await
    }

    /// Emails `rendered` to `name <to>`.
    pub(super) async fn mail(&self, name: &str, to: &str, rendered: &message::Rendered) -> NotificationOutcome {
        let Some(mailer) = &self.mailer else {
            return NotificationOutcome::Failed {
                reason: "email is not configured: set LODGE_SMTP_URL and LODGE_MAIL_FROM".into(),
                permanent: true,
            };
        };
        match mailer.send(name, to, rendered).await {
            Outcome::Delivered { message_id } => NotificationOutcome::Delivered {
                provider_message_id: Some(message_id),
            },
            Outcome::Failed { reason, permanent } => NotificationOutcome::Failed { reason, permanent },
        }
    }

    /// Texts `text` to the phone number `to`.
    async fn text(&self, to: &str, text: &str) -> NotificationOutcome {
        let Some(sms) = &self.sms else {
            return NotificationOutcome::Failed {
                reason:
                    "SMS is not configured: set LODGE_TWILIO_ACCOUNT_SID, LODGE_TWILIO_AUTH_TOKEN and LODGE_TWILIO_FROM"
                        .into(),
                permanent: true,
            };
        };
        match sms.send(to, text).await {
            Outcome::Delivered { message_id } => NotificationOutcome::Delivered {
                provider_message_id: Some(message_id),
            },
            Outcome::Failed { reason, permanent } => NotificationOutcome::Failed { reason, permanent },
        }
    }

    /// Records the outcome of `due`'s `attempt`.
    pub(super) async fn record(
        &self,
        invite_id: InviteId,
        cause: Cause,
        due: &Due,
        to: String,
        outcome: NotificationOutcome,
        attempt: Attempt,
    ) -> Result<(), NotifierError> {
        let mut metadata = Metadata::new(Actor::System);
        // The same notification (and the same retry of it), recorded twice after a restart, is one
        // command.
        metadata.command_id = Uuid::new_v5(
            &cause.id,
            format!("notify/{}/{:?}/{}", due.contact, due.channel, attempt.key()).as_bytes(),
        );
        metadata.correlation_id = cause.correlation;
        metadata.causation_id = Some(cause.id);
        let command = InviteCommand::RecordNotification(RecordNotification {
            contact_id: due.contact,
            channel: due.channel,
            kind: due.kind,
            to,
            cause: cause.id,
            outcome,
        });
        self.execute(invite_id, &command, &metadata).await
    }

    /// Records `command` on the invite's stream.
    pub(super) async fn execute(
        &self,
        invite_id: InviteId,
        command: &InviteCommand,
        metadata: &Metadata,
    ) -> Result<(), NotifierError> {
        match command::execute::<InviteDecider>(&self.log, &StreamId::invite(invite_id), command, metadata).await {
            Ok(_) => Ok(()),
            Err(CommandError::Log(error)) => Err(error.into()),
            Err(other) => Err(NotifierError::Record(other)),
        }
    }
}
