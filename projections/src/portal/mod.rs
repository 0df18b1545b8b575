//! The portal view: one per (invite, contact), and the portal link that opens it.

mod render;
mod view;

pub use render::{RenderedView, render};
pub use view::*;

use crate::error::ProjectionError;
use crate::history::{InviteHistory, Touched};
use crate::load::Load;
use crate::projection::{Generation, Projection, Table};
use crate::store::ReadStore;
use crate::tables::Column;
use lodge_domain::{ContactId, InviteId};
use lodge_eventlog::Engine;

pub struct PortalProjection;

impl Projection for PortalProjection {
    const NAME: &'static str = "portal";
    const TABLES: &'static [Table] = &[
        Table {
            name: "portal_views",
            columns: &[
                Column::text("invite_id").not_null(),
                Column::text("contact_id").not_null(),
                Column::big_int("position").not_null(),
                Column::text("doc").not_null(),
            ],
            key: Some("invite_id, contact_id"),
            indexes: &[],
            backfill: None,
            replaces: None,
        },
        Table {
            name: "portal_links",
            columns: &[
                Column::text("token_hash").primary_key(),
                Column::text("invite_id").not_null(),
                Column::text("contact_id").not_null(),
            ],
            key: None,
            indexes: &["invite_id"],
            backfill: None,
            replaces: None,
        },
    ];

    fn writes(
        &self,
        engine: Engine,
        generation: Generation,
        touched: &[Touched],
    ) -> Result<Vec<Load>, ProjectionError> {
        let histories: Vec<&InviteHistory> = touched.iter().map(|t| &t.history).collect();
        let (views, links) = rows(&histories);
        // A reissued link replaces the old one: the invites' other links go.
        let invites: Vec<String> = histories.iter().map(|h| h.invite_id.to_string()).collect();
        let current: Vec<String> = links.iter().map(|link| link.token_hash.clone()).collect();
        Ok(vec![
            Load::delete_others(
                engine,
                generation.table("portal_links"),
                "invite_id",
                &invites,
                "token_hash",
                &current,
            ),
            Load::upsert(
                engine,
                generation.table("portal_views"),
                &VIEW_COLUMNS,
                "ON CONFLICT (invite_id, contact_id) DO UPDATE SET position = excluded.position, doc = excluded.doc",
                &views,
            )?,
            links_load(engine, generation, &links)?,
        ])
    }

    fn loads(
        &self,
        engine: Engine,
        generation: Generation,
        histories: &[InviteHistory],
    ) -> Result<Vec<Load>, ProjectionError> {
        let (views, links) = rows(&histories.iter().collect::<Vec<_>>());
        Ok(vec![
            Load::fresh(engine, generation.table("portal_views"), &VIEW_COLUMNS, &views)?,
            links_load(engine, generation, &links)?,
        ])
    }
}

const VIEW_COLUMNS: [&str; 4] = ["invite_id", "contact_id", "position", "doc"];
const LINK_COLUMNS: [&str; 3] = ["token_hash", "invite_id", "contact_id"];

/// Every contact's view and portal link, of every invite.
fn rows(histories: &[&InviteHistory]) -> (Vec<ViewRow>, Vec<LinkRow>) {
    let mut views = Vec::new();
    let mut links = Vec::new();
    for history in histories {
        let invite_id = history.invite_id.to_string();
        let position = history.last_position().0;
        for rendered in render(history) {
            let contact_id = rendered.contact_id.to_string();
            links.push(LinkRow {
                token_hash: rendered.portal_link,
                invite_id: invite_id.clone(),
                contact_id: contact_id.clone(),
            });
            views.push(ViewRow {
                invite_id: invite_id.clone(),
                contact_id,
                position,
                doc: serde_json::to_string(&rendered.view).expect("portal views serialise"),
            });
        }
    }
    (views, links)
}

/// Token hashes come from 256-bit random tokens and never collide; should one ever repeat across
/// invites, the first invite keeps it rather than a link opening two portals (so links are never
/// loaded by COPY, which could not skip it; they are small).
fn links_load(engine: Engine, generation: Generation, links: &[LinkRow]) -> Result<Load, ProjectionError> {
    Load::upsert(
        engine,
        generation.table("portal_links"),
        &LINK_COLUMNS,
        "ON CONFLICT (token_hash) DO NOTHING",
        links,
    )
}

#[derive(serde::Serialize)]
struct ViewRow {
    invite_id: String,
    contact_id: String,
    position: i64,
    doc: String,
}

#[derive(serde::Serialize)]
struct LinkRow {
    token_hash: String,
    invite_id: String,
    contact_id: String,
}

/// One contact's portal view, as of the projector's last write.
pub async fn portal_view(
    store: &ReadStore,
    invite_id: InviteId,
    contact_id: ContactId,
) -> Result<Option<PortalView>, ProjectionError> {
    let doc: Option<String> = lodge_store::on!(store.store(), |c| {
        sqlx::query_scalar("SELECT doc FROM portal_views WHERE invite_id = $1 AND contact_id = $2")
            .bind(invite_id.to_string())
            .bind(contact_id.to_string())
            .fetch_optional(c)
            .await
    })?;
    doc.map(|doc| serde_json::from_str(&doc).map_err(|e| ProjectionError::Malformed(format!("portal view: {e}"))))
        .transpose()
}

/// The invite and contact a portal link's token hash opens, while that link is current.
pub async fn portal_link(
    store: &ReadStore,
    token_hash: &str,
) -> Result<Option<(InviteId, ContactId)>, ProjectionError> {
    let row: Option<(String, String)> = lodge_store::on!(store.store(), |c| {
        sqlx::query_as("SELECT invite_id, contact_id FROM portal_links WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(c)
            .await
    })?;
    row.map(|(invite, contact)| {
        let malformed = |e: uuid::Error| ProjectionError::Malformed(format!("portal link: {e}"));
        Ok((invite.parse().map_err(malformed)?, contact.parse().map_err(malformed)?))
    })
    .transpose()
}
