//! Following the log: which events call for a notification, sending it, recording the outcome.

use lodge_domain::contact::Channel;
use lodge_domain::invite::{
    InviteCommand, InviteDecider, InviteEvent, InviteState, NotificationOutcome, RecordNotification,
};
use lodge_domain::links::{portal_link_token, portal_url};
use lodge_domain::notification::NotificationKind;
use std::collections::BTreeMap;

use lodge_domain::{Actor, ContactId, Decider, InviteId};
use lodge_eventlog::command::{self, CommandError};
use lodge_eventlog::{EventLog, LogError, Metadata, RecordedEvent, StreamId};
use lodge_projections::{ProjectionError, ReadStore};
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::checkpoint;
use crate::email::{Mailer, Outcome};
use crate::message::{self, About};
use crate::retries;
use crate::settings::NotifierSettings;
use crate::sms::{Sms, sms_text};

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
        let calls: Vec<(ContactId, NotificationKind)> = match event {
            InviteEvent::InviteSent(sent) => sent
                .contacts
                .iter()
                .map(|c| (c.id, NotificationKind::Invitation))
                .collect(),
            InviteEvent::ContactAdded(added) => vec![(added.contact.id, NotificationKind::Invitation)],
            InviteEvent::PortalLinkReissued(reissued) => vec![(reissued.contact_id, NotificationKind::LinkReissued)],
            InviteEvent::DocumentRejected(rejected) => vec![(rejected.contact_id, NotificationKind::DocumentRejected)],
            InviteEvent::MessagePosted(posted) if matches!(posted.author, Actor::Staff { .. }) => {
                vec![(posted.contact_id, NotificationKind::StaffMessage)]
            }
            _ => Vec::new(),
        };
        if calls.is_empty() {
            return Ok(());
        }
        let stream = StreamId::invite(invite_id);
        let history = self.log.read_stream(&stream).await?;
        let mut state = InviteState::default();
        let mut done = Vec::new();
        // The command and place that made each contact's current link, as of `recorded`.
        let mut links: BTreeMap<ContactId, (Uuid, usize)> = BTreeMap::new();
        for earlier in &history {
            let decoded: InviteEvent = earlier.decode()?;
            if earlier.stream_version <= recorded.stream_version {
                state = InviteDecider::evolve(state, &decoded);
                let command = earlier.metadata.command_id;
                match &decoded {
                    InviteEvent::InviteSent(sent) => {
                        for (index, contact) in sent.contacts.iter().enumerate() {
                            links.insert(contact.id, (command, index));
                        }
                    }
                    InviteEvent::ContactAdded(added) => {
                        links.insert(added.contact.id, (command, 0));
                    }
                    InviteEvent::PortalLinkReissued(reissued) => {
                        links.insert(reissued.contact_id, (command, 0));
                    }
                    _ => {}
                }
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
        for (contact_id, kind) in calls {
            let (Some(contact), Some((command, index))) = (invite.contact(contact_id), links.get(&contact_id)) else {
                continue;
            };
            for channel in invite.channels.iter().copied() {
                let wanted = match retry {
                    None => !done.contains(&(contact_id, channel)),
                    Some(retry) => retry.contact == contact_id && retry.channel == channel,
                };
                if !wanted {
                    continue;
                }
                let (token, _) = portal_link_token(&self.settings.secret_key, *command, *index);
                let url = portal_url(&self.settings.public_url, &token);
                let about = About {
                    firm: &self.settings.firm_name,
                    invite,
                    contact,
                    event,
                    url: &url,
                };
                let (to, outcome) = match channel {
                    Channel::Email => (
                        contact.email.clone().unwrap_or_default(),
                        self.email(kind, &about).await,
                    ),
                    Channel::Sms => (contact.phone.clone().unwrap_or_default(), self.sms(kind, &about).await),
                };
                let notification = Due {
                    contact: contact_id,
                    channel,
                    kind,
                };
                let attempt = retry.map_or(Attempt::First, |r| Attempt::Retry(r.attempts));
                self.record(invite_id, recorded, &notification, to, outcome, attempt)
                    .await?;
            }
        }
        Ok(())
    }

    async fn email(&self, kind: NotificationKind, about: &About<'_>) -> NotificationOutcome {
        let Some(mailer) = &self.mailer else {
            return NotificationOutcome::Failed {
                reason: "email is not configured: set LODGE_SMTP_URL and LODGE_MAIL_FROM".into(),
                permanent: true,
            };
        };
        let rendered = message::render(kind, about);
        let to = about.contact.email.as_deref().unwrap_or_default();
        match mailer.send(&about.contact.name, to, &rendered).await {
            Outcome::Delivered { message_id } => NotificationOutcome::Delivered {
                provider_message_id: Some(message_id),
            },
            Outcome::Failed { reason, permanent } => NotificationOutcome::Failed { reason, permanent },
        }
    }

    async fn sms(&self, kind: NotificationKind, about: &About<'_>) -> NotificationOutcome {
        let Some(sms) = &self.sms else {
            return NotificationOutcome::Failed {
                reason:
                    "SMS is not configured: set LODGE_TWILIO_ACCOUNT_SID, LODGE_TWILIO_AUTH_TOKEN and LODGE_TWILIO_FROM"
                        .into(),
                permanent: true,
            };
        };
        let text = sms_text(kind, about.firm, &about.invite.title, about.url);
        let to = about.contact.phone.as_deref().unwrap_or_default();
        match sms.send(to, &text).await {
            Outcome::Delivered { message_id } => NotificationOutcome::Delivered {
                provider_message_id: Some(message_id),
            },
            Outcome::Failed { reason, permanent } => NotificationOutcome::Failed { reason, permanent },
        }
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
