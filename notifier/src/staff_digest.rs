//! Telling staff what contacts did: an invite's sender gets one email listing the uploads, forms
//! and messages since they last heard, at most one per invite per `at_most_every`. Which actions
//! are still untold is worked out from the invite's own events (each digest records the events it
//! told of), so a restart neither repeats nor drops one; the notifier's table only says which
//! invites may have something to tell, and since when.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lodge_domain::Actor;
use lodge_domain::InviteId;
use lodge_domain::invite::{Invite, InviteEvent};
use lodge_eventlog::RecordedEvent;
use lodge_projections::ProjectionError;
use lodge_store::{Connection, Store, on};
use uuid::Uuid;

use crate::message::Activity;
use crate::retries::stamp;

#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// How long a digest waits after the first untold action for more: a contact often sends
    /// several files in a row.
    pub gather: Duration,
    /// The least time between two digests on one invite.
    pub at_most_every: Duration,
    /// The pause before a digest that could not be delivered is tried again.
    pub retry_after: Duration,
    /// How often the notifier looks for digests that are due.
    pub check_every: Duration,
}

impl Default for DigestSettings {
    fn default() -> Self {
        Self {
            gather: Duration::from_secs(120),
            at_most_every: Duration::from_secs(15 * 60),
            retry_after: Duration::from_secs(5 * 60),
            check_every: Duration::from_secs(30),
        }
    }
}

/// Something a contact did that staff want to hear of.
pub fn is_activity(recorded: &RecordedEvent, event: &InviteEvent) -> bool {
    matches!(recorded.metadata.actor, Actor::Contact { .. })
        && matches!(
            event,
            InviteEvent::DocumentUploaded(_) | InviteEvent::FormSubmitted(_) | InviteEvent::MessagePosted(_)
        )
}

/// Notes that `invite` has something to tell since `at` (the earliest such note stands).
pub async fn note(
    store: &Store,
    connection: &mut Connection,
    invite: InviteId,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write_on(connection).await?;
    on!(tx, |c| {
        sqlx::query(
            "INSERT INTO lodge_notifier_digests (invite_id, pending_since) VALUES ($1, $2)
         ON CONFLICT (invite_id) DO NOTHING",
        )
        .bind(invite.to_string())
        .bind(stamp(at))
        .execute(c)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(())
}

/// Nothing more to tell about `invite` (until its contacts do something again).
pub async fn told(store: &Store, connection: &mut Connection, invite: InviteId) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write_on(connection).await?;
    on!(tx, |c| {
        sqlx::query("DELETE FROM lodge_notifier_digests WHERE invite_id = $1")
            .bind(invite.to_string())
            .execute(c)
            .await
            .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(())
}

/// The invites with something untold since before `before`.
pub async fn waiting(connection: &mut Connection, before: DateTime<Utc>) -> Result<Vec<InviteId>, sqlx::Error> {
    let ids: Vec<String> = on!(connection, |c| {
        sqlx::query_scalar(
            "SELECT invite_id FROM lodge_notifier_digests WHERE pending_since <= $1 ORDER BY pending_since LIMIT 100",
        )
        .bind(stamp(before))
        .fetch_all(c)
        .await
    })?;
    Ok(ids
        .iter()
        .filter_map(|id| id.parse::<Uuid>().ok())
        .map(InviteId::from_uuid)
        .collect())
}

/// What an invite's events say a digest would tell now.
pub struct Untold<'a> {
    /// The actions no digest has told of (or given up on), oldest first.
    pub actions: Vec<(&'a RecordedEvent, &'a InviteEvent)>,
    /// When the last digest was tried, and whether it failed.
    pub last_try: Option<(DateTime<Utc>, bool)>,
    /// How many digests were recorded on this invite: each new one is a command of its own.
    pub recorded: usize,
}

pub fn untold<'a>(history: &'a [(RecordedEvent, InviteEvent)]) -> Untold<'a> {
    let mut told = std::collections::BTreeSet::new();
    let mut last_try = None;
    let mut recorded = 0;
    for (event, decoded) in history {
        match decoded {
            InviteEvent::StaffDigestSent(sent) => {
                told.extend(sent.covers.iter().copied());
                last_try = Some((event.recorded_at, false));
                recorded += 1;
            }
            InviteEvent::StaffDigestFailed(failed) => {
                if failed.permanent {
                    told.extend(failed.covers.iter().copied());
                }
                last_try = Some((event.recorded_at, !failed.permanent));
                recorded += 1;
            }
            _ => {}
        }
    }
    let actions = history
        .iter()
        .filter(|(event, decoded)| is_activity(event, decoded) && !told.contains(&event.event_id))
        .map(|(event, decoded)| (event, decoded))
        .collect();
    Untold {
        actions,
        last_try,
        recorded,
    }
}

impl Untold<'_> {
    /// Whether the digest should go at `now`, or wait (for more actions, or for the pause since
    /// the last one to pass).
    pub fn due(&self, now: DateTime<Utc>, settings: &DigestSettings) -> bool {
        let Some((first, _)) = self.actions.first() else {
            return false;
        };
        let since = |at: DateTime<Utc>| (now - at).to_std().unwrap_or_default();
        let pause = match self.last_try {
            None => Duration::ZERO,
            Some((at, true)) => settings.retry_after.saturating_sub(since(at)),
            Some((at, false)) => settings.at_most_every.saturating_sub(since(at)),
        };
        since(first.recorded_at) >= settings.gather && pause.is_zero()
    }

    /// The actions as the email lists them, with times in `time_zone`.
    pub fn describe(&self, invite: &Invite, time_zone: chrono_tz::Tz, now: DateTime<Utc>) -> Vec<Activity> {
        let today = now.with_timezone(&time_zone).date_naive();
        self.actions
            .iter()
            .map(|(event, decoded)| {
                let local = event.recorded_at.with_timezone(&time_zone);
                let at = if local.date_naive() == today {
                    local.format("%H:%M").to_string()
                } else {
                    local.format("%-d %b %H:%M").to_string()
                };
                let who = match &event.metadata.actor {
                    Actor::Contact { name, .. } => name.clone(),
                    Actor::Staff { name, .. } => name.clone(),
                    Actor::System => "Lodge".to_owned(),
                };
                let request = |id| {
                    invite
                        .request(id)
                        .map_or("a request".to_owned(), |r| format!("\"{}\"", r.title))
                };
                let (what, detail) = match decoded {
                    InviteEvent::DocumentUploaded(e) => (
                        format!(
                            "uploaded {} ({}) for {}",
                            e.file_name,
                            humansize::format_size(e.size_bytes, humansize::DECIMAL),
                            request(e.request_id)
                        ),
                        None,
                    ),
                    InviteEvent::FormSubmitted(e) => (format!("filled in {}", request(e.request_id)), None),
                    InviteEvent::MessagePosted(e) => ("wrote".to_owned(), Some(e.body.clone())),
                    _ => ("did something".to_owned(), None),
                };
                Activity { at, who, what, detail }
            })
            .collect()
    }

    pub fn covers(&self) -> Vec<Uuid> {
        self.actions.iter().map(|(event, _)| event.event_id).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use lodge_domain::invite::{MessagePosted, StaffDigestFailed, StaffDigestSent};
    use lodge_domain::testing::{ANA, INVITE, staff};
    use lodge_domain::{EventSchema, MessageId};
    use lodge_eventlog::{Metadata, Position, StreamId};

    use super::*;

    fn at(minutes: i64, seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap() + chrono::Duration::seconds(minutes * 60 + seconds)
    }

    /// An event of the invite recorded at `when`, by `actor`.
    fn recorded(when: DateTime<Utc>, actor: Actor, event: InviteEvent) -> (RecordedEvent, InviteEvent) {
        let recorded = RecordedEvent {
            position: Position(1),
            event_id: Uuid::now_v7(),
            stream_id: StreamId::invite(INVITE),
            stream_version: 1,
            event_type: event.event_type().to_owned(),
            schema_version: 1,
            data: String::new(),
            metadata: Metadata::new(actor),
            recorded_at: when,
            hash: [0; 32],
        };
        (recorded, event)
    }

    fn message(when: DateTime<Utc>) -> (RecordedEvent, InviteEvent) {
        let ana = Actor::Contact {
            id: ANA,
            name: "Ana Alves".into(),
        };
        let event = InviteEvent::MessagePosted(MessagePosted {
            message_id: MessageId::from_uuid(Uuid::now_v7()),
            contact_id: ANA,
            author: ana.clone(),
            body: "Here it is".into(),
        });
        recorded(when, ana, event)
    }

    fn digest(
        when: DateTime<Utc>,
        covers: &[&(RecordedEvent, InviteEvent)],
        failed: Option<bool>,
    ) -> (RecordedEvent, InviteEvent) {
        let covers = covers.iter().map(|(event, _)| event.event_id).collect();
        let staff_id = staff().id;
        let event = match failed {
            None => InviteEvent::StaffDigestSent(StaffDigestSent {
                staff_id,
                to: "sam@firm.example".into(),
                covers,
                provider_message_id: None,
            }),
            Some(permanent) => InviteEvent::StaffDigestFailed(StaffDigestFailed {
                staff_id,
                to: "sam@firm.example".into(),
                covers,
                reason: "the mail server said no".into(),
                permanent,
            }),
        };
        recorded(when, Actor::System, event)
    }

    #[track_caller]
    fn due_at(history: &[(RecordedEvent, InviteEvent)], now: DateTime<Utc>) -> bool {
        untold(history).due(now, &DigestSettings::default())
    }

    #[test]
    fn a_digest_waits_two_minutes_for_more() {
        let history = [message(at(0, 0)), message(at(1, 0))];
        assert!(!due_at(&history, at(1, 59)));
        assert!(due_at(&history, at(2, 0)), "two minutes after the first action");
    }

    #[test]
    fn at_most_one_digest_per_fifteen_minutes() {
        let first = message(at(0, 0));
        let told = digest(at(2, 0), &[&first], None);
        let news = message(at(3, 0));
        let history = [first, told, news];
        assert_eq!(untold(&history).actions.len(), 1, "only what is new");
        assert!(!due_at(&history, at(16, 59)), "14:59 after the last digest");
        assert!(due_at(&history, at(17, 0)), "15:00 after the last digest");
    }

    #[test]
    fn nothing_new_means_no_digest() {
        let first = message(at(0, 0));
        let told = digest(at(2, 0), &[&first], None);
        assert!(!due_at(&[first, told], at(60, 0)));
    }

    #[test]
    fn a_digest_that_failed_is_tried_again_after_five_minutes_and_one_that_cannot_go_is_dropped() {
        let first = message(at(0, 0));
        let failed = digest(at(2, 0), &[&first], Some(false));
        let history = [first.clone(), failed];
        assert!(!due_at(&history, at(6, 59)));
        assert!(due_at(&history, at(7, 0)), "five minutes after the failure");
        let given_up = digest(at(2, 0), &[&first], Some(true));
        assert!(!due_at(&[first, given_up], at(60, 0)), "told of, for good");
    }
}
