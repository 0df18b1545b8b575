//! Digests for staff: what an invite's contacts did since its sender last heard, once activity has
//! settled for a while.

use lodge_domain::invite::{
    InviteCommand, InviteDecider, InviteEvent, InviteState, NotificationOutcome, RecordStaffDigest,
};
use lodge_domain::{Actor, Decider, InviteId};
use lodge_eventlog::{LogError, Metadata, StreamId};
use lodge_store::Connection;
use uuid::Uuid;

use super::{Notifier, NotifierError};
use crate::{message, staff_digest};

impl Notifier {
    /// Sends the digests whose time has come.
    pub(super) async fn digests_due(&self, leader: &mut Connection) -> Result<(), NotifierError> {
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
        leader: &mut Connection,
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
            let activities = untold.describe(invite, self.firm.get().time_zone, now);
            let rendered = message::staff_digest(
                &self.settings.templates,
                &self.firm.get().name,
                invite,
                &activities,
                (done, total),
            );
            self.mail(&invite.sender.name, &invite.sender.email, &rendered).await
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
        self.execute(invite_id, &command, &metadata).await?;
        if settled {
            staff_digest::told(&self.store, leader, invite_id).await?;
        }
        Ok(())
    }
}
