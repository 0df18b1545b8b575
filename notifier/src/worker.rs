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
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::checkpoint;
use crate::email::{Mailer, Outcome};
use crate::message::{self, Invitation};
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
    loop {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            batch = subscription.next_batch(BATCH) => batch?,
        };
        for event in batch {
            notifier.handle(&event).await?;
            checkpoint::save(&mut leader, event.position).await?;
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
    async fn handle(&self, recorded: &RecordedEvent) -> Result<(), NotifierError> {
        let Some(invite_id) = recorded.stream_id.invite_id() else {
            return Ok(());
        };
        let event: InviteEvent = recorded.decode()?;
        let due: Vec<Due> = match &event {
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
            if done.contains(&(notification.contact, notification.channel)) {
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
            self.record(invite_id, recorded, &notification, to, outcome).await?;
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
    ) -> Result<(), NotifierError> {
        let mut metadata = Metadata::new(Actor::System);
        // The same notification, recorded twice (a restart), is one command.
        metadata.command_id = Uuid::new_v5(
            &cause.event_id,
            format!("notify/{}/{:?}", notification.contact, notification.channel).as_bytes(),
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
