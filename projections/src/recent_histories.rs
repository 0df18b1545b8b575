//! Histories this process's projectors read lately, shared between them.
//!
//! Every projector follows the same appends, within milliseconds of each other, and each used to
//! read the touched invite's whole stream again: under a steady load of appends to PostgreSQL that
//! was a third of the server's time and most of the projectors' decoding (docs/decisions/0017).
//! A history's events never change, so a history read by one projector serves the others as long
//! as it reaches the events they need; it may run ahead of their checkpoint, which projections
//! allow (they render from the whole history).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use lodge_domain::InviteId;
use lodge_eventlog::LogError;
use tokio::sync::watch;

use crate::history::InviteHistory;

/// Enough for every invite of a batch or two; a miss costs one read of the stream.
const KEPT: usize = 64;

/// Shared by the projectors of one process (`all::spawn_all`); each keeps its own checkpoint.
#[derive(Default)]
pub struct RecentHistories {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    newest_first: VecDeque<InviteHistory>,
    /// Invites whose stream a projector is reading now. The projectors wake on the same append,
    /// so they would all miss at once and read the same stream each; the others wait for this
    /// read instead (docs/decisions/0017).
    reading: HashMap<InviteId, watch::Receiver<()>>,
}

/// What a projector does for an invite's history: take a kept one, wait for another's read, or
/// read it itself.
enum Next {
    Kept(InviteHistory),
    Wait(watch::Receiver<()>),
    Read(watch::Sender<()>),
}

/// Marks a read in progress; dropped when it ends, however it ends (a failure, a cancelled task),
/// so that waiting projectors wake and look again.
struct Reading<'a> {
    recent: &'a RecentHistories,
    invite: InviteId,
    /// Dropped after the mark is gone: waiters then find the kept history or no read.
    _done: watch::Sender<()>,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.recent.lock().reading.remove(&self.invite);
    }
}

impl RecentHistories {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the invite's history, if one read lately reaches `version`.
    #[cfg(test)]
    fn reaching(&self, invite: InviteId, version: u64) -> Option<InviteHistory> {
        self.lock().reaching(invite, version)
    }

    /// The invite's history reaching `version`: one kept, or the one another projector is reading
    /// now if it reaches that far, or else what `read` reads (kept for the others).
    pub(crate) async fn reaching_or_read<F>(
        &self,
        invite: InviteId,
        version: u64,
        read: impl Fn() -> F,
    ) -> Result<Option<InviteHistory>, LogError>
    where
        F: Future<Output = Result<Option<InviteHistory>, LogError>>,
    {
        loop {
            let next = {
                let mut state = self.lock();
                if let Some(history) = state.reaching(invite, version) {
                    Next::Kept(history)
                } else if let Some(reading) = state.reading.get(&invite) {
                    Next::Wait(reading.clone())
                } else {
                    let (done, waiting) = watch::channel(());
                    state.reading.insert(invite, waiting);
                    Next::Read(done)
                }
            };
            match next {
                Next::Kept(history) => return Ok(Some(history)),
                // Ends with the read (its sender dropped); then look again: it may have started
                // before `version` was appended, or failed.
                Next::Wait(mut reading) => while reading.changed().await.is_ok() {},
                Next::Read(done) => {
                    let _reading = Reading {
                        recent: self,
                        invite,
                        _done: done,
                    };
                    let history = read().await?;
                    if let Some(history) = &history {
                        self.keep(history);
                    }
                    return Ok(history);
                }
            }
        }
    }

    /// Keeps a history just read, in place of an older one of the same invite.
    fn keep(&self, history: &InviteHistory) {
        let mut state = self.lock();
        let histories = &mut state.newest_first;
        histories.retain(|h| h.invite_id != history.invite_id);
        histories.push_front(history.clone());
        histories.truncate(KEPT);
    }
}

impl State {
    fn reaching(&self, invite: InviteId, version: u64) -> Option<InviteHistory> {
        self.newest_first
            .iter()
            .find(|h| h.invite_id == invite)
            .filter(|h| h.events.last().is_some_and(|e| e.stream_version >= version))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

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

    /// A read of the log as a test stands it in: counted, taking `millis`, giving `result`.
    async fn read(
        reads: &AtomicUsize,
        millis: u64,
        result: Result<Option<InviteHistory>, LogError>,
    ) -> Result<Option<InviteHistory>, LogError> {
        reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(millis)).await;
        result
    }

    /// Lets the first of two projectors start its read before the second looks.
    async fn later<T>(second: impl Future<Output = T>) -> T {
        tokio::time::sleep(Duration::from_millis(10)).await;
        second.await
    }

    fn length(history: Result<Option<InviteHistory>, LogError>) -> Option<usize> {
        history.unwrap().map(|h| h.events.len())
    }

    #[tokio::test]
    async fn projectors_missing_the_same_invite_at_once_share_one_read() {
        let recent = RecentHistories::default();
        let ana = invite();
        let reads = AtomicUsize::new(0);
        // Long enough for the other projectors to arrive while this read is in flight.
        let slow = || read(&reads, 50, Ok(Some(history(ana, 3))));
        let (a, b, c) = tokio::join!(
            recent.reaching_or_read(ana, 3, slow),
            recent.reaching_or_read(ana, 2, slow),
            recent.reaching_or_read(ana, 3, slow),
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for all three");
        assert_eq!([length(a), length(b), length(c)], [Some(3); 3]);
    }

    #[tokio::test]
    async fn a_shared_read_that_falls_short_or_fails_leaves_the_waiter_to_read() {
        let recent = RecentHistories::default();
        let reads = AtomicUsize::new(0);

        let ana = invite();
        let short = || read(&reads, 50, Ok(Some(history(ana, 2))));
        let full = || read(&reads, 0, Ok(Some(history(ana, 5))));
        let (first, waiter) = tokio::join!(
            recent.reaching_or_read(ana, 2, short),
            later(recent.reaching_or_read(ana, 5, full))
        );
        assert_eq!(length(first), Some(2));
        assert_eq!(length(waiter), Some(5), "read again, reaching 5");

        let other = invite();
        let failing = || read(&reads, 50, Err(LogError::ShuttingDown));
        let full = || read(&reads, 0, Ok(Some(history(other, 1))));
        let (failed, waiter) = tokio::join!(
            recent.reaching_or_read(other, 1, failing),
            later(recent.reaching_or_read(other, 1, full))
        );
        assert!(failed.is_err());
        assert_eq!(length(waiter), Some(1), "read again after the failure");
        assert_eq!(reads.load(Ordering::SeqCst), 4, "short, full, failing, full");
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
