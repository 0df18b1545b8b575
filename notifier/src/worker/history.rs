//! An invite's history read once for the notifier: its state, each contact's current portal link,
//! and the notifications already on record. Deliveries and reminders read it alike.

use std::collections::BTreeMap;

use lodge_domain::contact::Channel;
use lodge_domain::invite::{InviteDecider, InviteEvent, InviteState};
use lodge_domain::links::{SecretKey, portal_link_token, portal_url};
use lodge_domain::{ContactId, Decider};
use lodge_eventlog::RecordedEvent;
use uuid::Uuid;

use super::NotifierError;

pub(super) struct Folded {
    /// The invite as of the event the notifications are for.
    pub state: InviteState,
    /// Per contact, the command and place that made their current link, as of that event
    /// ([`portal_link_token`] makes the link again from them).
    links: BTreeMap<ContactId, (Uuid, usize)>,
    /// Every notification recorded, sent or failed, in the whole history: (cause, contact, channel).
    pub recorded: Vec<(Uuid, ContactId, Channel)>,
}

impl Folded {
    /// Folds `history` as of stream version `until` (all of it with None); the notifications on
    /// record are gathered from all of it.
    pub fn of(history: &[RecordedEvent], until: Option<u64>) -> Result<Self, NotifierError> {
        let mut folded = Folded {
            state: InviteState::default(),
            links: BTreeMap::new(),
            recorded: Vec::new(),
        };
        for recorded in history {
            let event: InviteEvent = recorded.decode()?;
            if until.is_none_or(|until| recorded.stream_version <= until) {
                folded.note_link(recorded, &event);
                folded.state = InviteDecider::evolve(std::mem::take(&mut folded.state), &event);
            }
            match &event {
                InviteEvent::NotificationSent(n) => folded.recorded.push((n.cause, n.contact_id, n.channel)),
                InviteEvent::NotificationFailed(n) => folded.recorded.push((n.cause, n.contact_id, n.channel)),
                _ => {}
            }
        }
        Ok(folded)
    }

    fn note_link(&mut self, recorded: &RecordedEvent, event: &InviteEvent) {
        let command = recorded.metadata.command_id;
        match event {
            InviteEvent::InviteSent(sent) => {
                for (index, contact) in sent.contacts.iter().enumerate() {
                    self.links.insert(contact.id, (command, index));
                }
            }
            InviteEvent::ContactAdded(added) => {
                self.links.insert(added.contact.id, (command, 0));
            }
            InviteEvent::PortalLinkReissued(reissued) => {
                self.links.insert(reissued.contact_id, (command, 0));
            }
            _ => {}
        }
    }

    /// `contact`'s current portal link, made again from the command that made it.
    pub fn link(&self, contact: ContactId, secret_key: &SecretKey, public_url: &str) -> Option<String> {
        let (command, index) = self.links.get(&contact)?;
        let (token, _) = portal_link_token(secret_key, *command, *index);
        Some(portal_url(public_url, &token))
    }
}
