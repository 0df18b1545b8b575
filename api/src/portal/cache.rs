//! Signed-in portals, kept in memory so that most portal requests need no database round trip.
//! The process's watcher of the log (`crate::watcher`) drops what each event touches.
//!
//! What is cached for a session (its invite and contact, whether it is unlocked, when it expires,
//! and the portal view) only changes when an event is appended to that invite: a new link,
//! a cancellation, an upload, a message. So a watcher follows the log and drops an invite's
//! entries when an event for it appears. Two races are closed:
//!
//! - A view read from the database may already be older than an event the watcher has seen (the
//!   projector has not applied it yet). The watcher remembers the latest position it saw per
//!   invite, and a view older than that is served but not cached. Those positions are forgotten
//!   once the portal projector has passed them, when the database can no longer hold older views.
//! - The watcher starts from the portal projector's checkpoint, not from the head of the log, so
//!   it sees every event whose effect the read model might not show yet.
//!
//! Entries that the watcher has not invalidated can lag the database by the log's wake-up delay
//! (at once for this server's own appends; the poll interval for another server's). Reads that ask
//! for `?after=` bypass the cache, and the view they read replaces the session's cached one (a
//! download of the file just uploaded then finds it). Memory is bounded: at most [`CAPACITY`]
//! sessions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lodge_domain::{ContactId, InviteId};
use lodge_projections::portal::PortalView;

/// Sessions kept at most; the oldest go first.
pub const CAPACITY: usize = 20_000;

#[derive(Clone)]
pub struct CachedSession {
    pub invite_id: InviteId,
    pub contact_id: ContactId,
    pub unlocked: bool,
    pub expires_at: DateTime<Utc>,
    pub view: Arc<PortalView>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, CachedSession>,
    /// Insertion order, for eviction; may name sessions already dropped.
    order: VecDeque<String>,
    by_invite: HashMap<InviteId, Vec<String>>,
    /// The latest position the watcher saw for each invite, until the projector passes it.
    latest: HashMap<InviteId, i64>,
    /// False until the watcher has started: nothing is cached before it can invalidate.
    watching: bool,
}

impl Inner {
    /// Whether an event of `invite` later than `view_position` has been seen: a view read at that
    /// position may not show it, so it must not be cached.
    fn seen_after(&self, invite: InviteId, view_position: i64) -> bool {
        self.latest.get(&invite).is_some_and(|&seen| seen > view_position)
    }
}

#[derive(Clone, Default)]
pub struct PortalCache {
    inner: Arc<Mutex<Inner>>,
}

impl PortalCache {
    pub fn get(&self, session_hash: &str) -> Option<CachedSession> {
        let inner = self.inner.lock().expect("the portal cache lock");
        inner.sessions.get(session_hash).cloned()
    }

    /// Keeps a session whose view was read at `view_position`, unless an event the view does not
    /// show yet has been seen.
    pub fn insert(&self, session_hash: String, session: CachedSession, view_position: i64) {
        let mut inner = self.inner.lock().expect("the portal cache lock");
        if !inner.watching || inner.seen_after(session.invite_id, view_position) {
            return;
        }
        while inner.sessions.len() >= CAPACITY {
            let Some(oldest) = inner.order.pop_front() else { break };
            if let Some(dropped) = inner.sessions.remove(&oldest)
                && let Some(list) = inner.by_invite.get_mut(&dropped.invite_id)
            {
                list.retain(|hash| hash != &oldest);
            }
        }
        inner
            .by_invite
            .entry(session.invite_id)
            .or_default()
            .push(session_hash.clone());
        inner.order.push_back(session_hash.clone());
        inner.sessions.insert(session_hash, session);
    }

    /// Puts `view`, read for a session at `view_position` or later, in place of the view cached for
    /// it, unless an event the view may not show has been seen. A read that waited for a write
    /// (`?after=`) read past the cache; without this, the session's next requests (a download of
    /// the file just uploaded, say) were served the cached view until the watcher caught up.
    pub fn refresh(&self, session_hash: &str, view: Arc<PortalView>, view_position: i64) {
        let mut inner = self.inner.lock().expect("the portal cache lock");
        if inner.seen_after(view.invite.id, view_position) {
            return;
        }
        if let Some(cached) = inner.sessions.get_mut(session_hash)
            && cached.invite_id == view.invite.id
        {
            cached.view = view;
        }
    }

    /// Drops a session at once (it was unlocked, say).
    pub fn forget(&self, session_hash: &str) {
        let mut inner = self.inner.lock().expect("the portal cache lock");
        inner.sessions.remove(session_hash);
    }

    pub(crate) fn saw(&self, invite: InviteId, position: i64) {
        let mut inner = self.inner.lock().expect("the portal cache lock");
        let latest = inner.latest.entry(invite).or_insert(position);
        *latest = (*latest).max(position);
        if let Some(hashes) = inner.by_invite.remove(&invite) {
            for hash in hashes {
                inner.sessions.remove(&hash);
            }
        }
        if inner.order.len() > 2 * CAPACITY {
            let Inner { order, sessions, .. } = &mut *inner;
            order.retain(|hash| sessions.contains_key(hash));
        }
    }

    pub(crate) fn forget_positions_up_to(&self, projector: i64) {
        let mut inner = self.inner.lock().expect("the portal cache lock");
        inner.latest.retain(|_, seen| *seen > projector);
    }

    /// The log's watcher (`crate::watcher`) has started: from now on it drops what events touch, so
    /// views may be kept.
    pub(crate) fn start_watching(&self) {
        self.inner.lock().expect("the portal cache lock").watching = true;
    }

    /// The watcher lost the log: nothing is served from memory until it follows it again.
    pub(crate) fn forget_everything(&self) {
        *self.inner.lock().expect("the portal cache lock") = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(invite: InviteId, title: &str) -> Arc<PortalView> {
        let doc = serde_json::json!({
            "invite": {"id": invite, "title": title, "message": "Hello", "status": "open", "due_on": null,
                       "password_protected": false},
            "contact": {"id": uuid::Uuid::nil(), "name": "Ana Alves", "email": "ana@example.com", "phone": null},
            "sender": {"name": "Sam Staff", "email": "sam@firm.example", "phone": null},
            "totals": {"total": 0, "done": 0, "outstanding": 0},
            "requests": [],
            "messages": []
        });
        Arc::new(serde_json::from_value(doc).expect("a portal view"))
    }

    fn cached(view: Arc<PortalView>) -> CachedSession {
        CachedSession {
            invite_id: view.invite.id,
            contact_id: view.contact.id,
            unlocked: true,
            expires_at: Utc::now() + chrono::Duration::hours(1),
            view,
        }
    }

    fn watching() -> PortalCache {
        let cache = PortalCache::default();
        cache.inner.lock().unwrap().watching = true;
        cache
    }

    #[test]
    fn a_read_that_waited_for_a_write_refreshes_the_cached_view() {
        let invite = InviteId::from_uuid(uuid::Uuid::from_u128(1));
        let cache = watching();
        cache.insert("s".into(), cached(view(invite, "before")), 5);
        cache.refresh("s", view(invite, "after the upload"), 9);
        assert_eq!(cache.get("s").unwrap().view.invite.title, "after the upload");
        // The watcher then sees the upload and drops the session, as for any event.
        cache.saw(invite, 9);
        assert!(cache.get("s").is_none());
        // A session no longer cached stays so: its next request reads the database.
        cache.refresh("s", view(invite, "after the upload"), 9);
        assert!(cache.get("s").is_none());
    }

    #[test]
    fn a_view_older_than_an_event_seen_is_not_put_in_the_cache() {
        let invite = InviteId::from_uuid(uuid::Uuid::from_u128(1));
        let cache = watching();
        cache.saw(invite, 12);
        cache.insert("s".into(), cached(view(invite, "at 12")), 12);
        cache.refresh("s", view(invite, "at 10"), 10);
        assert_eq!(cache.get("s").unwrap().view.invite.title, "at 12");
    }
}
