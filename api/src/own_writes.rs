//! Read your own writes. Read models trail the log by a moment; a contact who posts a message and
//! reloads must still see it, and a script that sends an invite and reads it back must find it. So
//! this server keeps, for each portal session and each staff token, the position of its last write
//! here, and its next read of a read model waits (bounded, as `?after=` does) until that read model
//! shows it. Once every read model the writer reads from has shown it, it is forgotten, so reads
//! after that cost nothing more. Memory is bounded: at most [`CAPACITY`] writers, the oldest
//! forgotten first (their next read may then miss the write, as any other client's would).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use lodge_eventlog::Position;
use lodge_projections::Projection;
use lodge_projections::all;
use lodge_projections::portal::PortalProjection;

/// Writers remembered at most.
pub const CAPACITY: usize = 50_000;

/// Who wrote: the key their writes are remembered by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Writer {
    /// A portal session, by its cookie's hash: it reads the portal view only.
    Contact(String),
    /// A staff token, by its id: it reads every read model.
    Staff(uuid::Uuid),
}

impl Writer {
    fn reads_from(&self) -> &'static [&'static str] {
        match self {
            Writer::Contact(_) => &[PortalProjection::NAME],
            Writer::Staff(_) => &all::NAMES,
        }
    }
}

struct Pending {
    position: Position,
    /// The read models that have not shown it to this writer yet.
    not_shown_by: Vec<&'static str>,
}

#[derive(Default)]
struct Inner {
    pending: HashMap<Writer, Pending>,
    /// Insertion order, for eviction; may name writers already forgotten.
    order: VecDeque<Writer>,
}

#[derive(Default)]
pub struct OwnWrites {
    inner: Mutex<Inner>,
    /// The last position any writer wrote through this server.
    latest: AtomicI64,
}

impl OwnWrites {
    /// `writer` wrote at `position`.
    pub fn wrote(&self, writer: Writer, position: Position) {
        self.latest.fetch_max(position.0, Ordering::Relaxed);
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let not_shown_by = writer.reads_from().to_vec();
        let latest = match inner.pending.get(&writer) {
            // A writer's writes are acknowledged one after another, so a later one has a higher
            // position; requests sent in parallel keep the highest.
            Some(earlier) => earlier.position.max(position),
            None => {
                while inner.pending.len() >= CAPACITY {
                    let Some(oldest) = inner.order.pop_front() else { break };
                    inner.pending.remove(&oldest);
                }
                // Writers forgotten once shown leave their place in the order behind: drop those
                // places now and then, so that the order stays as bounded as the writers.
                if inner.order.len() >= 2 * CAPACITY {
                    let Inner { pending, order } = &mut *inner;
                    order.retain(|writer| pending.contains_key(writer));
                }
                inner.order.push_back(writer.clone());
                position
            }
        };
        inner.pending.insert(
            writer,
            Pending {
                position: latest,
                not_shown_by,
            },
        );
    }

    /// The last position written through this server by anyone: what a read that cannot name its
    /// writer (a link just sent, opened in another browser) waits for.
    pub fn latest(&self) -> Position {
        Position(self.latest.load(Ordering::Relaxed))
    }

    /// The last write of `writer` that `projector` has not shown it yet.
    pub fn pending(&self, writer: &Writer, projector: &str) -> Option<Position> {
        let inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        inner
            .pending
            .get(writer)
            .filter(|pending| pending.not_shown_by.contains(&projector))
            .map(|pending| pending.position)
    }

    /// `projector` has shown `writer` its write at `position`.
    pub fn shown(&self, writer: &Writer, position: Position, projector: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(pending) = inner.pending.get_mut(writer) else {
            return;
        };
        // A later write came meanwhile: that one is still to be shown.
        if pending.position != position {
            return;
        }
        pending.not_shown_by.retain(|name| *name != projector);
        if pending.not_shown_by.is_empty() {
            inner.pending.remove(writer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(name: &str) -> Writer {
        Writer::Contact(name.to_owned())
    }

    #[test]
    fn a_write_is_pending_until_each_read_model_has_shown_it() {
        let writes = OwnWrites::default();
        let staff = Writer::Staff(uuid::Uuid::now_v7());
        writes.wrote(staff.clone(), Position(7));
        for name in all::NAMES {
            assert_eq!(writes.pending(&staff, name), Some(Position(7)));
        }
        writes.shown(&staff, Position(7), all::NAMES[0]);
        assert_eq!(writes.pending(&staff, all::NAMES[0]), None);
        assert_eq!(writes.pending(&staff, all::NAMES[1]), Some(Position(7)));
        writes.wrote(staff.clone(), Position(9));
        assert_eq!(writes.pending(&staff, all::NAMES[0]), Some(Position(9)), "a new write");
        writes.shown(&staff, Position(7), all::NAMES[1]);
        assert_eq!(
            writes.pending(&staff, all::NAMES[1]),
            Some(Position(9)),
            "showing an earlier write leaves the later one pending"
        );
    }

    #[test]
    fn a_contact_waits_for_the_portal_only() {
        let writes = OwnWrites::default();
        writes.wrote(contact("a"), Position(3));
        assert_eq!(writes.pending(&contact("a"), PortalProjection::NAME), Some(Position(3)));
        assert_eq!(writes.pending(&contact("b"), PortalProjection::NAME), None);
        writes.shown(&contact("a"), Position(3), PortalProjection::NAME);
        assert_eq!(writes.pending(&contact("a"), PortalProjection::NAME), None);
        writes.wrote(contact("a"), Position(5));
        writes.wrote(contact("a"), Position(4));
        assert_eq!(
            writes.pending(&contact("a"), PortalProjection::NAME),
            Some(Position(5)),
            "parallel writes keep the highest"
        );
    }

    #[test]
    fn memory_is_bounded() {
        let writes = OwnWrites::default();
        for n in 0..CAPACITY + 10 {
            writes.wrote(contact(&n.to_string()), Position(1));
        }
        {
            let inner = writes.inner.lock().unwrap();
            assert_eq!(inner.pending.len(), CAPACITY);
            assert!(!inner.pending.contains_key(&contact("0")), "the oldest went first");
        }
        // Writers that come and go (each write shown at once) keep the order bounded too.
        for n in 0..3 * CAPACITY {
            let writer = contact("again");
            writes.wrote(writer.clone(), Position(n as i64 + 2));
            writes.shown(&writer, Position(n as i64 + 2), PortalProjection::NAME);
        }
        assert!(writes.inner.lock().unwrap().order.len() <= 2 * CAPACITY + 1);
    }
}
