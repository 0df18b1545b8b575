//! Live updates for the console's pages: which invite changed, at which position of the log, as
//! this process's one reader of the log sees it (`crate::watcher`), fanned out to every
//! page listening (`GET /staff/live`, server-sent events). A page that falls behind misses
//! nothing it needs: it is told to reload.

use lodge_domain::InviteId;
use tokio::sync::broadcast;

/// Changes kept for a listener that is slow to read them; one further behind is told it lagged.
const BUFFER: usize = 1024;

/// An invite that changed, and the position a read must reach to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub invite: InviteId,
    pub position: i64,
}

#[derive(Clone)]
pub struct Live {
    sender: broadcast::Sender<Change>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
        }
    }
}

impl Live {
    /// Tells every listener; with none listening, nothing is kept.
    pub fn publish(&self, change: Change) {
        let _ = self.sender.send(change);
    }

    pub fn listen(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }
}
