//! Histories this process's projectors read lately, shared between them.
//!
//! Every projector follows the same appends, within milliseconds of each other, and each used to
//! read the touched invite's whole stream again: under a steady load of appends to PostgreSQL that
//! was a third of the server's time and most of the projectors' decoding (docs/decisions/0017).
//! A history's events never change, so a history read by one projector serves the others as long
//! as it reaches the events they need; it may run ahead of their checkpoint, which projections
//! allow (they render from the whole history).

use std::collections::VecDeque;
use std::sync::Mutex;

use lodge_domain::InviteId;

use crate::history::InviteHistory;

/// Enough for every invite of a batch or two; a miss costs one read of the stream.
const KEPT: usize = 64;

/// Shared by the projectors of one process (`all::spawn_all`); each keeps its own checkpoint.
#[derive(Default)]
pub struct RecentHistories {
    newest_first: Mutex<VecDeque<InviteHistory>>,
}

impl RecentHistories {
    /// A copy of the invite's history, if one read lately reaches `version`.
    pub(crate) fn reaching(&self, invite: InviteId, version: u64) -> Option<InviteHistory> {
        let histories = self
            .newest_first
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        histories
            .iter()
            .find(|h| h.invite_id == invite)
            .filter(|h| h.events.last().is_some_and(|e| e.stream_version >= version))
            .cloned()
    }

    /// Keeps a history just read, in place of an older one of the same invite.
    pub(crate) fn keep(&self, history: &InviteHistory) {
        let mut histories = self
            .newest_first
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        histories.retain(|h| h.invite_id != history.invite_id);
        histories.push_front(history.clone());
        histories.truncate(KEPT);
    }
}

#[cfg(test)]
mod tests {
    use lodge_domain::invite::{InviteEvent, MessagePosted};
    use lodge_domain::{Actor, ContactId, MessageId};
    use lodge_eventlog::{Metadata, Position};
    use uuid::Uuid;

    use super::*;
    use crate::history::HistoryEvent;

    fn history(invite: InviteId, versions: u64) -> InviteHistory {
        InviteHistory {
            invite_id: invite,
            events: (1..=versions)
                .map(|version| HistoryEvent {
                    position: Position(version as i64),
                    stream_version: version,
                    recorded_at: chrono::Utc::now(),
                    metadata: Metadata::new(Actor::System),
                    hash: [0; 32],
                    event: InviteEvent::MessagePosted(MessagePosted {
                        message_id: MessageId::from_uuid(Uuid::now_v7()),
                        contact_id: ContactId::from_uuid(Uuid::now_v7()),
                        author: Actor::System,
                        body: format!("message {version}"),
                    }),
                })
                .collect(),
        }
    }

    fn invite() -> InviteId {
        InviteId::from_uuid(Uuid::now_v7())
    }

    #[test]
    fn a_kept_history_serves_only_versions_it_reaches() {
        let recent = RecentHistories::default();
        let (ana, other) = (invite(), invite());
        let kept = history(ana, 3);
        recent.keep(&kept);
        assert_eq!(recent.reaching(ana, 3), Some(kept.clone()));
        assert_eq!(recent.reaching(ana, 1), Some(kept));
        assert_eq!(recent.reaching(ana, 4), None, "a shorter history would miss events");
        assert_eq!(recent.reaching(other, 1), None);
    }

    #[test]
    fn a_newer_history_replaces_the_older_and_the_oldest_go() {
        let recent = RecentHistories::default();
        let first = invite();
        recent.keep(&history(first, 2));
        recent.keep(&history(first, 5));
        assert_eq!(recent.reaching(first, 5).map(|h| h.events.len()), Some(5));
        for _ in 0..KEPT {
            recent.keep(&history(invite(), 1));
        }
        assert_eq!(recent.reaching(first, 1), None, "only the latest {KEPT} are kept");
    }
}
