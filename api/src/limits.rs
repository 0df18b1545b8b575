//! How often one contact, or one address, may do something: try a portal password, open links,
//! post messages, upload, send forms. Each try takes a slot under a key (`message:contact:…`,
//! `message:address:…`); a key has at most so many slots in a sliding window, and a try past that
//! is refused with 429 and how long to wait, before any other work is done. Slots are rows in the
//! database, taken one at a time per key (PostgreSQL: an advisory lock per key in `lodge_take_slots`;
//! SQLite: its one writer), so a limit holds however requests arrive: in parallel, on several
//! sessions, or on several servers sharing one PostgreSQL.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use lodge_domain::{ContactId, InviteId};
use lodge_store::{Native, Store, on, write_on};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// At most `most` in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub most: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn per_minute(most: u32) -> Self {
        Self {
            most,
            per: Duration::from_secs(60),
        }
    }
}

/// An action's limits: per contact, and per address the requests come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionLimits {
    pub per_contact: Rate,
    pub per_address: Rate,
}

/// The limits on a contact's actions. Wrong portal passwords have their own, fixed limit
/// (`portal::session`), which is never turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Off: only the password limit applies (for measuring the command path under load).
    pub enabled: bool,
    pub link_opens: ActionLimits,
    pub messages: ActionLimits,
    pub uploads: ActionLimits,
    pub forms: ActionLimits,
}

impl Default for Limits {
    /// Far above what a person does, well below a flood. Per address the limits are looser, as
    /// several contacts may share one (an office, a phone network).
    fn default() -> Self {
        Self {
            enabled: true,
            link_opens: ActionLimits {
                per_contact: Rate::per_minute(20),
                per_address: Rate::per_minute(60),
            },
            messages: ActionLimits {
                per_contact: Rate::per_minute(20),
                per_address: Rate::per_minute(120),
            },
            uploads: ActionLimits {
                per_contact: Rate::per_minute(30),
                per_address: Rate::per_minute(120),
            },
            forms: ActionLimits {
                per_contact: Rate::per_minute(20),
                per_address: Rate::per_minute(120),
            },
        }
    }
}

/// What a contact does that is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    LinkOpen,
    Message,
    Upload,
    Form,
}

impl Action {
    fn key(self) -> &'static str {
        match self {
            Action::LinkOpen => "link",
            Action::Message => "message",
            Action::Upload => "upload",
            Action::Form => "form",
        }
    }

    /// What the refusal says was done too often.
    fn what(self) -> &'static str {
        match self {
            Action::LinkOpen => "portal links were opened",
            Action::Message => "messages were sent",
            Action::Upload => "uploads were sent",
            Action::Form => "forms were sent",
        }
    }

    fn limits(self, limits: &Limits) -> ActionLimits {
        match self {
            Action::LinkOpen => limits.link_opens,
            Action::Message => limits.messages,
            Action::Upload => limits.uploads,
            Action::Form => limits.forms,
        }
    }
}

/// A slot taken, which can be given back (a right password does not count against the limit).
#[derive(Debug)]
pub struct Slot {
    id: String,
    /// Slots still free under the key after this one.
    pub left: u32,
}

/// The longest window any limit may have: slots older than this are swept away.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(60 * 60);

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn window_ms(rate: Rate) -> i64 {
    i64::try_from(rate.per.min(LONGEST_WINDOW).as_millis()).unwrap_or(i64::MAX)
}

/// Takes a slot under `key`, or says how long until one frees.
pub async fn take(store: &Store, key: &str, rate: Rate) -> Result<Result<Slot, Duration>, ApiError> {
    Ok(take_all(store, &[(key.to_owned(), rate)])
        .await?
        .map(|mut slots| slots.remove(0)))
}

/// Takes a slot under each key, all or none (a try refused under one limit counts against no
/// other), or says how long until every key has room; one round trip on PostgreSQL
/// (`lodge_take_slots`), one short transaction on SQLite.
pub async fn take_all(store: &Store, keys: &[(String, Rate)]) -> Result<Result<Vec<Slot>, Duration>, ApiError> {
    let ids: Vec<String> = keys.iter().map(|_| Uuid::now_v7().to_string()).collect();
    let now = now_ms();
    // > 0: milliseconds to wait; otherwise taken, with -answer slots left under the first key.
    let answer: i64 = match store.native() {
        Native::Postgres(pool) => {
            sqlx::query_scalar("SELECT lodge_take_slots($1, $2, $3, $4, $5)")
                .bind(&ids)
                .bind(keys.iter().map(|(key, _)| key.clone()).collect::<Vec<_>>())
                .bind(
                    keys.iter()
                        .map(|(_, rate)| i32::try_from(rate.most).unwrap_or(i32::MAX))
                        .collect::<Vec<_>>(),
                )
                .bind(keys.iter().map(|(_, rate)| window_ms(*rate)).collect::<Vec<_>>())
                .bind(now)
                .fetch_one(pool)
                .await?
        }
        Native::Sqlite(_) => {
            // The write lock is taken at BEGIN: slots are counted and taken one try at a time.
            let mut tx = store.begin_write().await?;
            let mut wait = 0i64;
            let mut left_under_first = 0i64;
            for (index, (key, rate)) in keys.iter().enumerate() {
                let window = window_ms(*rate);
                on!(tx, |c| {
                    sqlx::query("DELETE FROM lodge_limits WHERE key = $1 AND taken_at <= $2")
                        .bind(key)
                        .bind(now - window)
                        .execute(c)
                        .await
                        .map(|_| ())
                })?;
                let (taken, oldest): (i64, Option<i64>) = on!(tx, |c| {
                    sqlx::query_as("SELECT count(*), min(taken_at) FROM lodge_limits WHERE key = $1")
                        .bind(key)
                        .fetch_one(c)
                        .await
                })?;
                if taken >= i64::from(rate.most) {
                    wait = wait.max((oldest.unwrap_or(now) + window - now).max(1));
                } else if index == 0 {
                    left_under_first = i64::from(rate.most) - taken - 1;
                }
            }
            if wait == 0 {
                for ((key, _), id) in keys.iter().zip(&ids) {
                    on!(tx, |c| {
                        sqlx::query("INSERT INTO lodge_limits (id, key, taken_at) VALUES ($1, $2, $3)")
                            .bind(id)
                            .bind(key)
                            .bind(now)
                            .execute(c)
                            .await
                            .map(|_| ())
                    })?;
                }
            }
            tx.commit().await?;
            if wait > 0 { wait } else { -left_under_first }
        }
    };
    if answer > 0 {
        return Ok(Err(Duration::from_millis(answer.unsigned_abs())));
    }
    let left = u32::try_from(-answer).unwrap_or(0);
    Ok(Ok(ids
        .into_iter()
        .enumerate()
        .map(|(index, id)| Slot {
            id,
            left: if index == 0 { left } else { 0 },
        })
        .collect()))
}

/// Gives a slot back, as if it had not been taken.
pub async fn give_back(store: &Store, slot: Slot) -> Result<(), ApiError> {
    write_on!(store, |c| {
        sqlx::query("DELETE FROM lodge_limits WHERE id = $1")
            .bind(slot.id)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// Removes slots older than any window: a key not tried again would otherwise keep its rows.
pub async fn sweep(store: &Store) -> Result<u64, ApiError> {
    let before = now_ms() - i64::try_from(LONGEST_WINDOW.as_millis()).unwrap_or(i64::MAX);
    let swept = write_on!(store, |c| {
        sqlx::query("DELETE FROM lodge_limits WHERE taken_at < $1")
            .bind(before)
            .execute(c)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(swept)
}

/// Whose try it is: the contact (when known) and the address the request came from.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    pub contact: Option<(InviteId, ContactId)>,
    pub address: Option<IpAddr>,
}

/// Takes a slot of `action` for the contact and for the address, or refuses with 429 saying how
/// long to wait; a try refused under one limit counts against neither. Opening a link checks the address alone first, before the link is looked up, so
/// that a flood of guessed links costs one short transaction each.
pub async fn check(state: &AppState, action: Action, who: Who) -> Result<(), ApiError> {
    let limits = &state.settings.limits;
    if !limits.enabled {
        return Ok(());
    }
    let rates = action.limits(limits);
    let keys: Vec<(String, Rate)> = [
        who.contact.map(|(invite, contact)| {
            (
                format!("{}:contact:{invite}:{contact}", action.key()),
                rates.per_contact,
            )
        }),
        who.address
            .map(|address| (format!("{}:address:{address}", action.key()), rates.per_address)),
    ]
    .into_iter()
    .flatten()
    .collect();
    match take_all(&state.store, &keys).await? {
        Ok(_) => Ok(()),
        Err(wait) => Err(too_many(action, wait)),
    }
}

fn too_many(action: Action, wait: Duration) -> ApiError {
    ApiError::TooManyRequests {
        detail: format!(
            "too many {} in a short time: try again in {} seconds",
            action.what(),
            wait.as_secs().max(1)
        ),
        retry_after: wait,
    }
}
