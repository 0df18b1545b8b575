//! Notifications tried again after a failure that may pass, until they go through or are given up.

use lodge_domain::invite::{InviteEvent, NotificationOutcome};
use lodge_domain::notification::NotificationKind;
use lodge_eventlog::{RecordedEvent, StreamId};
use lodge_store::Connection;

use super::send::{Attempt, Cause, Due};
use super::{Notifier, NotifierError};
use crate::retries;

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

impl Notifier {
    /// Sends again the notifications whose retry is due; gives up on those that kept failing for
    /// too long, recording that as final.
    pub(super) async fn retry_due(&self, leader: &mut Connection) -> Result<(), NotifierError> {
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
                None if retry.kind == NotificationKind::Reminder => Cause::slot(retry.cause),
                None => {
                    retries::settled(&self.store, leader, retry.cause, retry.contact, retry.channel).await?;
                    continue;
                }
            };
            if retry.given_up(&self.settings.retry) {
                let due = Due {
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
                self.record(retry.invite_id, cause, &due, retry.to.clone(), outcome, Attempt::GiveUp)
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
}
