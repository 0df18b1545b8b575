//! When to try a failed notification again: exponential backoff with jitter, until it is delivered,
//! fails for good, or has kept failing for too long. The schedule lives in the notifier's own table,
//! kept from the outcomes it reads in the log, so a restart picks it up where it was.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use lodge_domain::contact::Channel;
use lodge_domain::invite::NotificationFailed;
use lodge_domain::notification::NotificationKind;
use lodge_domain::{ContactId, InviteId};
use lodge_projections::ProjectionError;
use lodge_store::{Connection, Store, on};
use rand::Rng;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct RetrySettings {
    /// The pause before the first retry; doubled each time, up to `longest`.
    pub first: Duration,
    pub longest: Duration,
    /// After this long failing, a notification is recorded as failed for good.
    pub give_up_after: Duration,
    /// How often the notifier looks for retries that are due.
    pub check_every: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(60),
            longest: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
            check_every: Duration::from_secs(5),
        }
    }
}

/// A notification waiting to be tried again.
#[derive(Debug, Clone)]
pub struct Retry {
    pub invite_id: InviteId,
    pub cause: Uuid,
    pub contact: ContactId,
    pub channel: Channel,
    pub kind: NotificationKind,
    pub to: String,
    /// Which retry this is (1 for the first).
    pub attempts: u32,
    pub first_failed_at: DateTime<Utc>,
    pub last_reason: String,
}

impl Retry {
    pub fn given_up(&self, settings: &RetrySettings) -> bool {
        (Utc::now() - self.first_failed_at).to_std().unwrap_or_default() >= settings.give_up_after
    }
}

pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    // Fixed width, so that the text sorts as the time does.
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn text<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The pause before retry number `attempts` (0 for the first), with ±20% jitter so that many
/// failures at once do not come back all at once.
fn pause(settings: &RetrySettings, attempts: u32) -> Duration {
    let base = settings
        .first
        .saturating_mul(1u32 << attempts.min(20))
        .min(settings.longest);
    base.mul_f64(rand::rng().random_range(0.8..1.2))
}

/// A transient failure was recorded: schedule (another) retry.
pub async fn failed(
    store: &Store,
    connection: &mut Connection,
    invite_id: InviteId,
    failure: &NotificationFailed,
    settings: &RetrySettings,
) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write_on(connection).await?;
    let key = (
        failure.cause.to_string(),
        failure.contact_id.to_string(),
        text(failure.channel),
    );
    let attempts: Option<i64> = on!(tx, |c| {
        sqlx::query_scalar(
            "SELECT attempts FROM lodge_notifier_retries WHERE cause = $1 AND contact_id = $2 AND channel = $3",
        )
        .bind(&key.0)
        .bind(&key.1)
        .bind(&key.2)
        .fetch_optional(c)
        .await
    })?;
    let now = Utc::now();
    match attempts {
        None => {
            on!(tx, |c| {
                sqlx::query(
                    "INSERT INTO lodge_notifier_retries
                   (cause, contact_id, channel, invite_id, kind, recipient, attempts, first_failed_at, next_at, last_reason)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)",
                )
                .bind(&key.0)
                .bind(&key.1)
                .bind(&key.2)
                .bind(invite_id.to_string())
                .bind(text(failure.kind))
                .bind(&failure.to)
                .bind(stamp(now))
                .bind(stamp(now + pause(settings, 0)))
                .bind(&failure.reason)
                .execute(c)
                .await
                .map(|_| ())
            })?;
        }
        Some(attempts) => {
            // The retry was counted when it was claimed (see `due`).
            on!(tx, |c| {
                sqlx::query(
                    "UPDATE lodge_notifier_retries SET next_at = $4, last_reason = $5
                 WHERE cause = $1 AND contact_id = $2 AND channel = $3",
                )
                .bind(&key.0)
                .bind(&key.1)
                .bind(&key.2)
                .bind(stamp(now + pause(settings, attempts as u32)))
                .bind(&failure.reason)
                .execute(c)
                .await
                .map(|_| ())
            })?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Delivered, or failed for good: nothing more to try.
pub async fn settled(
    store: &Store,
    connection: &mut Connection,
    cause: Uuid,
    contact: ContactId,
    channel: Channel,
) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write_on(connection).await?;
    on!(tx, |c| {
        sqlx::query("DELETE FROM lodge_notifier_retries WHERE cause = $1 AND contact_id = $2 AND channel = $3")
            .bind(cause.to_string())
            .bind(contact.to_string())
            .bind(text(channel))
            .execute(c)
            .await
            .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(())
}

/// The retries that are due, each claimed: counted (so each try is recorded by a command of its
/// own, whether or not the last one's outcome has come back through the log yet) and its next try
/// pushed back, so that it is not taken twice meanwhile.
pub async fn due(
    store: &Store,
    connection: &mut Connection,
    settings: &RetrySettings,
) -> Result<Vec<Retry>, ProjectionError> {
    let mut tx = store.begin_write_on(connection).await?;
    let now = Utc::now();
    type Row = (String, String, String, String, String, String, i64, String, String);
    let rows: Vec<Row> = on!(tx, |c| {
        sqlx::query_as(
            "SELECT cause, contact_id, channel, invite_id, kind, recipient, attempts, first_failed_at, last_reason
             FROM lodge_notifier_retries WHERE next_at <= $1 ORDER BY next_at LIMIT 20",
        )
        .bind(stamp(now))
        .fetch_all(c)
        .await
    })?;
    let mut due = Vec::new();
    for (cause, contact, channel, invite_id, kind, to, attempts, first_failed_at, last_reason) in rows {
        let bad = |what: &str| sqlx::Error::Decode(format!("a notifier retry's {what}").into());
        let retry = Retry {
            cause: cause.parse().map_err(|_| bad("cause"))?,
            contact: contact.parse().map_err(|_| bad("contact"))?,
            channel: serde_json::from_value(serde_json::Value::String(channel)).map_err(|_| bad("channel"))?,
            invite_id: invite_id.parse().map_err(|_| bad("invite"))?,
            kind: serde_json::from_value(serde_json::Value::String(kind)).map_err(|_| bad("kind"))?,
            to,
            attempts: attempts as u32 + 1,
            first_failed_at: first_failed_at.parse().map_err(|_| bad("time"))?,
            last_reason,
        };
        on!(tx, |c| {
            sqlx::query(
                "UPDATE lodge_notifier_retries SET attempts = $4, next_at = $5
             WHERE cause = $1 AND contact_id = $2 AND channel = $3",
            )
            .bind(retry.cause.to_string())
            .bind(retry.contact.to_string())
            .bind(text(retry.channel))
            .bind(i64::from(retry.attempts))
            .bind(stamp(now + pause(settings, retry.attempts)))
            .execute(c)
            .await
            .map(|_| ())
        })?;
        due.push(retry);
    }
    tx.commit().await?;
    Ok(due)
}
