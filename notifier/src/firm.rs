//! The firm's details the notifier writes with: its name, time zone and default reminders. They
//! start as the configuration has them; the latest `FirmDetailsChanged` on the `firm` stream (read
//! when the notifier starts leading, then as it follows the log) replaces them.

use std::sync::RwLock;

use lodge_domain::firm::{FirmDecider, FirmDetails, FirmEvent};
use lodge_domain::reminder::ReminderPlan;
use lodge_eventlog::{EventLog, LogError, RecordedEvent, StreamId, command};

#[derive(Debug, Clone)]
pub struct FirmNow {
    pub name: String,
    pub time_zone: chrono_tz::Tz,
    pub reminders: ReminderPlan,
}

/// The details now, behind a lock the notifier's handlers share.
#[derive(Debug)]
pub struct Firm(RwLock<FirmNow>);

impl Firm {
    pub fn new(configured: FirmNow) -> Self {
        Self(RwLock::new(configured))
    }

    pub fn get(&self) -> FirmNow {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn apply(&self, details: &FirmDetails) {
        let mut now = self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        now.name = details.name.clone();
        // A zone this build does not know keeps the one before.
        if let Ok(zone) = details.time_zone.parse() {
            now.time_zone = zone;
        }
        now.reminders = details.reminders.clone();
    }

    /// Takes up the latest details on the firm's stream, if any.
    pub async fn load(&self, log: &EventLog) -> Result<(), LogError> {
        if let Some(details) = command::state_of::<FirmDecider>(log, &StreamId::firm()).await?.details {
            self.apply(&details);
        }
        Ok(())
    }

    /// Takes up a change the notifier reads in the log.
    pub fn saw(&self, recorded: &RecordedEvent) -> Result<(), LogError> {
        let FirmEvent::FirmDetailsChanged(details) = recorded.decode::<FirmEvent>()?;
        self.apply(&details);
        Ok(())
    }
}
