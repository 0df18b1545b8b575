//! Following the log: which events call for a notification, sending it, recording the outcome.

use lodge_domain::contact::Channel;
use lodge_domain::invite::{
    InviteCommand, InviteDecider, InviteEvent, InviteState, NotificationOutcome, RecordNotification,
};
use lodge_domain::links::{portal_link_token, portal_url};
use lodge_domain::notification::NotificationKind;
use lodge_domain::{Actor, ContactId, Decider, InviteId};
use lodge_eventlog::command::{self, CommandError};
use lodge_eventlog::{EventLog, LogError, Metadata, RecordedEvent, StreamId};
use lodge_projections::{ProjectionError, ReadStore};
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::checkpoint;
use crate::email::{Mailer, Outcome};
use crate::message::{self, Invitation};
use crate::retries;
use crate::settings::NotifierSettings;
use crate::sms::{Sms, invitation_text};

/// Events read per batch.
const BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Store(#[from] ProjectionError),
    #[error("the notifier's checkpoint: {0}")]
    Checkpoint(#[from] sqlx::Error),
    #[error("recording a notification: {0}")]
    Record(String),
}

struct Notifier {
    log: EventLog,
    settings: NotifierSettings,
    mailer: Option<Mailer>,
    sms: Option<Sms>,
}

/// Runs the notifier until `shutdown`: in one process at a time when servers share a database.
pub async fn run(
    log: EventLog,
    store: ReadStore,
    settings: NotifierSettings,
    shutdown: CancellationToken,
) -> Result<(), NotifierError> {
    let mailer = match &settings.smtp_url {
        None => {
            tracing::warn!("email is not configured (LODGE_SMTP_URL): emails are recorded as failed");
            None
        }
        Some(url) => match Mailer::new(url, &settings.mail_from) {
            Ok(mailer) => Some(mailer),
            Err(reason) => {
                tracing::error!(%reason, "email is not usable: emails are recorded as failed");
                None
            }
        },
    };
    let sms = match settings.twilio.clone() {
        None => {
            tracing::warn!("SMS is not configured (LODGE_TWILIO_*): text messages are recorded as failed");
            None
        }
        Some(twilio) => match Sms::new(twilio) {
            Ok(sms) => Some(sms),
            Err(reason) => {
                tracing::error!(%reason, "SMS is not usable: text messages are recorded as failed");
                None
            }
        },
    };
    let Some(mut leader) = store.lead("notifier", &shutdown).await? else {
        return Ok(());
    };
    let notifier = Notifier {
        log,
        settings,
        mailer,
        sms,
    };
    let mut subscription = notifier.log.subscribe(checkpoint::load(&mut leader).await?);
    let mut retry_check = tokio::time::interval(notifier.settings.retry.check_every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = retry_check.tick() => notifier.retry_due(&mut leader).await?,
            batch = subscription.next_batch(BATCH) => {
                for event in batch? {
                    notifier.handle(&mut leader, &event).await?;
                    checkpoint::save(&mut leader, event.position).await?;
                }
            }
        }
    }
}

/// Which try an outcome is of: each is recorded by a command of its own.
#[derive(Debug, Clone, Copy)]
enum Attempt {
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
struct Due {
    contact: ContactId,
    channel: Channel,
    kind: NotificationKind,
    /// The new link's place in the command that made it.
    link_index: usize,
}

impl Notifier {
    /// The first delivery of whatever `recorded` calls for, and the bookkeeping of retries that the
    /// outcomes it records call for.
    async fn handle(&self, leader: &mut AnyConnection, recorded: &RecordedEvent) -> Result<(), NotifierError> {
        let Some(invite_id) = recorded.stream_id.invite_id() else {
            return Ok(());
        };
        let event: InviteEvent = recorded.decode()?;
        match &event {
            InviteEvent::NotificationFailed(failed) if !failed.permanent => {
                return Ok(retries::failed(leader, invite_id, failed, &self.settings.retry).await?);
            }
            InviteEvent::NotificationFailed(done) => {
                return Ok(retries::settled(leader, done.cause, done.contact_id, done.channel).await?);
            }
            InviteEvent::NotificationSent(done) => {
                return Ok(retries::settled(leader, done.cause, done.contact_id, done.channel).await?);
            }
            _ => {}
        }
        self.deliver(invite_id, recorded, &event, None).await
    }

    /// Sends what `recorded` calls for: everything not yet recorded, or (a retry) one notification
    /// again whatever was recorded.
    async fn deliver(
        &self,
        invite_id: InviteId,
        recorded: &RecordedEvent,
        event: &InviteEvent,
        retry: Option<&retries::Retry>,
    ) -> Result<(), NotifierError> {
        let due: Vec<Due> = match event {
            InviteEvent::InviteSent(sent) => sent
                .contacts
                .iter()
                .enumerate()
                .flat_map(|(index, contact)| {
                    sent.channels.iter().map(move |channel| Due {
                        contact: contact.id,
                        channel: *channel,
                        kind: NotificationKind::Invitation,
                        link_index: index,
                    })
                })
                .collect(),
            InviteEvent::ContactAdded(added) => self
                .channels_of(invite_id, recorded)
                .await?
                .into_iter()
                .map(|channel| Due {
                    contact: added.contact.id,
                    channel,
                    kind: NotificationKind::Invitation,
                    link_index: 0,
                })
                .collect(),
            InviteEvent::PortalLinkReissued(reissued) => self
                .channels_of(invite_id, recorded)
                .await?
                .into_iter()
                .map(|channel| Due {
                    contact: reissued.contact_id,
                    channel,
                    kind: NotificationKind::LinkReissued,
                    link_index: 0,
                })
                .collect(),
            _ => Vec::new(),
        };
        if due.is_empty() {
            return Ok(());
        }
        let stream = StreamId::invite(invite_id);
        let history = self.log.read_stream(&stream).await?;
        let mut state = InviteState::default();
        let mut done = Vec::new();
        for earlier in &history {
            let decoded: InviteEvent = earlier.decode()?;
            if earlier.stream_version <= recorded.stream_version {
                state = InviteDecider::evolve(state, &decoded);
            }
            match &decoded {
                InviteEvent::NotificationSent(n) if n.cause == recorded.event_id => {
                    done.push((n.contact_id, n.channel))
                }
                InviteEvent::NotificationFailed(n) if n.cause == recorded.event_id => {
                    done.push((n.contact_id, n.channel))
                }
                _ => {}
            }
        }
        let Some(invite) = state.invite() else { return Ok(()) };
        for notification in due {
            let wanted = match retry {
                None => !done.contains(&(notification.contact, notification.channel)),
                Some(retry) => retry.contact == notification.contact && retry.channel == notification.channel,
            };
            if !wanted {
                continue;
            }
            let Some(contact) = invite.contact(notification.contact) else {
                continue;
            };
            let (token, _) = portal_link_token(
                &self.settings.secret_key,
                recorded.metadata.command_id,
                notification.link_index,
            );
            let url = portal_url(&self.settings.public_url, &token);
            let (to, outcome) = match notification.channel {
                Channel::Email => {
                    let to = contact.email.clone().unwrap_or_default();
                    let rendered = message::invitation(&Invitation {
                        firm: &self.settings.firm_name,
                        contact_name: &contact.name,
                        sender_name: &invite.sender.name,
                        title: &invite.title,
                        message: invite.message.as_deref(),
                        requests: invite.requests_for(contact.id).count(),
                        due_on: invite.due_on,
                        portal_url: &url,
                        reissued: notification.kind == NotificationKind::LinkReissued,
                    });
                    let outcome = match &self.mailer {
                        None => NotificationOutcome::Failed {
                            reason: "email is not configured: set LODGE_SMTP_URL and LODGE_MAIL_FROM".into(),
                            permanent: true,
                        },
                        Some(mailer) => match mailer.send(&contact.name, &to, &rendered).await {
                            Outcome::Delivered { message_id } => NotificationOutcome::Delivered {
                                provider_message_id: Some(message_id),
                            },
                            Outcome::Failed { reason, permanent } => NotificationOutcome::Failed { reason, permanent },
                        },
                    };
                    (to, outcome)
                }
                Channel::Sms => {
                    let to = contact.phone.clone().unwrap_or_default();
                    let outcome = match &self.sms {
                        None => NotificationOutcome::Failed {
                            reason: "SMS is not configured: set LODGE_TWILIO_ACCOUNT_SID, LODGE_TWILIO_AUTH_TOKEN and LODGE_TWILIO_FROM".into(),
                            permanent: true,
                        },
                        Some(sms) => {
                            let text = invitation_text(
                                &self.settings.firm_name,
                                &invite.title,
                                &url,
                                notification.kind == NotificationKind::LinkReissued,
                            );
                            match sms.send(&to, &text).await {
                                Outcome::Delivered { message_id } => NotificationOutcome::Delivered {
                                    provider_message_id: Some(message_id),
                                },
                                Outcome::Failed { reason, permanent } => NotificationOutcome::Failed { reason, permanent },
                            }
                        }
                    };
                    (to, outcome)
                }
            };
            let attempt = retry.map_or(Attempt::First, |r| Attempt::Retry(r.attempts));
            self.record(invite_id, recorded, &notification, to, outcome, attempt)
                .await?;
        }
        Ok(())
    }

    /// Sends again the notifications whose retry is due; gives up on those that kept failing for
    /// too long, recording that as final.
    async fn retry_due(&self, leader: &mut AnyConnection) -> Result<(), NotifierError> {
        for retry in retries::due(leader, &self.settings.retry).await? {
            let stream = StreamId::invite(retry.invite_id);
            let history = self.log.read_stream(&stream).await?;
            let Some(cause) = history.iter().find(|e| e.event_id == retry.cause) else {
                retries::settled(leader, retry.cause, retry.contact, retry.channel).await?;
                continue;
            };
            if retry.given_up(&self.settings.retry) {
                let notification = Due {
                    contact: retry.contact,
                    channel: retry.channel,
                    kind: retry.kind,
                    link_index: 0,
                };
                let outcome = NotificationOutcome::Failed {
                    reason: format!(
                        "gave up after {} tries over {} hours: {}",
                        retry.attempts + 1,
                        self.settings.retry.give_up_after.as_secs() / 3600,
                        retry.last_reason
                    ),
                    permanent: true,
                };
                self.record(
                    retry.invite_id,
                    cause,
                    &notification,
                    retry.to.clone(),
                    outcome,
                    Attempt::GiveUp,
                )
                .await?;
                continue;
            }
            let event: InviteEvent = cause.decode()?;
            self.deliver(retry.invite_id, cause, &event, Some(&retry)).await?;
        }
        Ok(())
    }

    /// The channels an invite's links go out by, as of `recorded`.
    async fn channels_of(&self, invite_id: InviteId, recorded: &RecordedEvent) -> Result<Vec<Channel>, NotifierError> {
        let history = self.log.read_stream(&StreamId::invite(invite_id)).await?;
        let mut state = InviteState::default();
        for earlier in history.iter().filter(|e| e.stream_version <= recorded.stream_version) {
            state = InviteDecider::evolve(state, &earlier.decode()?);
        }
        Ok(state
            .invite()
            .map(|i| i.channels.iter().copied().collect())
            .unwrap_or_default())
    }

    async fn record(
        &self,
        invite_id: InviteId,
        cause: &RecordedEvent,
        notification: &Due,
        to: String,
        outcome: NotificationOutcome,
        attempt: Attempt,
    ) -> Result<(), NotifierError> {
        let mut metadata = Metadata::new(Actor::System);
        // The same notification (and the same retry of it), recorded twice after a restart, is one
        // command.
        metadata.command_id = Uuid::new_v5(
            &cause.event_id,
            format!(
                "notify/{}/{:?}/{}",
                notification.contact,
                notification.channel,
                attempt.key()
            )
            .as_bytes(),
        );
        metadata.correlation_id = cause.metadata.correlation_id;
        metadata.causation_id = Some(cause.event_id);
        let command = InviteCommand::RecordNotification(RecordNotification {
            contact_id: notification.contact,
            channel: notification.channel,
            kind: notification.kind,
            to,
            cause: cause.event_id,
            outcome,
        });
        match command::execute::<InviteDecider>(&self.log, &StreamId::invite(invite_id), &command, &metadata).await {
            Ok(_) => Ok(()),
            Err(CommandError::Log(error)) => Err(error.into()),
            Err(other) => Err(NotifierError::Record(other.to_string())),
        }
    }
}
