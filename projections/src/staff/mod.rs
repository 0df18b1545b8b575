//! Staff views: the list of invites with status and progress, and one invite in full with every
//! contact's progress. Built from the same per-contact rendering as the portal, so staff and
//! contacts always see the same state.

use chrono::{DateTime, NaiveDate, Utc};
use lodge_domain::invite::InviteEvent;
use lodge_domain::{ContactId, InviteId};
use lodge_eventlog::Engine;
use serde::{Deserialize, Serialize};

mod completions;
mod review;

pub use review::{WaitingDocument, count as waiting_count, waiting};

use crate::error::ProjectionError;
use crate::history::{InviteHistory, Touched};
use crate::load::Load;
use crate::portal::{self, InviteStatus, PortalRequest, PortalSender, RequestStatus};
use crate::projection::{Generation, Projection, Table};
use crate::store::ReadStore;
use crate::tables::Column;

/// Done out of total, counting each request once per contact it is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    pub done: u32,
    pub total: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteSummary {
    pub id: InviteId,
    pub title: String,
    pub status: InviteStatus,
    pub due_on: Option<NaiveDate>,
    pub sent_at: DateTime<Utc>,
    pub sender: String,
    pub contacts: Vec<String>,
    pub progress: Progress,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactProgress {
    pub id: ContactId,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub progress: Progress,
    /// When the contact last opened their portal, if ever.
    pub last_opened_at: Option<DateTime<Utc>>,
    pub requests: Vec<PortalRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffInviteView {
    pub id: InviteId,
    pub title: String,
    pub message: Option<String>,
    pub status: InviteStatus,
    pub due_on: Option<NaiveDate>,
    pub sent_at: DateTime<Utc>,
    pub sender: PortalSender,
    pub progress: Progress,
    pub contacts: Vec<ContactProgress>,
}

impl StaffInviteView {
    pub fn summary(&self) -> InviteSummary {
        InviteSummary {
            id: self.id,
            title: self.title.clone(),
            status: self.status,
            due_on: self.due_on,
            sent_at: self.sent_at,
            sender: self.sender.name.clone(),
            contacts: self.contacts.iter().map(|c| c.name.clone()).collect(),
            progress: self.progress,
        }
    }
}

fn is_done(request: &PortalRequest) -> bool {
    matches!(request.status, RequestStatus::Accepted | RequestStatus::FormSubmitted)
}

/// The staff view of an invite, or None if the history holds no InviteSent.
pub fn render(history: &InviteHistory) -> Option<StaffInviteView> {
    let sent_at = history.events.first()?.recorded_at;
    let mut last_opened = std::collections::BTreeMap::new();
    for recorded in history.events.iter() {
        if let InviteEvent::PortalOpened(e) = &recorded.event {
            last_opened.insert(e.contact_id, recorded.recorded_at);
        }
    }
    let views = portal::render(history);
    let first = views.first()?;
    let contacts: Vec<ContactProgress> = views
        .iter()
        .map(|rendered| {
            let view = &rendered.view;
            ContactProgress {
                id: view.contact.id,
                name: view.contact.name.clone(),
                email: view.contact.email.clone(),
                phone: view.contact.phone.clone(),
                progress: Progress {
                    done: view.requests.iter().filter(|r| is_done(r)).count() as u32,
                    total: view.requests.len() as u32,
                },
                last_opened_at: last_opened.get(&view.contact.id).copied(),
                requests: view.requests.clone(),
            }
        })
        .collect();
    let progress = Progress {
        done: contacts.iter().map(|c| c.progress.done).sum(),
        total: contacts.iter().map(|c| c.progress.total).sum(),
    };
    let invite = &first.view.invite;
    Some(StaffInviteView {
        id: invite.id,
        title: invite.title.clone(),
        message: invite.message.clone(),
        status: invite.status,
        due_on: invite.due_on,
        sent_at,
        sender: first.view.sender.clone(),
        progress,
        contacts,
    })
}

pub struct StaffProjection;

impl Projection for StaffProjection {
    const NAME: &'static str = "staff";
    const TABLES: &'static [Table] = &[
        Table {
            name: "staff_invites",
            columns: &[
                Column::text("invite_id").not_null(),
                Column::text("status").not_null(),
                Column::text("due_on"),
                Column::text("sent_at").not_null(),
                Column::text("search").not_null(),
                Column::big_int("position").not_null(),
                Column::text("doc").not_null(),
            ],
            key: Some("invite_id"),
            indexes: &["status, due_on", "sent_at"],
            backfill: None,
            replaces: None,
        },
        review::TABLE,
        completions::TABLE,
    ];

    fn writes(
        &self,
        engine: Engine,
        generation: Generation,
        touched: &[Touched],
    ) -> Result<Vec<Load>, ProjectionError> {
        let Rows {
            invites,
            waiting,
            completed,
        } = rows(touched.iter().map(|t| &t.history));
        // A document reviewed since leaves the queue: the invites' other rows there go.
        let scope: Vec<String> = touched.iter().map(|t| t.history.invite_id.to_string()).collect();
        let keep: Vec<String> = waiting.iter().map(|row| row.id.clone()).collect();
        // An invite open again (a request added since) is no longer completed.
        let still_completed: Vec<String> = completed.iter().map(|row| row.invite_id.clone()).collect();
        Ok(vec![
            Load::upsert(
                engine,
                generation.table("staff_invites"),
                &COLUMNS,
                "ON CONFLICT (invite_id) DO UPDATE SET status = excluded.status, due_on = excluded.due_on,
                 search = excluded.search, position = excluded.position, doc = excluded.doc",
                &invites,
            )?,
            Load::delete_others(
                engine,
                generation.table(review::TABLE.name),
                "invite_id",
                &scope,
                "id",
                &keep,
            ),
            Load::upsert(
                engine,
                generation.table(review::TABLE.name),
                &review::COLUMNS,
                "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                &waiting,
            )?,
            Load::delete_others(
                engine,
                generation.table(completions::TABLE.name),
                "invite_id",
                &scope,
                "invite_id",
                &still_completed,
            ),
            Load::upsert(
                engine,
                generation.table(completions::TABLE.name),
                &completions::COLUMNS,
                "ON CONFLICT (invite_id) DO UPDATE SET completed_at = excluded.completed_at",
                &completed,
            )?,
        ])
    }

    fn loads(
        &self,
        engine: Engine,
        generation: Generation,
        histories: &[InviteHistory],
    ) -> Result<Vec<Load>, ProjectionError> {
        let Rows {
            invites,
            waiting,
            completed,
        } = rows(histories.iter());
        Ok(vec![
            Load::fresh(engine, generation.table("staff_invites"), &COLUMNS, &invites)?,
            Load::fresh(engine, generation.table(review::TABLE.name), &review::COLUMNS, &waiting)?,
            Load::fresh(
                engine,
                generation.table(completions::TABLE.name),
                &completions::COLUMNS,
                &completed,
            )?,
        ])
    }
}

const COLUMNS: [&str; 7] = ["invite_id", "status", "due_on", "sent_at", "search", "position", "doc"];

/// What the staff tables hold of some invites.
struct Rows {
    invites: Vec<StaffRow>,
    waiting: Vec<review::ReviewRow>,
    completed: Vec<completions::CompletionRow>,
}

/// Each invite's row of the list, a row per document of it waiting for review, and when it was
/// completed, if it is.
fn rows<'a>(histories: impl Iterator<Item = &'a InviteHistory>) -> Rows {
    let mut waiting = Vec::new();
    let mut completed = Vec::new();
    let invites = histories
        .filter_map(|history| {
            let view = render(history)?;
            // Lowercased text that the list's search and contact filter look in.
            let mut search = view.title.to_lowercase();
            for contact in &view.contacts {
                for text in [Some(&contact.name), contact.email.as_ref(), contact.phone.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    search.push('\n');
                    search.push_str(&text.to_lowercase());
                }
            }
            waiting.extend(review::rows(&view));
            if let Some(at) = completions::completed_at(history, &view) {
                completed.push(completions::row(&view, at));
            }
            let status = serde_json::to_value(view.status).expect("a status serialises");
            Some(StaffRow {
                invite_id: view.id.to_string(),
                status: status.as_str().unwrap_or_default().to_owned(),
                due_on: view.due_on.map(|d| d.to_string()),
                sent_at: view.sent_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                search,
                position: history.last_position().0,
                doc: serde_json::to_string(&view).expect("staff views serialise"),
            })
        })
        .collect();
    Rows {
        invites,
        waiting,
        completed,
    }
}

#[derive(Serialize)]
struct StaffRow {
    invite_id: String,
    status: String,
    due_on: Option<String>,
    sent_at: String,
    search: String,
    position: i64,
    doc: String,
}

/// Which invites to list. `today` is in the firm's time zone; `overdue` means open and past due.
#[derive(Debug, Clone)]
pub struct InviteQuery {
    pub status: Option<InviteStatus>,
    pub overdue: bool,
    pub today: NaiveDate,
    /// Text in a contact's name, email address or phone number.
    pub contact: Option<String>,
    /// Text in the title or a contact's details.
    pub text: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// `%text%` for LIKE, with LIKE's own wildcards in `text` taken literally.
fn containing(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Invites, newest first.
pub async fn list(store: &ReadStore, query: &InviteQuery) -> Result<Vec<InviteSummary>, ProjectionError> {
    let status = query
        .status
        .map(|s| serde_json::to_value(s).expect("a status serialises"))
        .and_then(|v| v.as_str().map(str::to_owned));
    let docs: Vec<String> = lodge_store::on!(store.store(), |c| {
        sqlx::query_scalar(
            "SELECT doc FROM staff_invites
         WHERE ($1 IS NULL OR status = $1)
           AND ($2 = 0 OR (status = 'open' AND due_on < $3))
           AND ($4 IS NULL OR search LIKE $4 ESCAPE '\\')
           AND ($5 IS NULL OR search LIKE $5 ESCAPE '\\')
         ORDER BY sent_at DESC, invite_id
         LIMIT $6 OFFSET $7",
        )
        .bind(status)
        .bind(i64::from(query.overdue))
        .bind(query.today.to_string())
        .bind(query.contact.as_deref().map(containing))
        .bind(query.text.as_deref().map(containing))
        .bind(i64::from(query.limit))
        .bind(i64::from(query.offset))
        .fetch_all(c)
        .await
    })?;
    docs.iter()
        .map(|doc| {
            let view: StaffInviteView =
                serde_json::from_str(doc).map_err(|e| ProjectionError::Malformed(format!("staff view: {e}")))?;
            Ok(view.summary())
        })
        .collect()
}

/// Open invites due on or before `day` (the notifier's candidates for reminders), in no order.
pub async fn open_due_by(store: &ReadStore, day: NaiveDate) -> Result<Vec<InviteId>, ProjectionError> {
    let ids: Vec<String> = lodge_store::on!(store.store(), |c| {
        sqlx::query_scalar(
            "SELECT invite_id FROM staff_invites WHERE status = 'open' AND due_on IS NOT NULL AND due_on <= $1",
        )
        .bind(day.to_string())
        .fetch_all(c)
        .await
    })?;
    ids.iter()
        .map(|id| {
            id.parse::<uuid::Uuid>()
                .map(InviteId::from_uuid)
                .map_err(|e| ProjectionError::Malformed(format!("staff view's invite id `{id}`: {e}")))
        })
        .collect()
}

/// One invite in full.
pub async fn invite(store: &ReadStore, id: InviteId) -> Result<Option<StaffInviteView>, ProjectionError> {
    let doc: Option<String> = lodge_store::on!(store.store(), |c| {
        sqlx::query_scalar("SELECT doc FROM staff_invites WHERE invite_id = $1")
            .bind(id.to_string())
            .fetch_optional(c)
            .await
    })?;
    doc.map(|doc| serde_json::from_str(&doc).map_err(|e| ProjectionError::Malformed(format!("staff view: {e}"))))
        .transpose()
}

/// How many invites are in each state the dashboard counts, on `today` in the firm's time zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteCounts {
    /// Documents waiting for review, across invites.
    pub waiting_for_review: i64,
    pub open: i64,
    /// Open and past their due date.
    pub overdue: i64,
    /// Open and due from today to six days on.
    pub due_this_week: i64,
    pub completed: i64,
    /// Completed since the month began (in the firm's time zone).
    pub completed_this_month: i64,
}

/// The dashboard's counts, in one pass over the table's status and due date; `month_start` is when
/// the month began in the firm's time zone.
pub async fn counts(
    store: &ReadStore,
    today: NaiveDate,
    month_start: DateTime<Utc>,
) -> Result<InviteCounts, ProjectionError> {
    let week_end = today + chrono::Days::new(7);
    type Counted = (i64, i64, i64, i64, i64, i64);
    let (waiting_for_review, completed_this_month, open, overdue, due_this_week, completed): Counted =
        lodge_store::on!(store.store(), |c| {
            sqlx::query_as(
                "SELECT
                (SELECT count(*) FROM staff_review),
                (SELECT count(*) FROM staff_completions WHERE completed_at >= $3),
                COALESCE(SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status = 'open' AND due_on < $1 THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status = 'open' AND due_on >= $1 AND due_on < $2 THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0)
             FROM staff_invites",
            )
            .bind(today.to_string())
            .bind(week_end.to_string())
            .bind(completions::stamp(month_start))
            .fetch_one(c)
            .await
        })?;
    Ok(InviteCounts {
        waiting_for_review,
        open,
        overdue,
        due_this_week,
        completed,
        completed_this_month,
    })
}
