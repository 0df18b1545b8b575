//! Following the log: which events call for a notification, sending it, recording the outcome.

use lodge_domain::contact::Channel;
use lodge_domain::invite::{
    InviteCommand, InviteDecider, InviteError, InviteEvent, InviteState, NotificationOutcome, RecordNotification,
    RecordStaffDigest,
};
use lodge_domain::links::{portal_link_token, portal_url};
use lodge_domain::notification::NotificationKind;
use std::collections::BTreeMap;

use lodge_domain::{Actor, ContactId, Decider, InviteId};
use lodge_eventlog::command::{self, CommandError};
use lodge_eventlog::{EventLog, LogError, Metadata, RecordedEvent, StreamId};
use lodge_projections::{ProjectionError, ReadStore};
use secrecy::ExposeSecret;
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::checkpoint;
use crate::email::{Mailer, Outcome};
use crate::message::{self, About};
use crate::reminders;
use crate::retries;
use crate::settings::NotifierSettings;
use crate::sms::{Sms, sms_text};
use crate::staff_digest;

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
            NotifierError::Checkpoint(error) => lodge_eventlog::is_transient(error),
            NotifierError::Record(_) => false,
        }
    }
}

struct Notifier {
    /// Its own tables live beside the read models; on SQLite its writes queue with theirs.
    store: ReadStore,
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
    crate::migrations::migrate(&store).await?;
    // Reminders look for candidates in the staff read model: make sure its view exists even if no
    // projector has run yet.
    lodge_projections::all::register_all(&store).await?;
    let notifier = Notifier {
        store,
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
                    _ = ReadStore::pause(attempt) => {}
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
}

/// Keeps, per contact, the command and place that made their current portal link
/// ([`portal_link_token`] makes the link again from them).
fn note_link(links: &mut BTreeMap<ContactId, (Uuid, usize)>, recorded: &RecordedEvent, event: &InviteEvent) {
    let command = recorded.metadata.command_id;
    match event {
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

/// Whether `history` records `retry`'s notification as delivered, or as failed for good.
fn already_settled(history: &[RecordedEvent], retry: &retries::Retry) -> Result<bool, NotifierError> {
    for recorded in history.iter().rev() {
        if !matches!(recorded.event_type.as_str(), "NotificationSent" | "NotificationFailed") {
            continue;
        }
        let settles = match recorded.decode::<InviteEvent>()? {
            InviteEvent::NotificationSent(n) => (n.cause, n.contact_id, n.channel),
            InviteEvent::NotificationFailed(n) if n.permanent => (n.cause, n.contact_id, n.channel),
            _ => continue,
        };
        if settles == (retry.cause, retry.contact, retry.channel) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What a notification is recorded under: the event that called for it (or a reminder's slot), and
/// the correlation it belongs to.
#[derive(Debug, Clone, Copy)]
struct Cause {
    id: Uuid,
    correlation: Uuid,
}

impl Cause {
    fn of(event: &RecordedEvent) -> Self {
        Self {
            id: event.event_id,
            correlation: event.metadata.correlation_id,
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
                note_link(&mut links, earlier, &decoded);
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
                        self.email(&about, &message::render(&self.settings.templates, kind, &about))
                            .await,
                    ),
                    Channel::Sms => (
                        contact.phone.clone().unwrap_or_default(),
                        self.sms(&about, &sms_text(kind, about.firm, &invite.title, about.url))
                            .await,
                    ),
                };
                let notification = Due {
                    contact: contact_id,
                    channel,
                    kind,
                };
                let attempt = retry.map_or(Attempt::First, |r| Attempt::Retry(r.attempts));
                self.record(invite_id, Cause::of(recorded), &notification, to, outcome, attempt)
                    .await?;
            }
        }
        Ok(())
    }

    async fn email(&self, about: &About<'_>, rendered: &message::Rendered) -> NotificationOutcome {
        let Some(mailer) = &self.mailer else {
            return NotificationOutcome::Failed {
                reason: "email is not configured: set LODGE_SMTP_URL and LODGE_MAIL_FROM".into(),
                permanent: true,
            };
        };
        let to = about.contact.email.as_deref().unwrap_or_default();
        match mailer.send(&about.contact.name, to, rendered).await {
            Outcome::Delivered { message_id } => NotificationOutcome::Delivered {
                provider_message_id: Some(message_id),
            },
            Outcome::Failed { reason, permanent } => NotificationOutcome::Failed { reason, permanent },
        }
    }

    async fn sms(&self, about: &About<'_>, text: &str) -> NotificationOutcome {
        let Some(sms) = &self.sms else {
            return NotificationOutcome::Failed {
                reason:
                    "SMS is not configured: set LODGE_TWILIO_ACCOUNT_SID, LODGE_TWILIO_AUTH_TOKEN and LODGE_TWILIO_FROM"
                        .into(),
                permanent: true,
            };
        };
        let to = about.contact.phone.as_deref().unwrap_or_default();
        match sms.send(to, text).await {
            Outcome::Delivered { message_id } => NotificationOutcome::Delivered {
                provider_message_id: Some(message_id),
            },
            Outcome::Failed { reason, permanent } => NotificationOutcome::Failed { reason, permanent },
        }
    }

    /// Today, in the firm's time zone, by the notifier's clock.
    fn today(&self) -> chrono::NaiveDate {
        (self.settings.clock)()
            .with_timezone(&self.settings.time_zone)
            .date_naive()
    }

    /// Reminds the contacts of every open invite whose reminders may have come.
    async fn remind_all(&self, leader: &mut AnyConnection) -> Result<(), NotifierError> {
        let today = self.today();
        let horizon = today + chrono::Days::new(u64::from(self.settings.reminders.lead_days()));
        // The staff read model narrows the search; each invite is then read from the log itself.
        let candidates: Vec<String> = sqlx::query_scalar(
            "SELECT invite_id FROM staff_invites WHERE status = 'open' AND due_on IS NOT NULL AND due_on <= $1",
        )
        .bind(horizon.to_string())
        .fetch_all(self.store.pool())
        .await?;
        let mut invites: std::collections::BTreeSet<InviteId> = candidates
            .iter()
            .filter_map(|id| id.parse::<Uuid>().ok())
            .map(InviteId::from_uuid)
            .collect();
        invites.extend(reminders::with_own_plan(leader).await?);
        for invite_id in invites {
            self.remind(invite_id, None).await?;
        }
        Ok(())
    }

    /// Sends an invite's due reminders (or, as a retry, one of them again).
    async fn remind(&self, invite_id: InviteId, retry: Option<&retries::Retry>) -> Result<(), NotifierError> {
        let history = match self.log.read_stream(&StreamId::invite(invite_id)).await {
            Ok(history) => history,
            Err(LogError::UnknownStream(_)) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let Some(first) = history.first() else { return Ok(()) };
        let first_event: InviteEvent = first.decode()?;
        let sent_on = first.recorded_at.with_timezone(&self.settings.time_zone).date_naive();
        let mut state = InviteState::default();
        let mut links: BTreeMap<ContactId, (Uuid, usize)> = BTreeMap::new();
        let mut recorded_causes = Vec::new();
        for event in &history {
            let decoded: InviteEvent = event.decode()?;
            note_link(&mut links, event, &decoded);
            match &decoded {
                InviteEvent::NotificationSent(n) => recorded_causes.push((n.cause, n.channel)),
                InviteEvent::NotificationFailed(n) => recorded_causes.push((n.cause, n.channel)),
                _ => {}
            }
            state = InviteDecider::evolve(state, &decoded);
        }
        let Some(invite) = state.invite() else { return Ok(()) };
        if invite.status != lodge_domain::invite::InviteStatus::Open {
            return Ok(());
        }
        let Some(due_on) = invite.due_on else { return Ok(()) };
        let today = self.today();
        let plan = invite.reminders.as_ref().unwrap_or(&self.settings.reminders);
        let Some(slot) = plan.slot_for(due_on, sent_on, today) else {
            return Ok(());
        };
        for contact in &invite.contacts {
            let total = invite.requests_for(contact.id).count();
            let outstanding = invite
                .requests_for(contact.id)
                .filter(|request| !invite.status_of(request, contact.id).is_done())
                .count();
            let Some((command, index)) = links.get(&contact.id) else {
                continue;
            };
            let cause_id = crate::reminders::cause(invite_id, contact.id, slot);
            if retry.is_some_and(|r| r.cause != cause_id || r.contact != contact.id) || outstanding == 0 {
                continue;
            }
            let (token, _) = portal_link_token(&self.settings.secret_key, *command, *index);
            let url = portal_url(&self.settings.public_url, &token);
            for channel in invite.channels.iter().copied() {
                let wanted = match retry {
                    None => !recorded_causes.contains(&(cause_id, channel)),
                    Some(retry) => retry.channel == channel,
                };
                if !wanted {
                    continue;
                }
                let about = About {
                    firm: &self.settings.firm_name,
                    invite,
                    contact,
                    event: &first_event,
                    url: &url,
                };
                let (to, outcome) = match channel {
                    Channel::Email => (
                        contact.email.clone().unwrap_or_default(),
                        self.email(
                            &about,
                            &message::reminder(&self.settings.templates, &about, today, outstanding, total),
                        )
                        .await,
                    ),
                    Channel::Sms => (
                        contact.phone.clone().unwrap_or_default(),
                        self.sms(
                            &about,
                            &sms_text(NotificationKind::Reminder, about.firm, &invite.title, &url),
                        )
                        .await,
                    ),
                };
                let notification = Due {
                    contact: contact.id,
                    channel,
                    kind: NotificationKind::Reminder,
                };
                let cause = Cause {
                    id: cause_id,
                    correlation: cause_id,
                };
                let attempt = retry.map_or(Attempt::First, |r| Attempt::Retry(r.attempts));
                self.record(invite_id, cause, &notification, to, outcome, attempt)
                    .await?;
            }
        }
        Ok(())
    }

    /// Sends again the notifications whose retry is due; gives up on those that kept failing for
    /// too long, recording that as final.
    async fn retry_due(&self, leader: &mut AnyConnection) -> Result<(), NotifierError> {
        for retry in retries::due(&self.store, leader, &self.settings.retry).await? {
            let stream = StreamId::invite(retry.invite_id);
            let history = self.log.read_stream(&stream).await?;
            // A try that outlasted its pause may have been recorded as delivered (or failed for
            // good) already, before the notifier read that outcome back from the log: never again.
            if already_settled(&history, &retry)? {
                retries::settled(&self.store, leader, retry.cause, retry.contact, retry.channel).await?;
                continue;
            }
            let cause_event = history.iter().find(|e| e.event_id == retry.cause);
            let cause = match cause_event {
                Some(event) => Cause::of(event),
                // A reminder's cause is its slot, not an event.
                None if retry.kind == NotificationKind::Reminder => Cause {
                    id: retry.cause,
                    correlation: retry.cause,
                },
                None => {
                    retries::settled(&self.store, leader, retry.cause, retry.contact, retry.channel).await?;
                    continue;
                }
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
                        retry.attempts,
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
            match cause_event {
                Some(event) => {
                    let decoded: InviteEvent = event.decode()?;
                    self.deliver(retry.invite_id, event, &decoded, Some(&retry)).await?;
                }
                None => self.remind(retry.invite_id, Some(&retry)).await?,
            }
        }
        Ok(())
    }

    /// Sends the digests whose time has come.
    async fn digests_due(&self, leader: &mut AnyConnection) -> Result<(), NotifierError> {
        let now = (self.settings.clock)();
        let gathered = now - chrono::Duration::from_std(self.settings.digest.gather).unwrap_or_default();
        for invite_id in staff_digest::waiting(leader, gathered).await? {
            self.staff_digest(leader, invite_id, now).await?;
        }
        Ok(())
    }

    /// Tells an invite's sender what its contacts did since they last heard, if it is time.
    async fn staff_digest(
        &self,
        leader: &mut AnyConnection,
        invite_id: InviteId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), NotifierError> {
        let history = match self.log.read_stream(&StreamId::invite(invite_id)).await {
            Ok(history) => history,
            Err(LogError::UnknownStream(_)) => return Ok(staff_digest::told(&self.store, leader, invite_id).await?),
            Err(error) => return Err(error.into()),
        };
        let mut decoded = Vec::with_capacity(history.len());
        let mut state = InviteState::default();
        for event in history {
            let invite_event: InviteEvent = event.decode()?;
            state = InviteDecider::evolve(state, &invite_event);
            decoded.push((event, invite_event));
        }
        let Some(invite) = state.invite() else { return Ok(()) };
        let untold = staff_digest::untold(&decoded);
        if untold.actions.is_empty() {
            return Ok(staff_digest::told(&self.store, leader, invite_id).await?);
        }
        if !untold.due(now, &self.settings.digest) {
            return Ok(());
        }
        let first_untold = untold.actions[0].0.recorded_at;
        let failing_since_long = untold.last_try.is_some_and(|(_, failed)| failed)
            && (now - first_untold).to_std().unwrap_or_default() >= self.settings.retry.give_up_after;
        let outcome = if failing_since_long {
            NotificationOutcome::Failed {
                reason: format!(
                    "gave up after {} hours of failures",
                    self.settings.retry.give_up_after.as_secs() / 3600
                ),
                permanent: true,
            }
        } else {
            let (mut done, mut total) = (0, 0);
            for contact in &invite.contacts {
                for request in invite.requests_for(contact.id) {
                    total += 1;
                    done += usize::from(invite.status_of(request, contact.id).is_done());
                }
            }
            let activities = untold.describe(invite, self.settings.time_zone, now);
            let rendered = message::staff_digest(
                &self.settings.templates,
                &self.settings.firm_name,
                invite,
                &activities,
                (done, total),
            );
            match &self.mailer {
                None => NotificationOutcome::Failed {
                    reason: "email is not configured: set LODGE_SMTP_URL and LODGE_MAIL_FROM".into(),
                    permanent: true,
                },
                Some(mailer) => match mailer.send(&invite.sender.name, &invite.sender.email, &rendered).await {
                    Outcome::Delivered { message_id } => NotificationOutcome::Delivered {
                        provider_message_id: Some(message_id),
                    },
                    Outcome::Failed { reason, permanent } => NotificationOutcome::Failed { reason, permanent },
                },
            }
        };
        let settled = !matches!(outcome, NotificationOutcome::Failed { permanent: false, .. });
        let (last, _) = untold.actions[untold.actions.len() - 1];
        let mut metadata = Metadata::new(Actor::System);
        // The n-th digest of an invite is one command, however often a restart records it.
        metadata.command_id = Uuid::new_v5(
            &invite_id.as_uuid(),
            format!("staff-digest/{}", untold.recorded).as_bytes(),
        );
        metadata.correlation_id = last.metadata.correlation_id;
        metadata.causation_id = Some(last.event_id);
        let command = InviteCommand::RecordStaffDigest(RecordStaffDigest {
            to: invite.sender.email.clone(),
            covers: untold.covers(),
            outcome,
        });
        match command::execute::<InviteDecider>(&self.log, &StreamId::invite(invite_id), &command, &metadata).await {
            Ok(_) => {}
            Err(CommandError::Log(error)) => return Err(error.into()),
            Err(other) => return Err(NotifierError::Record(other)),
        }
        if settled {
            staff_digest::told(&self.store, leader, invite_id).await?;
        }
        Ok(())
    }

    async fn record(
        &self,
        invite_id: InviteId,
        cause: Cause,
        notification: &Due,
        to: String,
        outcome: NotificationOutcome,
        attempt: Attempt,
    ) -> Result<(), NotifierError> {
        let mut metadata = Metadata::new(Actor::System);
        // The same notification (and the same retry of it), recorded twice after a restart, is one
        // command.
        metadata.command_id = Uuid::new_v5(
            &cause.id,
            format!(
                "notify/{}/{:?}/{}",
                notification.contact,
                notification.channel,
                attempt.key()
            )
            .as_bytes(),
        );
        metadata.correlation_id = cause.correlation;
        metadata.causation_id = Some(cause.id);
        let command = InviteCommand::RecordNotification(RecordNotification {
            contact_id: notification.contact,
            channel: notification.channel,
            kind: notification.kind,
            to,
            cause: cause.id,
            outcome,
        });
        match command::execute::<InviteDecider>(&self.log, &StreamId::invite(invite_id), &command, &metadata).await {
            Ok(_) => Ok(()),
            Err(CommandError::Log(error)) => Err(error.into()),
            Err(other) => Err(NotifierError::Record(other)),
        }
    }
}
