//! The dashboard's default view (no search, no filter, the first page), kept for [`FRESH_FOR`]: under
//! load, many staff pages asking at once share one read of the counts and the newest invites, and
//! one rendering of their table, instead of each scanning the read model; when it goes stale, one
//! request reads it again while the others wait for that read ([`DashboardCache::refill`]). A page that asks for more (a search, a filter, an
//! older page), that waits for a position (`?after=`, as a live page does once told of a change),
//! or whose reader has a write of their own not yet shown, reads the read model itself.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lodge_projections::staff::{InviteCounts, InviteSummary};

/// How long a read of the default view is shared; the read models themselves lag the log by about
/// as much under load.
pub const FRESH_FOR: Duration = Duration::from_millis(250);

/// What the default view shows: the counts, the newest invites (one more than a page, to know
/// whether there is an older page), and their table as the page shows it.
#[derive(Debug, Clone)]
pub struct DefaultView {
    pub counts: InviteCounts,
    pub invites: Vec<InviteSummary>,
    pub table: String,
}

#[derive(Default)]
pub struct DashboardCache {
    kept: Mutex<Option<(Instant, chrono::NaiveDate, Arc<DefaultView>)>>,
    /// Held by the one request reading the view again.
    pub refill: tokio::sync::Mutex<()>,
}

impl DashboardCache {
    /// The view read less than [`FRESH_FOR`] ago for `today`, if there is one.
    pub fn get(&self, today: chrono::NaiveDate) -> Option<Arc<DefaultView>> {
        let kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.as_ref()
            .filter(|(at, day, _)| at.elapsed() < FRESH_FOR && *day == today)
            .map(|(_, _, view)| view.clone())
    }

    /// Keeps a view just read; `read_at` is when the read began, so that its age counts from then.
    pub fn keep(&self, read_at: Instant, today: chrono::NaiveDate, view: Arc<DefaultView>) {
        let mut kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let newer = kept.as_ref().is_none_or(|(at, _, _)| *at < read_at);
        if newer {
            *kept = Some((read_at, today, view));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(title: &str) -> Arc<DefaultView> {
        Arc::new(DefaultView {
            counts: InviteCounts {
                open: title.len() as i64,
                ..Default::default()
            },
            invites: Vec::new(),
            table: String::new(),
        })
    }

    #[test]
    fn a_view_is_shared_while_fresh_and_for_its_day_only() {
        let cache = DashboardCache::default();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert!(cache.get(today).is_none());
        cache.keep(Instant::now(), today, view("ab"));
        assert_eq!(cache.get(today).unwrap().counts.open, 2);
        assert!(cache.get(today.succ_opt().unwrap()).is_none(), "a new day reads again");
        // An older read never replaces a newer one.
        cache.keep(Instant::now() - Duration::from_millis(100), today, view("abc"));
        assert_eq!(cache.get(today).unwrap().counts.open, 2);
        cache.keep(Instant::now() - FRESH_FOR, today, view("abcd"));
        assert_eq!(cache.get(today).unwrap().counts.open, 2);
    }

    #[test]
    fn a_view_goes_stale() {
        let cache = DashboardCache::default();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        // Kept as if read longer ago than it may be shared.
        *cache.kept.lock().unwrap() = Some((Instant::now() - FRESH_FOR, today, view("a")));
        assert!(cache.get(today).is_none());
    }
}
