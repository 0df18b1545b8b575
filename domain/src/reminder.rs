//! When contacts who still owe something are reminded: a few days before the due date, the day
//! before, on the day, then every few days while overdue, a bounded number of times. A firm sets a
//! default; staff may set another for one invite.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// The furthest ahead of the due date, and the longest pause while overdue, that a plan may ask for.
pub const MAX_REMINDER_DAYS: u32 = 365;
/// The most reminder days before the due date a plan may list.
pub const MAX_DAYS_BEFORE: usize = 10;
/// The most reminders per contact and invite a plan may ask for.
pub const MAX_REMINDERS: u32 = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReminderPlan {
    /// Days before the due date (0: on the day). Empty: none before.
    pub days_before: Vec<u32>,
    /// Days between reminders once overdue (0: none after the due date).
    pub overdue_every_days: u32,
    /// The most reminders per contact; 0 switches reminders off.
    pub at_most: u32,
}

impl Default for ReminderPlan {
    fn default() -> Self {
        Self {
            days_before: vec![3, 1, 0],
            overdue_every_days: 3,
            at_most: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReminderError {
    #[error("reminders can be at most {MAX_REMINDER_DAYS} days before the due date (got {0})")]
    TooFarAhead(u32),
    #[error("at most {MAX_DAYS_BEFORE} reminder days before the due date can be listed")]
    TooManyDaysBefore,
    #[error("reminders while overdue can be at most {MAX_REMINDER_DAYS} days apart (got {0})")]
    TooFarApart(u32),
    #[error("at most {MAX_REMINDERS} reminders can be sent per contact (got {0})")]
    TooMany(u32),
}

impl ReminderPlan {
    /// No reminders at all.
    pub fn off() -> Self {
        Self {
            days_before: Vec::new(),
            overdue_every_days: 0,
            at_most: 0,
        }
    }

    /// The plan with its days before sorted (furthest first) and repeated days dropped, or why it
    /// cannot be used.
    pub fn checked(&self) -> Result<Self, ReminderError> {
        if self.days_before.len() > MAX_DAYS_BEFORE {
            return Err(ReminderError::TooManyDaysBefore);
        }
        if let Some(days) = self.days_before.iter().find(|d| **d > MAX_REMINDER_DAYS) {
            return Err(ReminderError::TooFarAhead(*days));
        }
        if self.overdue_every_days > MAX_REMINDER_DAYS {
            return Err(ReminderError::TooFarApart(self.overdue_every_days));
        }
        if self.at_most > MAX_REMINDERS {
            return Err(ReminderError::TooMany(self.at_most));
        }
        let mut days_before = self.days_before.clone();
        days_before.sort_unstable_by(|a, b| b.cmp(a));
        days_before.dedup();
        Ok(Self {
            days_before,
            ..self.clone()
        })
    }

    /// The furthest ahead of its due date an invite can need a reminder.
    pub fn lead_days(&self) -> u32 {
        self.days_before.iter().copied().max().unwrap_or(0)
    }

    /// Every reminder date of an invite due on `due_on` and sent on `sent_on`, in order: none on
    /// or before the day it was sent.
    pub fn slots(&self, due_on: NaiveDate, sent_on: NaiveDate) -> Vec<NaiveDate> {
        let mut before: Vec<NaiveDate> = self
            .days_before
            .iter()
            .filter_map(|days| due_on.checked_sub_days(Days::new(u64::from(*days))))
            .collect();
        before.sort();
        before.dedup();
        let mut slots: Vec<NaiveDate> = before.into_iter().filter(|slot| *slot > sent_on).collect();
        if self.overdue_every_days > 0 {
            let mut next = due_on;
            while slots.len() < self.at_most as usize {
                match next.checked_add_days(Days::new(u64::from(self.overdue_every_days))) {
                    Some(date) => {
                        next = date;
                        slots.push(date);
                    }
                    None => break,
                }
            }
        }
        slots.truncate(self.at_most as usize);
        slots
    }

    /// The slot to send on `today`: the latest one that has come (after a gap, only that one).
    pub fn slot_for(&self, due_on: NaiveDate, sent_on: NaiveDate, today: NaiveDate) -> Option<NaiveDate> {
        self.slots(due_on, sent_on).into_iter().rfind(|slot| *slot <= today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    #[test]
    fn three_days_before_the_day_before_the_day_then_every_three_days_ten_at_most() {
        let plan = ReminderPlan::default();
        let slots = plan.slots(day(10), day(1));
        assert_eq!(&slots[..5], &[day(7), day(9), day(10), day(13), day(16)]);
        assert_eq!(slots.len(), 10);
        assert_eq!(plan.slot_for(day(10), day(1), day(6)), None, "nothing yet");
        assert_eq!(plan.slot_for(day(10), day(1), day(8)), Some(day(7)));
        assert_eq!(
            plan.slot_for(day(10), day(1), day(12)),
            Some(day(10)),
            "after a gap, the latest slot only"
        );
    }

    #[test]
    fn no_reminder_before_the_invite_was_sent_and_none_when_switched_off() {
        let plan = ReminderPlan::default();
        assert_eq!(
            plan.slots(day(10), day(9))[0],
            day(10),
            "sent the day before: not reminded that day"
        );
        assert!(ReminderPlan::off().slots(day(10), day(1)).is_empty());
        let only_overdue = ReminderPlan {
            days_before: vec![],
            overdue_every_days: 7,
            at_most: 2,
        };
        assert_eq!(only_overdue.slots(day(10), day(1)), vec![day(17), day(24)]);
    }

    #[test]
    fn a_plan_is_checked_and_tidied() {
        let messy = ReminderPlan {
            days_before: vec![1, 7, 1, 0],
            overdue_every_days: 2,
            at_most: 5,
        };
        assert_eq!(messy.checked().unwrap().days_before, vec![7, 1, 0]);
        let far = ReminderPlan {
            days_before: vec![400],
            ..ReminderPlan::default()
        };
        assert_eq!(far.checked(), Err(ReminderError::TooFarAhead(400)));
        let many = ReminderPlan {
            at_most: 51,
            ..ReminderPlan::default()
        };
        assert_eq!(many.checked(), Err(ReminderError::TooMany(51)));
        let apart = ReminderPlan {
            overdue_every_days: 366,
            ..ReminderPlan::default()
        };
        assert_eq!(apart.checked(), Err(ReminderError::TooFarApart(366)));
    }
}
