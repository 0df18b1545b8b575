//! Staff accounts in memory, so that a console page or a staff token's request needs no database
//! round trip for who is asking: the team (roles, who is active) and the console's sessions, each
//! kept at most [`FRESH_FOR`]. What this server changes it forgets at once (a sign-out, a change to
//! the team); what another server changes it forgets when the log's watcher sees its event (a
//! team change, a `SignedOut`), and in any case within [`FRESH_FOR`] (a session ended by a new
//! sign-in link, which is no event).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lodge_domain::StaffId;
use lodge_domain::team::{SignInEvent, TeamState};
use lodge_eventlog::{RecordedEvent, StreamId};

use crate::console::sessions::Session;

/// The longest an account is trusted from memory before it is read again.
pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// Sessions kept at most; past it, all are forgotten (they are read again as they come).
const CAPACITY: usize = 10_000;

/// A session as the database had it when read: whose, and when it ends.
#[derive(Debug, Clone)]
pub struct KnownSession {
    pub session: Session,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Default)]
struct Inner {
    team: Option<(Instant, Arc<TeamState>)>,
    sessions: HashMap<String, (Instant, KnownSession)>,
}

#[derive(Default)]
pub struct AccountCache {
    inner: Mutex<Inner>,
}

impl AccountCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The team, if read less than [`FRESH_FOR`] ago and unchanged since.
    pub fn team(&self) -> Option<Arc<TeamState>> {
        let inner = self.lock();
        inner
            .team
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, team)| team.clone())
    }

    /// Keeps the team as read from the log, the read having begun at `read_at`.
    pub fn keep_team(&self, read_at: Instant, team: Arc<TeamState>) {
        let mut inner = self.lock();
        if inner.team.as_ref().is_none_or(|(at, _)| *at < read_at) {
            inner.team = Some((read_at, team));
        }
    }

    /// The team changed: read it again, and every session with it (a member may be deactivated).
    pub fn team_changed(&self) {
        let mut inner = self.lock();
        inner.team = None;
        inner.sessions.clear();
    }

    /// A session by its hash, if read less than [`FRESH_FOR`] ago and not ended since.
    pub fn session(&self, hash: &str) -> Option<KnownSession> {
        let inner = self.lock();
        inner
            .sessions
            .get(hash)
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, known)| known.clone())
    }

    pub fn keep_session(&self, read_at: Instant, known: KnownSession) {
        let mut inner = self.lock();
        if inner.sessions.len() >= CAPACITY {
            inner.sessions.clear();
        }
        inner.sessions.insert(known.session.hash.clone(), (read_at, known));
    }

    /// The session was marked used: keep its new time, without counting it as read again.
    pub fn touched(&self, hash: &str, last_seen_at: DateTime<Utc>) {
        if let Some((_, known)) = self.lock().sessions.get_mut(hash) {
            known.last_seen_at = last_seen_at;
        }
    }

    pub fn forget_session(&self, hash: &str) {
        self.lock().sessions.remove(hash);
    }

    /// Every session of a member ends (signed out everywhere, a new sign-in link, deactivation).
    pub fn forget_member(&self, staff_id: StaffId) {
        self.lock()
            .sessions
            .retain(|_, (_, known)| known.session.staff_id != staff_id);
    }

    /// What the log's watcher saw that is not an invite's: the team's changes, and sign-outs.
    pub fn saw(&self, event: &RecordedEvent) {
        if event.stream_id == StreamId::team() {
            self.team_changed();
        } else if event.stream_id == StreamId::sign_ins()
            && event.event_type == "SignedOut"
            && let Ok(SignInEvent::SignedOut(out)) = event.decode::<SignInEvent>()
        {
            self.forget_member(out.staff_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(hash: &str, staff: u128) -> KnownSession {
        KnownSession {
            session: Session {
                id: uuid::Uuid::now_v7(),
                staff_id: StaffId::from_uuid(uuid::Uuid::from_u128(staff)),
                hash: hash.to_owned(),
            },
            last_seen_at: Utc::now(),
            expires_at: Utc::now() + chrono::Duration::hours(1),
        }
    }

    #[test]
    fn sessions_are_forgotten_one_by_one_by_member_and_with_the_team() {
        let cache = AccountCache::default();
        cache.keep_session(Instant::now(), known("a", 1));
        cache.keep_session(Instant::now(), known("b", 1));
        cache.keep_session(Instant::now(), known("c", 2));
        let later = Utc::now() + chrono::Duration::minutes(1);
        cache.touched("a", later);
        assert_eq!(
            cache.session("a").unwrap().last_seen_at,
            later,
            "marked used, still kept"
        );
        cache.forget_session("a");
        assert!(cache.session("a").is_none() && cache.session("b").is_some());
        cache.forget_member(StaffId::from_uuid(uuid::Uuid::from_u128(1)));
        assert!(cache.session("b").is_none() && cache.session("c").is_some());
        cache.keep_team(Instant::now(), Arc::new(TeamState::default()));
        assert!(cache.team().is_some());
        cache.team_changed();
        assert!(cache.team().is_none() && cache.session("c").is_none());
    }

    #[test]
    fn nothing_is_trusted_longer_than_it_may_be() {
        let cache = AccountCache::default();
        cache.keep_session(Instant::now() - FRESH_FOR, known("a", 1));
        assert!(cache.session("a").is_none());
        cache.keep_team(Instant::now() - FRESH_FOR, Arc::new(TeamState::default()));
        assert!(cache.team().is_none());
        // A read that began earlier does not replace a later one.
        cache.keep_team(Instant::now(), Arc::new(TeamState::default()));
        cache.keep_team(
            Instant::now() - Duration::from_millis(500),
            Arc::new(TeamState::default()),
        );
        assert!(cache.team().is_some());
    }
}
