//! Reading the trail back: by invite, contact or document, as entries, and shaped for a CSV a
//! spreadsheet opens safely.

use super::table::{COLUMN_NAMES, COLUMNS, CONTACTS, DOCUMENTS, TRAIL};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::*;

impl AuditEntry {
    /// The CSV columns, one per field of an entry (the actor spread over three): the trail's own.
    pub const CSV_HEADER: [&'static str; 16] = COLUMN_NAMES;

    /// The entry's CSV cells, each safe to open in a spreadsheet (see [`spreadsheet_safe`]).
    pub fn csv_record(&self) -> Vec<String> {
        let entry = self;
        let (kind, id, name) = match &entry.actor {
            lodge_domain::Actor::Staff { id, name } => ("staff", id.to_string(), name.clone()),
            lodge_domain::Actor::Contact { id, name } => ("contact", id.to_string(), name.clone()),
            lodge_domain::Actor::System => ("system", String::new(), String::new()),
        };
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let id_text = |value: Option<String>| value.unwrap_or_default();
        vec![
            entry.position.to_string(),
            entry.invite_id.to_string(),
            entry.stream_version.to_string(),
            entry.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            kind.to_owned(),
            id,
            name,
            entry.action.clone(),
            id_text(entry.contact_id.map(|v| v.to_string())),
            id_text(entry.request_id.map(|v| v.to_string())),
            id_text(entry.document_id.map(|v| v.to_string())),
            text(&entry.sha256),
            text(&entry.ip),
            text(&entry.user_agent),
            text(&entry.detail),
            entry.event_hash.clone(),
        ]
        .into_iter()
        .map(spreadsheet_safe)
        .collect()
    }
}

/// A CSV cell that a spreadsheet shows as text, never runs as a formula. A contact chooses their
/// user agent, file names, messages and answers, so a cell such as `=HYPERLINK(…)` could act when
/// staff open the export; as OWASP recommends, a cell starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a `'` in front.
pub fn spreadsheet_safe(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// Which entries to read: an invite's, a contact's or a document's (any combination narrows).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub invite_id: Option<InviteId>,
    pub contact_id: Option<ContactId>,
    pub document_id: Option<DocumentId>,
}

/// An id the trail keeps as its 16 bytes.
fn id_from<T: From<Uuid>>(bytes: Option<Vec<u8>>, what: &str) -> Result<Option<T>, ProjectionError> {
    bytes
        .map(|bytes| {
            Uuid::from_slice(&bytes)
                .map(T::from)
                .map_err(|_| ProjectionError::Malformed(format!("audit entry: a {what} of {} bytes", bytes.len())))
        })
        .transpose()
}

/// An entry from a row of either engine's.
fn from_row<R: Row>(row: R) -> Result<AuditEntry, ProjectionError>
where
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.try_get("actor_kind")?;
    let actor_id: Option<Uuid> = id_from(row.try_get("actor_id")?, "actor id")?;
    let actor_name: String = row.try_get::<Option<String>, _>("actor_name")?.unwrap_or_default();
    let actor = match kind.as_str() {
        "staff" => Actor::Staff {
            id: actor_id.unwrap_or_else(Uuid::nil).into(),
            name: actor_name,
        },
        "contact" => Actor::Contact {
            id: actor_id.unwrap_or_else(Uuid::nil).into(),
            name: actor_name,
        },
        _ => Actor::System,
    };
    let at: String = row.try_get("at")?;
    let invite_id: Option<InviteId> = id_from(Some(row.try_get("invite_id")?), "invite id")?;
    Ok(AuditEntry {
        position: row.try_get("position")?,
        invite_id: invite_id.expect("given"),
        stream_version: row.try_get::<i64, _>("stream_version")? as u64,
        at: DateTime::parse_from_rfc3339(&at)
            .map_err(|e| ProjectionError::Malformed(format!("audit entry time `{at}`: {e}")))?
            .with_timezone(&Utc),
        actor,
        action: row.try_get("action")?,
        contact_id: id_from(row.try_get("contact_id")?, "contact id")?,
        request_id: id_from(row.try_get("request_id")?, "request id")?,
        document_id: id_from(row.try_get("document_id")?, "document id")?,
        sha256: row.try_get::<Option<Vec<u8>>, _>("sha256")?.map(hex::encode),
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        detail: row.try_get("detail")?,
        event_hash: hex::encode(row.try_get::<Vec<u8>, _>("event_hash")?),
    })
}

/// The matching entries in the order things happened, streamed from the database: an export of any
/// size is read and written a row at a time.
pub fn entries<'a>(store: &'a ReadStore, filter: &AuditFilter) -> BoxStream<'a, Result<AuditEntry, ProjectionError>> {
    // Only the filters that are set are named: a condition like `$1 IS NULL OR document_id = $1`
    // kept SQLite from using any index, so that one document's entries took a scan of them all.
    let mut values = Vec::new();
    let mut conditions = Vec::new();
    // A contact's or a document's entries are found through the invites its map names.
    for (column, map, value) in [
        ("invite_id", None, filter.invite_id.map(|v| v.as_uuid())),
        ("contact_id", Some(CONTACTS), filter.contact_id.map(|v| v.as_uuid())),
        ("document_id", Some(DOCUMENTS), filter.document_id.map(|v| v.as_uuid())),
    ] {
        if let Some(value) = value {
            values.push(value.as_bytes().to_vec());
            let n = values.len();
            conditions.push(format!("{column} = ${n}"));
            if let Some(map) = map {
                conditions.push(format!(
                    "invite_id IN (SELECT invite_id FROM {map} WHERE {column} = ${n})"
                ));
            }
        }
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!("SELECT {COLUMNS} FROM {TRAIL} {filter} ORDER BY at, position");
    lodge_store::on!(store.store(), |pool| {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in values {
            query = query.bind(value);
        }
        query
            .fetch(pool)
            .map_err(ProjectionError::from)
            .and_then(|row| async move { from_row(row) })
            .boxed()
    })
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_shown_as_text() {
        for formula in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"] {
            assert_eq!(spreadsheet_safe(formula.to_owned()), format!("'{formula}"));
        }
        for plain in ["", "Ana", "payslip.pdf", "1+1", "2026-12-04T10:00:00Z", "a=b"] {
            assert_eq!(spreadsheet_safe(plain.to_owned()), plain);
        }
    }
}
