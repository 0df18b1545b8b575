//! The firm's details as they are now: the configuration's (`LODGE_FIRM_*`), until an owner saves
//! them in the console, then the latest `FirmDetailsChanged` on the `firm` stream. Kept in memory:
//! read from the log at start, replaced when this server records a change, and when the log's
//! watcher sees another server's. Pages, the portal's view, due dates' "today" and two-step
//! sign-in's issuer read them from here.

use std::sync::{Arc, RwLock};

use lodge_domain::firm::{FirmDecider, FirmDetails};
use lodge_eventlog::{EventLog, LogError, StreamId, command};

use crate::settings::Firm;

#[derive(Clone)]
pub struct FirmNow {
    configured: Arc<Firm>,
    now: Arc<RwLock<Now>>,
}

/// The details, and the same as templates read them: made once per change, not at every lookup
/// of every page.
struct Now {
    firm: Arc<Firm>,
    value: minijinja::Value,
}

impl Now {
    fn of(firm: Arc<Firm>) -> Self {
        let value = crate::pages::templates::serialized(&*firm);
        Self { firm, value }
    }
}

impl std::fmt::Debug for FirmNow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FirmNow").field(&self.get().name).finish()
    }
}

impl FirmNow {
    pub fn new(configured: Firm) -> Self {
        let configured = Arc::new(configured);
        Self {
            now: Arc::new(RwLock::new(Now::of(configured.clone()))),
            configured,
        }
    }

    /// The details now.
    pub fn get(&self) -> Arc<Firm> {
        self.now
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .firm
            .clone()
    }

    /// The details as templates read them (`firm.name`, …).
    pub fn value(&self) -> minijinja::Value {
        self.now
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .value
            .clone()
    }

    /// The configuration's details with `details` over them (the logo stays the configuration's).
    /// A time zone that is no longer known (an older tz database) keeps the configuration's.
    pub fn apply(&self, details: &FirmDetails) {
        let firm = Firm {
            name: details.name.clone(),
            email: details.email.clone(),
            phone: details.phone.clone(),
            address: details.address.clone(),
            time_zone: details.time_zone.parse().unwrap_or(self.configured.time_zone),
            logo_url: self.configured.logo_url.clone(),
            reminders: details.reminders.clone(),
        };
        *self.now.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Now::of(Arc::new(firm));
    }

    /// Reads the firm's stream and takes up its latest details, if any.
    pub async fn load(&self, log: &EventLog) -> Result<(), LogError> {
        if let Some(details) = command::state_of::<FirmDecider>(log, &StreamId::firm()).await?.details {
            self.apply(&details);
        }
        Ok(())
    }

    /// The details as the settings page starts from: the latest saved, or the configuration's.
    pub fn details(&self) -> FirmDetails {
        let firm = self.get();
        FirmDetails {
            name: firm.name.clone(),
            email: firm.email.clone(),
            phone: firm.phone.clone(),
            address: firm.address.clone(),
            time_zone: firm.time_zone.name().to_owned(),
            reminders: firm.reminders.clone(),
        }
    }

    /// When this month began in the firm's time zone (its first midnight there, or the first moment
    /// after it where a clock change skips midnight).
    pub fn month_start(&self) -> chrono::DateTime<chrono::Utc> {
        use chrono::{Datelike, TimeZone};
        let zone = self.get().time_zone;
        let today = chrono::Utc::now().with_timezone(&zone).date_naive();
        let first = today.with_day(1).unwrap_or(today);
        let midnight = first.and_hms_opt(0, 0, 0).unwrap_or_default();
        (0..4)
            .find_map(|hour| {
                zone.from_local_datetime(&(midnight + chrono::Duration::hours(hour)))
                    .earliest()
            })
            .map_or_else(|| midnight.and_utc(), |start| start.with_timezone(&chrono::Utc))
    }

    /// Today in the firm's time zone: the day due dates are counted from.
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now().with_timezone(&self.get().time_zone).date_naive()
    }
}
