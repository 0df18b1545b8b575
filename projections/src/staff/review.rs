//! The review queue: every document waiting for review, across invites, oldest first. A table of
//! the staff projection (`staff_review`), one row per waiting document, written with the invite's
//! staff view; a database made before it existed fills it from those views (its backfill).

use chrono::{DateTime, Utc};
use lodge_domain::{ContactId, InviteId, RequestId};
use lodge_eventlog::Engine;
use serde::{Deserialize, Serialize};

use super::StaffInviteView;
use crate::error::ProjectionError;
use crate::portal::{DocumentStatus, PortalDocument};
use crate::projection::{Generation, Table};
use crate::store::ReadStore;
use crate::tables::Column;

pub(super) const TABLE: Table = Table {
    name: "staff_review",
    columns: &[
        // `{invite_id}/{document_id}`: a document's id is its own only within its invite.
        Column::text("id").not_null(),
        Column::text("document_id").not_null(),
        Column::text("invite_id").not_null(),
        Column::text("uploaded_at").not_null(),
        Column::text("doc").not_null(),
    ],
    key: Some("id"),
    indexes: &["uploaded_at, id", "invite_id"],
    backfill: Some(from_staff_views),
    replaces: None,
};

pub(super) const COLUMNS: [&str; 5] = ["id", "document_id", "invite_id", "uploaded_at", "doc"];

/// A document waiting for review, with what the queue shows beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaitingDocument {
    pub invite_id: InviteId,
    pub invite_title: String,
    pub contact_id: ContactId,
    pub contact: String,
    pub request_id: RequestId,
    pub request: String,
    pub document: PortalDocument,
}

#[derive(Serialize)]
pub(super) struct ReviewRow {
    pub(super) id: String,
    document_id: String,
    invite_id: String,
    uploaded_at: String,
    doc: String,
}

/// The waiting documents of an invite, as rows.
pub(super) fn rows(view: &StaffInviteView) -> Vec<ReviewRow> {
    let mut rows = Vec::new();
    for contact in &view.contacts {
        for request in &contact.requests {
            for document in request
                .documents
                .iter()
                .filter(|d| d.status == DocumentStatus::WaitingForReview)
            {
                let waiting = WaitingDocument {
                    invite_id: view.id,
                    invite_title: view.title.clone(),
                    contact_id: contact.id,
                    contact: contact.name.clone(),
                    request_id: request.id,
                    request: request.title.clone(),
                    document: document.clone(),
                };
                rows.push(ReviewRow {
                    id: format!("{}/{}", view.id, document.id),
                    document_id: document.id.to_string(),
                    invite_id: view.id.to_string(),
                    uploaded_at: stamp(document.uploaded_at),
                    doc: serde_json::to_string(&waiting).expect("a waiting document serialises"),
                });
            }
        }
    }
    rows
}

/// A time that sorts as text: always six fractional digits.
fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Fills the table from the staff views already in `generation` (a database made before the queue).
fn from_staff_views(engine: Engine, generation: Generation) -> String {
    let (review, views) = (generation.table(TABLE.name), generation.table("staff_invites"));
    match engine {
        Engine::Sqlite => format!(
            "INSERT INTO {review} (id, document_id, invite_id, uploaded_at, doc)
             SELECT s.invite_id || '/' || json_extract(d.value, '$.id'), json_extract(d.value, '$.id'), s.invite_id,
                    strftime('%Y-%m-%dT%H:%M:%f', json_extract(d.value, '$.uploaded_at')) || '000Z',
                    json_object('invite_id', s.invite_id, 'invite_title', json_extract(s.doc, '$.title'),
                                'contact_id', json_extract(c.value, '$.id'), 'contact', json_extract(c.value, '$.name'),
                                'request_id', json_extract(r.value, '$.id'), 'request', json_extract(r.value, '$.title'),
                                'document', json(d.value))
             FROM {views} s, json_each(s.doc, '$.contacts') c, json_each(c.value, '$.requests') r,
                  json_each(r.value, '$.documents') d
             WHERE json_extract(d.value, '$.status') = 'waiting_for_review'"
        ),
        Engine::Postgres => format!(
            "INSERT INTO {review} (id, document_id, invite_id, uploaded_at, doc)
             SELECT s.invite_id || '/' || (d->>'id'), d->>'id', s.invite_id,
                    to_char((d->>'uploaded_at')::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                    json_build_object('invite_id', s.invite_id, 'invite_title', s.doc::jsonb->>'title',
                                      'contact_id', c->>'id', 'contact', c->>'name',
                                      'request_id', r->>'id', 'request', r->>'title', 'document', d)::text
             FROM {views} s, jsonb_array_elements(s.doc::jsonb->'contacts') c,
                  jsonb_array_elements(c->'requests') r, jsonb_array_elements(r->'documents') d
             WHERE d->>'status' = 'waiting_for_review'"
        ),
    }
}

/// The oldest documents waiting for review, at most `limit`.
pub async fn waiting(store: &ReadStore, limit: u32) -> Result<Vec<WaitingDocument>, ProjectionError> {
    let docs: Vec<String> = lodge_store::on!(store.store(), |c| {
        sqlx::query_scalar("SELECT doc FROM staff_review ORDER BY uploaded_at, id LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(c)
            .await
    })?;
    docs.iter()
        .map(|doc| {
            serde_json::from_str(doc).map_err(|e| ProjectionError::Malformed(format!("a waiting document: {e}")))
        })
        .collect()
}

/// How many documents wait for review.
pub async fn count(store: &ReadStore) -> Result<i64, ProjectionError> {
    Ok(lodge_store::on!(store.store(), |c| {
        sqlx::query_scalar("SELECT count(*) FROM staff_review")
            .fetch_one(c)
            .await
    })?)
}
