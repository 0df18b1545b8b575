//! What an event calls for: an invitation, a new link, a rejected document, a staff message.

use lodge_domain::invite::InviteEvent;
use lodge_domain::notification::NotificationKind;
use lodge_domain::{Actor, ContactId, InviteId};
use lodge_eventlog::{RecordedEvent, StreamId};

use super::history::Folded;
use super::send::{Attempt, Cause, Due};
use super::{Notifier, NotifierError};
use crate::message::{self, About};
use crate::retries;

/// The contacts `event` calls to notify, and of what.
fn calls(event: &InviteEvent) -> Vec<(ContactId, NotificationKind)> {
    match event {
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
    }
}

impl Notifier {
    /// Sends what `recorded` calls for: everything not yet recorded, or (a retry) one notification
    /// again whatever was recorded.
    pub(super) async fn deliver(
        &self,
        invite_id: InviteId,
        recorded: &RecordedEvent,
        event: &InviteEvent,
        retry: Option<&retries::Retry>,
    ) -> Result<(), NotifierError> {
        let calls = calls(event);
        if calls.is_empty() {
            return Ok(());
        }
        let history = self.log.read_stream(&StreamId::invite(invite_id)).await?;
        let folded = Folded::of(&history, Some(recorded.stream_version))?;
        let Some(invite) = folded.state.invite() else {
            return Ok(());
        };
        for (contact_id, kind) in calls {
            let Some(contact) = invite.contact(contact_id) else {
                continue;
            };
            let Some(url) = folded.link(contact_id, &self.settings.secret_key, &self.settings.public_url) else {
                continue;
            };
            for channel in invite.channels.iter().copied() {
                let wanted = match retry {
                    None => !folded.recorded.contains(&(recorded.event_id, contact_id, channel)),
                    Some(retry) => retry.contact == contact_id && retry.channel == channel,
                };
                if !wanted {
                    continue;
                }
                let about = About {
                    firm: &self.firm.get().name,
                    invite,
                    contact,
                    event,
                    url: &url,
                };
                let due = Due {
                    contact: contact_id,
                    channel,
                    kind,
                };
                let email = || message::render(&self.settings.templates, kind, &about);
                let attempt = retry.map_or(Attempt::First, |r| Attempt::Retry(r.attempts));
                self.send(invite_id, Cause::of(recorded), &due, &about, email, attempt)
                    .await?;
            }
        }
        Ok(())
    }
}
