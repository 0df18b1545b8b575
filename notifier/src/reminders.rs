//! When to remind contacts who still owe something: a few days before the due date, the day
//! before, on the day, then every few days while overdue, a bounded number of times. The schedule
//! is derived from the invite alone (its due date and when it was sent), and each reminder is
//! recorded under a cause made from (invite, contact, slot), so a slot is never sent twice, across
//! restarts and servers. After a gap (the server was down), only the latest slot is sent.

use chrono::{Days, NaiveDate};
use lodge_domain::{ContactId, InviteId};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ReminderSchedule {
    /// Days before the due date (0: on the day).
    pub days_before: Vec<u32>,
    /// Days between reminders once overdue (0: none).
    pub overdue_every: u32,
    /// The most reminders per contact and invite.
    pub at_most: u32,
}

impl Default for ReminderSchedule {
    fn default() -> Self {
        Self {
            days_before: vec![3, 1, 0],
            overdue_every: 3,
            at_most: 10,
        }
    }
}

impl ReminderSchedule {
    /// The furthest ahead of its due date an invite can need a reminder.
    pub fn lead_days(&self) -> u32 {
        self.days_before.iter().copied().max().unwrap_or(0)
    }

    /// Every reminder date of an invite due on `due_on` and sent on `sent_on`, in order.
    pub fn slots(&self, due_on: NaiveDate, sent_on: NaiveDate) -> Vec<NaiveDate> {
        let mut before: Vec<NaiveDate> = self
            .days_before
            .iter()
            .filter_map(|days| due_on.checked_sub_days(Days::new(u64::from(*days))))
            .collect();
        before.sort();
        before.dedup();
        let mut slots: Vec<NaiveDate> = before.into_iter().filter(|slot| *slot > sent_on).collect();
        if self.overdue_every > 0 {
            let mut next = due_on;
            while slots.len() < self.at_most as usize {
                match next.checked_add_days(Days::new(u64::from(self.overdue_every))) {
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

    /// The slot to send on `today`: the latest one that has come.
    pub fn slot_for(&self, due_on: NaiveDate, sent_on: NaiveDate, today: NaiveDate) -> Option<NaiveDate> {
        self.slots(due_on, sent_on).into_iter().rfind(|slot| *slot <= today)
    }
}

/// What a reminder is recorded under: the same for a given invite, contact and slot.
pub fn cause(invite: InviteId, contact: ContactId, slot: NaiveDate) -> Uuid {
    Uuid::new_v5(&invite.as_uuid(), format!("reminder/{contact}/{slot}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    #[test]
    fn three_days_before_the_day_before_the_day_then_every_three_days_ten_at_most() {
        let schedule = ReminderSchedule::default();
        let slots = schedule.slots(day(10), day(1));
        assert_eq!(&slots[..5], &[day(7), day(9), day(10), day(13), day(16)]);
        assert_eq!(slots.len(), 10);
        assert_eq!(schedule.slot_for(day(10), day(1), day(6)), None, "nothing yet");
        assert_eq!(schedule.slot_for(day(10), day(1), day(8)), Some(day(7)));
        assert_eq!(
            schedule.slot_for(day(10), day(1), day(12)),
            Some(day(10)),
            "after a gap, the latest slot only"
        );
    }

    #[test]
    fn no_reminder_before_the_invite_was_sent_and_none_when_switched_off() {
        let schedule = ReminderSchedule::default();
        assert_eq!(
            schedule.slots(day(10), day(9))[0],
            day(10),
            "sent the day before: not reminded that day"
        );
        let quiet = ReminderSchedule {
            days_before: vec![],
            overdue_every: 0,
            at_most: 10,
        };
        assert!(quiet.slots(day(10), day(1)).is_empty());
    }

    #[test]
    fn a_slot_is_one_cause() {
        let (invite, contact) = (
            InviteId::from_uuid(Uuid::from_u128(1)),
            ContactId::from_uuid(Uuid::from_u128(2)),
        );
        assert_eq!(cause(invite, contact, day(7)), cause(invite, contact, day(7)));
        assert_ne!(cause(invite, contact, day(7)), cause(invite, contact, day(9)));
    }
}
