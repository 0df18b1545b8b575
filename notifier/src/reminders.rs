//! Reminders to contacts who still owe something. When they go is the invite's [`ReminderPlan`]
//! (the firm's default unless staff chose another), applied to its due date and the day it was
//! sent; each is recorded under a cause made from (invite, contact, slot), so a slot is never sent
//! twice, across restarts and servers. After a gap (the server was down), only the latest slot is
//! sent.
//!
//! [`ReminderPlan`]: lodge_domain::reminder::ReminderPlan

use chrono::NaiveDate;
use lodge_domain::{ContactId, InviteId};
use lodge_projections::ProjectionError;
use lodge_store::{Connection, Store, on};
use uuid::Uuid;

/// What a reminder is recorded under: the same for a given invite, contact and slot.
pub fn cause(invite: InviteId, contact: ContactId, slot: NaiveDate) -> Uuid {
    Uuid::new_v5(&invite.as_uuid(), format!("reminder/{contact}/{slot}").as_bytes())
}

/// Invites with a plan of their own are looked at on every check, whatever the firm's default
/// horizon: the staff read model, which narrows the search for the rest, does not know plans.
pub async fn own_plan(
    store: &Store,
    connection: &mut Connection,
    invite: InviteId,
    has_one: bool,
) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write_on(connection).await?;
    let sql = if has_one {
        "INSERT INTO lodge_notifier_reminder_plans (invite_id) VALUES ($1) ON CONFLICT (invite_id) DO NOTHING"
    } else {
        "DELETE FROM lodge_notifier_reminder_plans WHERE invite_id = $1"
    };
    on!(tx, |c| sqlx::query(sql)
        .bind(invite.to_string())
        .execute(c)
        .await
        .map(|_| ()))?;
    tx.commit().await?;
    Ok(())
}

pub async fn with_own_plan(connection: &mut Connection) -> Result<Vec<InviteId>, sqlx::Error> {
    let ids: Vec<String> = on!(connection, |c| {
        sqlx::query_scalar("SELECT invite_id FROM lodge_notifier_reminder_plans")
            .fetch_all(c)
            .await
    })?;
    Ok(ids
        .iter()
        .filter_map(|id| id.parse::<Uuid>().ok())
        .map(InviteId::from_uuid)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_one_cause() {
        let (invite, contact) = (
            InviteId::from_uuid(Uuid::from_u128(1)),
            ContactId::from_uuid(Uuid::from_u128(2)),
        );
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        assert_eq!(cause(invite, contact, day(7)), cause(invite, contact, day(7)));
        assert_ne!(cause(invite, contact, day(7)), cause(invite, contact, day(9)));
    }
}
