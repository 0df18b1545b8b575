//! Following the log: which events call for a notification, sending it, recording the outcome.
//! The loop and its dispatch are here; each kind of work has its own file: deliveries of what an
//! event calls for, reminders, retries, staff digests and staff's sign-in links, over one way of reading an invite's
//! history and one way of sending and recording.

mod deliver;
mod digest;
mod history;
mod remind;
mod retry;
mod send;
mod sign_in_links;

use lodge_domain::invite::{InviteError, InviteEvent};
use lodge_eventlog::command::CommandError;
use lodge_eventlog::{EventLog, LogError, RecordedEvent, StreamId};
use lodge_projections::{ProjectionError, ReadStore};
use lodge_store::Connection;
use lodge_store::Store;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use crate::checkpoint;
use crate::email::Mailer;
use crate::firm::{Firm, FirmNow};
use crate::reminders;
use crate::retries;
use crate::settings::NotifierSettings;
use crate::sms::Sms;
use crate::staff_digest;

/// Events read per batch.
const BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Store(#[from] ProjectionError),
    /// The notifier's own tables (its checkpoint, retries, digests) or its leadership.
    #[error("the notifier's tables: {0}")]
    Database(#[from] sqlx::Error),
    /// The log refused to record a notification or a digest (not for want of the database).
    #[error("recording a notification: {0}")]
    Record(#[source] CommandError<InviteError>),
}

impl NotifierError {
    /// Whether trying again later may succeed: the database went away for a while, or was busy.
    fn is_transient(&self) -> bool {
        match self {
            NotifierError::Log(error) => error.is_transient(),
            NotifierError::Store(error) => error.is_transient(),
            NotifierError::Database(error) => lodge_eventlog::is_transient(error),
            NotifierError::Record(_) => false,
        }
    }
}

struct Notifier {
    /// Where its own tables live, beside the read models; on SQLite its writes queue with theirs.
    store: Store,
    /// The read models it finds reminders' candidates in.
    read_models: ReadStore,
    log: EventLog,
    settings: NotifierSettings,
    mailer: Option<Mailer>,
    sms: Option<Sms>,
    /// The firm's name, time zone and default reminders: the configuration's, or as an owner saved.
    firm: Firm,
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
        Some(url) => match Mailer::new(url.expose_secret(), &settings.mail_from) {
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
    crate::migrations::migrate(store.store()).await?;
    // Reminders look for candidates in the staff read model: make sure its view exists even if no
    // projector has run yet.
    lodge_projections::all::register_all(&store).await?;
    let firm = Firm::new(FirmNow {
        name: settings.firm_name.clone(),
        time_zone: settings.time_zone,
        reminders: settings.reminders.clone(),
    });
    let notifier = Notifier {
        firm,
        store: store.store().clone(),
        read_models: store,
        log,
        settings,
        mailer,
        sms,
    };
    let mut attempt = 0;
    loop {
        match notifier.follow(&shutdown).await {
            Ok(()) => return Ok(()),
            // The database went away (a restart, a lost connection) or was busy: leadership goes
            // with the connection; wait, then lead again and carry on from the checkpoint (what was
            // recorded is not sent again).
            Err(error) if error.is_transient() => {
                attempt += 1;
                tracing::warn!(%error, attempt, "the notifier's database failed; trying again");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = Store::pause(attempt) => {}
                }
            }
            Err(error) => return Err(error),
        }
    }
}

impl Notifier {
    /// Leads the notifier (one process at a time), then follows the log from its checkpoint, and
    /// checks retries, reminders and digests, until `shutdown` or an error.
    async fn follow(&self, shutdown: &CancellationToken) -> Result<(), NotifierError> {
        let Some(mut leader) = self.store.lead("notifier", shutdown).await? else {
            return Ok(());
        };
        self.firm.load(&self.log).await?;
        let mut subscription = self.log.subscribe(checkpoint::load(&mut leader).await?);
        let mut retry_check = tokio::time::interval(self.settings.retry.check_every);
        let mut reminder_check = tokio::time::interval(self.settings.reminder_check_every);
        let mut digest_check = tokio::time::interval(self.settings.digest.check_every);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = retry_check.tick() => self.retry_due(&mut leader).await?,
                _ = reminder_check.tick() => self.remind_all(&mut leader).await?,
                _ = digest_check.tick() => self.digests_due(&mut leader).await?,
                batch = subscription.next_batch(BATCH) => {
                    // The checkpoint is saved once a batch is handled, not after every event: the
                    // notifier reads its own outcomes too, and a durable write for each would double
                    // its work. After a crash the batch is read again, and what was already
                    // recorded is not sent again.
                    let mut last = None;
                    for event in batch? {
                        self.handle(&mut leader, &event).await?;
                        last = Some(event.position);
                    }
                    if let Some(position) = last {
                        checkpoint::save(&self.store, &mut leader, position).await?;
                    }
                }
            }
        }
    }

    /// The first delivery of whatever `recorded` calls for, and the bookkeeping of retries that the
    /// outcomes it records call for.
    async fn handle(&self, leader: &mut Connection, recorded: &RecordedEvent) -> Result<(), NotifierError> {
        if recorded.stream_id == StreamId::firm() {
            return Ok(self.firm.saw(recorded)?);
        }
        if recorded.stream_id == StreamId::sign_ins() {
            return self.email_sign_in_link(recorded).await;
        }
        let Some(invite_id) = recorded.stream_id.invite_id() else {
            return Ok(());
        };
        let event: InviteEvent = recorded.decode()?;
        match &event {
            InviteEvent::NotificationFailed(failed) if !failed.permanent => {
                return Ok(retries::failed(&self.store, leader, invite_id, failed, &self.settings.retry).await?);
            }
            InviteEvent::NotificationFailed(done) => {
                return Ok(retries::settled(&self.store, leader, done.cause, done.contact_id, done.channel).await?);
            }
            InviteEvent::NotificationSent(done) => {
                return Ok(retries::settled(&self.store, leader, done.cause, done.contact_id, done.channel).await?);
            }
            InviteEvent::RemindersChanged(changed) => {
                return Ok(reminders::own_plan(&self.store, leader, invite_id, changed.reminders.is_some()).await?);
            }
            InviteEvent::InviteCancelled(_) | InviteEvent::InviteCompleted(_) => {
                return Ok(reminders::own_plan(&self.store, leader, invite_id, false).await?);
            }
            _ if staff_digest::is_activity(recorded, &event) => {
                return Ok(staff_digest::note(&self.store, leader, invite_id, recorded.recorded_at).await?);
            }
            _ => {}
        }
        self.deliver(invite_id, recorded, &event, None).await
    }
}
