//! When each completed invite was completed, for the dashboard's "completed this month": a table of
//! the staff projection (`staff_completions`), one row per invite whose status is completed, with
//! the time of its last `InviteCompleted`. A database made before it existed fills it from the
//! audit trail's `invite_completed` entries (its backfill).

use chrono::{DateTime, Utc};
use lodge_domain::invite::InviteEvent;
use lodge_eventlog::Engine;
use serde::Serialize;

use crate::history::InviteHistory;
use crate::portal::InviteStatus;
use crate::projection::{Generation, Table};
use crate::tables::Column;

use super::StaffInviteView;

pub(super) const TABLE: Table = Table {
    name: "staff_completions",
    columns: &[
        Column::text("invite_id").not_null(),
        Column::text("completed_at").not_null(),
    ],
    key: Some("invite_id"),
    indexes: &["completed_at"],
    backfill: Some(from_audit_trail),
    replaces: None,
};

pub(super) const COLUMNS: [&str; 2] = ["invite_id", "completed_at"];

#[derive(Serialize)]
pub(super) struct CompletionRow {
    pub(super) invite_id: String,
    completed_at: String,
}

/// The time of an invite's last completion, if it is completed now.
pub(super) fn completed_at(history: &InviteHistory, view: &StaffInviteView) -> Option<DateTime<Utc>> {
    if view.status != InviteStatus::Completed {
        return None;
    }
    history
        .events
        .iter()
        .rev()
        .find(|recorded| matches!(recorded.event, InviteEvent::InviteCompleted(_)))
        .map(|recorded| recorded.recorded_at)
}

pub(super) fn row(view: &StaffInviteView, at: DateTime<Utc>) -> CompletionRow {
    CompletionRow {
        invite_id: view.id.to_string(),
        completed_at: stamp(at),
    }
}

/// A time that sorts as text: always six fractional digits.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Fills the table from the audit trail (a database made before it): each completed invite's last
/// `invite_completed` entry. The trail keeps ids as 16 bytes; the staff tables as text.
fn from_audit_trail(engine: Engine, generation: Generation) -> String {
    let (completions, invites) = (generation.table(TABLE.name), generation.table("staff_invites"));
    match engine {
        Engine::Sqlite => format!(
            "INSERT INTO {completions} (invite_id, completed_at)
             SELECT s.invite_id, MAX(strftime('%Y-%m-%dT%H:%M:%f', a.at) || '000Z')
             FROM {invites} s JOIN audit_trail a
               ON a.invite_id = unhex(replace(s.invite_id, '-', ''))
             WHERE s.status = 'completed' AND a.action = 'invite_completed'
             GROUP BY s.invite_id"
        ),
        Engine::Postgres => format!(
            "INSERT INTO {completions} (invite_id, completed_at)
             SELECT s.invite_id,
                    MAX(to_char(a.at::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))
             FROM {invites} s JOIN audit_trail a
               ON a.invite_id = decode(replace(s.invite_id, '-', ''), 'hex')
             WHERE s.status = 'completed' AND a.action = 'invite_completed'
             GROUP BY s.invite_id"
        ),
    }
}
