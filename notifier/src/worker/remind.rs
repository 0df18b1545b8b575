//! Reminders: to each contact who still owes something, on the days the invite's plan (or the
//! firm's) says.

use lodge_domain::InviteId;
use lodge_domain::invite::{InviteEvent, InviteStatus};
use lodge_domain::notification::NotificationKind;
use lodge_eventlog::{LogError, StreamId};
use lodge_store::Connection;

use super::history::Folded;
use super::send::{Attempt, Cause, Due};
use super::{Notifier, NotifierError};
use crate::message::{self, About};
use crate::{reminders, retries};

impl Notifier {
    /// Today, in the firm's time zone, by the notifier's clock.
    fn today(&self) -> chrono::NaiveDate {
        (self.settings.clock)()
            .with_timezone(&self.firm.get().time_zone)
            .date_naive()
    }

    /// Reminds the contacts of every open invite whose reminders may have come.
    pub(super) async fn remind_all(&self, leader: &mut Connection) -> Result<(), NotifierError> {
        let today = self.today();
        let horizon = today + chrono::Days::new(u64::from(self.firm.get().reminders.lead_days()));
        // The staff read model narrows the search; each invite is then read from the log itself.
        let mut invites: std::collections::BTreeSet<InviteId> =
            lodge_projections::staff::open_due_by(&self.read_models, horizon)
                .await?
                .into_iter()
                .collect();
        invites.extend(reminders::with_own_plan(leader).await?);
        for invite_id in invites {
            self.remind(invite_id, None).await?;
        }
        Ok(())
    }

    /// Sends an invite's due reminders (or, as a retry, one of them again).
    pub(super) async fn remind(
        &self,
        invite_id: InviteId,
        retry: Option<&retries::Retry>,
    ) -> Result<(), NotifierError> {
        let history = match self.log.read_stream(&StreamId::invite(invite_id)).await {
            Ok(history) => history,
            Err(LogError::UnknownStream(_)) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let Some(first) = history.first() else { return Ok(()) };
        let first_event: InviteEvent = first.decode()?;
        let sent_on = first.recorded_at.with_timezone(&self.firm.get().time_zone).date_naive();
        let folded = Folded::of(&history, None)?;
        let Some(invite) = folded.state.invite() else {
            return Ok(());
        };
        if invite.status != InviteStatus::Open {
            return Ok(());
        }
        let Some(due_on) = invite.due_on else { return Ok(()) };
        let today = self.today();
        let firm = self.firm.get();
        let plan = invite.reminders.as_ref().unwrap_or(&firm.reminders);
        let Some(slot) = plan.slot_for(due_on, sent_on, today) else {
            return Ok(());
        };
        for contact in &invite.contacts {
            let total = invite.requests_for(contact.id).count();
            let outstanding = invite
                .requests_for(contact.id)
                .filter(|request| !invite.status_of(request, contact.id).is_done())
                .count();
            let Some(url) = folded.link(contact.id, &self.settings.secret_key, &self.settings.public_url) else {
                continue;
            };
            let cause = Cause::slot(reminders::cause(invite_id, contact.id, slot));
            if retry.is_some_and(|r| r.cause != cause.id || r.contact != contact.id) || outstanding == 0 {
                continue;
            }
            for channel in invite.channels.iter().copied() {
                let wanted = match retry {
                    None => !folded.recorded.contains(&(cause.id, contact.id, channel)),
                    Some(retry) => retry.channel == channel,
                };
                if !wanted {
                    continue;
                }
                let about = About {
                    firm: &firm.name,
                    invite,
                    contact,
                    event: &first_event,
                    url: &url,
                };
                let due = Due {
                    contact: contact.id,
                    channel,
                    kind: NotificationKind::Reminder,
                };
                let email = || message::reminder(&self.settings.templates, &about, today, outstanding, total);
                let attempt = retry.map_or(Attempt::First, |r| Attempt::Retry(r.attempts));
                self.send(invite_id, cause, &due, &about, email, attempt).await?;
            }
        }
        Ok(())
    }
}
