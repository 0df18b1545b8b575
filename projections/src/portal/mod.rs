//! The portal view: one per (invite, contact), and the portal link that opens it.

mod render;
mod view;

pub use render::{RenderedView, render};
pub use view::*;

use lodge_domain::{ContactId, InviteId};
use sqlx::AnyConnection;

use crate::error::ProjectionError;
use crate::history::InviteHistory;
use crate::projection::{Generation, Prior, Projection, Table};
use crate::store::ReadStore;

pub struct PortalProjection;

impl Projection for PortalProjection {
    const NAME: &'static str = "portal";
    const TABLES: &'static [Table] = &[
        Table {
            name: "portal_views",
            columns: "invite_id TEXT NOT NULL, contact_id TEXT NOT NULL, position BIGINT NOT NULL, doc TEXT NOT NULL,
                      PRIMARY KEY (invite_id, contact_id)",
            indexes: &[],
        },
        Table {
            name: "portal_links",
            columns: "token_hash TEXT PRIMARY KEY, invite_id TEXT NOT NULL, contact_id TEXT NOT NULL",
            indexes: &["invite_id"],
        },
    ];

    async fn write(
        &self,
        store: &ReadStore,
        connection: &mut AnyConnection,
        generation: Generation,
        prior: Prior,
        histories: &[InviteHistory],
    ) -> Result<(), ProjectionError> {
        let (views, links) = (generation.table("portal_views"), generation.table("portal_links"));
        let mut view_rows = Vec::new();
        let mut link_rows = Vec::new();
        for history in histories {
            let invite_id = history.invite_id.to_string();
            let position = history.last_position().0;
            for rendered in render(history) {
                let contact_id = rendered.contact_id.to_string();
                link_rows.push(LinkRow {
                    token_hash: rendered.portal_link,
                    invite_id: invite_id.clone(),
                    contact_id: contact_id.clone(),
                });
                view_rows.push(ViewRow {
                    invite_id: invite_id.clone(),
                    contact_id,
                    position,
                    doc: serde_json::to_string(&rendered.view).expect("portal views serialise"),
                });
            }
        }
        // A reissued link replaces the old one: the invites' links are written afresh.
        if prior == Prior::Rows {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {links} WHERE invite_id {}",
                store.in_json_list(1)
            )))
            .bind(ReadStore::json_list(histories.iter().map(|h| h.invite_id)))
            .execute(&mut *connection)
            .await?;
        }
        store
            .insert_json_rows(
                connection,
                &views,
                &["invite_id", "contact_id", "position", "doc"],
                "ON CONFLICT (invite_id, contact_id) DO UPDATE SET position = excluded.position, doc = excluded.doc",
                &view_rows,
            )
            .await?;
        // Token hashes come from 256-bit random tokens and never collide; should one ever repeat
        // across invites, the first invite keeps it rather than a link opening two portals.
        store
            .insert_json_rows(
                connection,
                &links,
                &["token_hash", "invite_id", "contact_id"],
                "ON CONFLICT (token_hash) DO NOTHING",
                &link_rows,
            )
            .await
    }
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
    let doc: Option<String> =
        sqlx::query_scalar("SELECT doc FROM portal_views WHERE invite_id = $1 AND contact_id = $2")
            .bind(invite_id.to_string())
            .bind(contact_id.to_string())
            .fetch_optional(store.pool())
            .await?;
    doc.map(|doc| serde_json::from_str(&doc).map_err(|e| ProjectionError::Malformed(format!("portal view: {e}"))))
        .transpose()
}

/// The invite and contact a portal link's token hash opens, while that link is current.
pub async fn portal_link(
    store: &ReadStore,
    token_hash: &str,
) -> Result<Option<(InviteId, ContactId)>, ProjectionError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT invite_id, contact_id FROM portal_links WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(store.pool())
            .await?;
    row.map(|(invite, contact)| {
        let malformed = |e: uuid::Error| ProjectionError::Malformed(format!("portal link: {e}"));
        Ok((invite.parse().map_err(malformed)?, contact.parse().map_err(malformed)?))
    })
    .transpose()
}
