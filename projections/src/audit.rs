//! The audit trail: one entry per event of every invite, saying when, who (staff member, contact or
//! Lodge itself), what, on which request and document (with the file's SHA-256), and from where.
//! Entries never change once written, so only an invite's new events are added on each pass.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::{Stream, TryStreamExt};
use lodge_domain::invite::InviteEvent;
use lodge_domain::{Actor, ContactId, DocumentId, InviteId, RequestId};
use lodge_eventlog::Engine;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::error::ProjectionError;
use crate::history::{HistoryEvent, InviteHistory};
use crate::load::Load;
use crate::projection::{Generation, Projection, Table};
use crate::store::ReadStore;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub position: i64,
    pub invite_id: InviteId,
    pub stream_version: u64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// What happened, e.g. `document_uploaded`.
    pub action: String,
    pub contact_id: Option<ContactId>,
    pub request_id: Option<RequestId>,
    pub document_id: Option<DocumentId>,
    pub sha256: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A short human account: a title, a file name, a reason.
    pub detail: Option<String>,
    /// The event's link in its invite's hash chain (hex), to check against `lodge verify`.
    pub event_hash: String,
}

/// `DocumentUploaded` → `document_uploaded`.
fn action(event: &InviteEvent) -> String {
    use lodge_domain::EventSchema;
    let mut out = String::new();
    for (i, c) in event.event_type().chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The entries of every event of the history after `after_version`.
pub fn render(history: &InviteHistory, after_version: u64) -> Vec<AuditEntry> {
    let mut entries = Vec::with_capacity(history.events.len());
    render_into(history, after_version, &mut entries);
    entries
}

/// [`render`], onto the end of `entries`: a rebuild renders a page of invites into one vector
/// sized for all of them, where collecting each invite's on the way grew it, moving every entry
/// again at each doubling (a tenth of a rebuild's rendering in its profile).
fn render_into(history: &InviteHistory, after_version: u64, entries: &mut Vec<AuditEntry>) {
    // Reviews name the document; its hash and request come from its upload.
    let mut uploads: BTreeMap<DocumentId, (String, RequestId, ContactId)> = BTreeMap::new();
    for recorded in history.events.iter() {
        if let InviteEvent::DocumentUploaded(e) = &recorded.event {
            uploads.insert(
                e.document_id,
                (e.sha256.as_str().to_owned(), e.request_id, e.contact_id),
            );
        }
        if recorded.stream_version > after_version {
            entries.push(entry(history.invite_id, recorded, &uploads));
        }
    }
}

/// `hex::encode` builds its string a char at a time, which showed in a rebuild's profile; its
/// `encode_to_slice` writes bytes.
fn hash_hex(hash: &[u8; 32]) -> String {
    let mut digits = [0u8; 64];
    hex::encode_to_slice(hash, &mut digits).expect("64 digits for 32 bytes");
    String::from_utf8(digits.to_vec()).expect("hex digits are ASCII")
}

fn entry(
    invite_id: InviteId,
    recorded: &HistoryEvent,
    uploads: &BTreeMap<DocumentId, (String, RequestId, ContactId)>,
) -> AuditEntry {
    let source = recorded.metadata.source.as_ref();
    let mut entry = AuditEntry {
        position: recorded.position.0,
        invite_id,
        stream_version: recorded.stream_version,
        at: recorded.recorded_at,
        actor: recorded.metadata.actor.clone(),
        action: action(&recorded.event),
        contact_id: None,
        request_id: None,
        document_id: None,
        sha256: None,
        ip: source.and_then(|s| s.ip).map(|ip| ip.to_string()),
        user_agent: source.and_then(|s| s.user_agent.clone()),
        detail: None,
        event_hash: hash_hex(&recorded.hash),
    };
    let review = |document: DocumentId| uploads.get(&document).cloned();
    match &recorded.event {
        InviteEvent::InviteSent(e) => {
            entry.detail = Some(format!(
                "\"{}\" to {} contacts, {} requests",
                e.title,
                e.contacts.len(),
                e.requests.len()
            ))
        }
        InviteEvent::ContactAdded(e) => {
            entry.contact_id = Some(e.contact.id);
            entry.detail = Some(e.contact.name.clone());
        }
        InviteEvent::RequestAdded(e) => {
            entry.request_id = Some(e.request.id);
            entry.detail = Some(e.request.title.clone());
        }
        InviteEvent::DocumentUploaded(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.request_id = Some(e.request_id);
            entry.document_id = Some(e.document_id);
            entry.sha256 = Some(e.sha256.as_str().to_owned());
            entry.detail = Some(format!("{} ({} bytes, {})", e.file_name, e.size_bytes, e.content_type));
        }
        InviteEvent::FormSubmitted(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.request_id = Some(e.request_id);
        }
        InviteEvent::MessagePosted(e) => entry.contact_id = Some(e.contact_id),
        InviteEvent::DocumentAccepted(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.request_id = Some(e.request_id);
            entry.document_id = Some(e.document_id);
            entry.sha256 = review(e.document_id).map(|(sha, ..)| sha);
        }
        InviteEvent::DocumentRejected(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.request_id = Some(e.request_id);
            entry.document_id = Some(e.document_id);
            entry.sha256 = review(e.document_id).map(|(sha, ..)| sha);
            entry.detail = Some(e.reason.clone());
        }
        InviteEvent::DueDateChanged(e) => {
            let date = |d: Option<chrono::NaiveDate>| d.map_or("none".to_owned(), |d| d.to_string());
            entry.detail = Some(format!("from {} to {}", date(e.previous), date(e.due_on)));
        }
        InviteEvent::InviteCancelled(e) => entry.detail = e.reason.clone(),
        InviteEvent::InviteCompleted(e) => {
            entry.detail = Some(
                if e.completed_by.is_none() {
                    "every request done"
                } else {
                    "marked complete"
                }
                .to_owned(),
            )
        }
        InviteEvent::PortalLinkReissued(e) => entry.contact_id = Some(e.contact_id),
        InviteEvent::PortalOpened(e) => visit(&mut entry, e.contact_id, e.ip, &e.user_agent),
        InviteEvent::PortalPasswordRefused(e) => visit(&mut entry, e.contact_id, e.ip, &e.user_agent),
        InviteEvent::NotificationSent(e) => {
            entry.contact_id = Some(e.contact_id);
            entry.detail = Some(format!("{} by {} to {}", e.kind.describe(), channel(e.channel), e.to));
        }
        InviteEvent::NotificationFailed(e) => {
            entry.contact_id = Some(e.contact_id);
            let kind = if e.permanent {
                "failed for good"
            } else {
                "failed, to be retried"
            };
            entry.detail = Some(format!(
                "{} by {} to {} {kind}: {}",
                e.kind.describe(),
                channel(e.channel),
                e.to,
                e.reason
            ));
        }
        InviteEvent::RemindersChanged(e) => {
            entry.detail = Some(match &e.reminders {
                None => "reminders as the firm's default".to_owned(),
                Some(plan) => describe_reminders(plan),
            })
        }
        InviteEvent::StaffDigestSent(e) => {
            entry.detail = Some(format!("digest of {} to {}", activities(e.covers.len()), e.to))
        }
        InviteEvent::StaffDigestFailed(e) => {
            let kind = if e.permanent {
                "failed for good"
            } else {
                "failed, to be retried"
            };
            entry.detail = Some(format!(
                "digest of {} to {} {kind}: {}",
                activities(e.covers.len()),
                e.to,
                e.reason
            ))
        }
    }
    entry
}

fn activities(n: usize) -> String {
    if n == 1 {
        "1 activity".to_owned()
    } else {
        format!("{n} activities")
    }
}

fn describe_reminders(plan: &lodge_domain::reminder::ReminderPlan) -> String {
    if plan.at_most == 0 {
        return "reminders off".to_owned();
    }
    let before: Vec<String> = plan.days_before.iter().map(u32::to_string).collect();
    format!(
        "reminders {} days before the due date, every {} days while overdue, {} at most",
        if before.is_empty() {
            "no".to_owned()
        } else {
            before.join(", ")
        },
        plan.overdue_every_days,
        plan.at_most
    )
}

fn channel(channel: lodge_domain::contact::Channel) -> &'static str {
    match channel {
        lodge_domain::contact::Channel::Email => "email",
        lodge_domain::contact::Channel::Sms => "SMS",
    }
}

/// A portal visit: the event itself says where it came from.
fn visit(entry: &mut AuditEntry, contact: ContactId, ip: Option<std::net::IpAddr>, user_agent: &Option<String>) {
    entry.contact_id = Some(contact);
    entry.ip = ip.map(|ip| ip.to_string()).or(entry.ip.take());
    entry.user_agent = user_agent.clone().or(entry.user_agent.take());
}

pub struct AuditProjection;

const COLUMN_NAMES: [&str; 16] = [
    "position",
    "invite_id",
    "stream_version",
    "at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "action",
    "contact_id",
    "request_id",
    "document_id",
    "sha256",
    "ip",
    "user_agent",
    "detail",
    "event_hash",
];

/// An entry as a row of `audit_entries`, keyed by column name.
///
/// Ids stay ids: they serialise as the same text as their `to_string`, but through a buffer on the
/// stack, where a `String` for each was made only to be copied into the row's value.
#[derive(Serialize)]
struct AuditRow<'a> {
    position: i64,
    invite_id: InviteId,
    stream_version: i64,
    at: String,
    actor_kind: &'static str,
    actor_id: Option<Uuid>,
    actor_name: Option<&'a str>,
    action: &'a str,
    contact_id: Option<ContactId>,
    request_id: Option<RequestId>,
    document_id: Option<DocumentId>,
    sha256: Option<&'a str>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    detail: Option<&'a str>,
    event_hash: &'a str,
}

impl<'a> From<&'a AuditEntry> for AuditRow<'a> {
    fn from(entry: &'a AuditEntry) -> Self {
        let (actor_kind, actor_id, actor_name) = match &entry.actor {
            Actor::Staff { id, name } => ("staff", Some(id.as_uuid()), Some(name.as_str())),
            Actor::Contact { id, name } => ("contact", Some(id.as_uuid()), Some(name.as_str())),
            Actor::System => ("system", None, None),
        };
        Self {
            position: entry.position,
            invite_id: entry.invite_id,
            stream_version: entry.stream_version as i64,
            at: entry.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor_kind,
            actor_id,
            actor_name,
            action: &entry.action,
            contact_id: entry.contact_id,
            request_id: entry.request_id,
            document_id: entry.document_id,
            sha256: entry.sha256.as_deref(),
            ip: entry.ip.as_deref(),
            user_agent: entry.user_agent.as_deref(),
            detail: entry.detail.as_deref(),
            event_hash: &entry.event_hash,
        }
    }
}

const COLUMNS: &str = "position, invite_id, stream_version, at, actor_kind, actor_id, actor_name, action, \
                       contact_id, request_id, document_id, sha256, ip, user_agent, detail, event_hash";

/// The invites in which contacts and documents have entries: the way to a contact's or a document's
/// entries, through the trail's key on (invite, version). Indexes of `contact_id` and `document_id`
/// over every entry were built in each rebuild after loading; these maps hold a row per contact and
/// per document in each invite instead of one per event (docs/decisions/0022).
const CONTACTS: &str = "audit_contacts";
const DOCUMENTS: &str = "audit_documents";

/// An earlier Lodge's trail gains its maps from its entries.
fn contacts_from_entries(generation: Generation) -> String {
    map_from_entries(generation, CONTACTS, "contact_id")
}

fn documents_from_entries(generation: Generation) -> String {
    map_from_entries(generation, DOCUMENTS, "document_id")
}

fn map_from_entries(generation: Generation, map: &str, column: &str) -> String {
    format!(
        "INSERT INTO {} ({column}, invite_id) SELECT DISTINCT {column}, invite_id FROM {} WHERE {column} IS NOT NULL",
        generation.table(map),
        generation.table("audit_entries")
    )
}

const CONTACT_COLUMNS: [&str; 2] = ["contact_id", "invite_id"];
const DOCUMENT_COLUMNS: [&str; 2] = ["document_id", "invite_id"];

#[derive(Serialize)]
struct ContactRow {
    contact_id: ContactId,
    invite_id: InviteId,
}

#[derive(Serialize)]
struct DocumentRow {
    document_id: DocumentId,
    invite_id: InviteId,
}

/// The maps' rows for `entries`: each contact and each document once per invite.
fn map_rows(entries: &[AuditEntry]) -> (Vec<ContactRow>, Vec<DocumentRow>) {
    let mut contacts = std::collections::BTreeSet::new();
    let mut documents = std::collections::BTreeSet::new();
    for entry in entries {
        if let Some(contact) = entry.contact_id {
            contacts.insert((contact, entry.invite_id));
        }
        if let Some(document) = entry.document_id {
            documents.insert((document, entry.invite_id));
        }
    }
    (
        contacts
            .into_iter()
            .map(|(contact_id, invite_id)| ContactRow { contact_id, invite_id })
            .collect(),
        documents
            .into_iter()
            .map(|(document_id, invite_id)| DocumentRow { document_id, invite_id })
            .collect(),
    )
}

impl Projection for AuditProjection {
    const NAME: &'static str = "audit";
    const TABLES: &'static [Table] = &[
        Table {
            name: "audit_entries",
            columns: "position BIGINT NOT NULL, invite_id TEXT NOT NULL, stream_version BIGINT NOT NULL,
                  at TEXT NOT NULL, actor_kind TEXT NOT NULL, actor_id TEXT, actor_name TEXT, action TEXT NOT NULL,
                  contact_id TEXT, request_id TEXT, document_id TEXT, sha256 TEXT, ip TEXT, user_agent TEXT,
                  detail TEXT, event_hash TEXT NOT NULL",
            // An event is one entry, named by its place in its invite's stream as well as by its
            // position in the log; keyed by the former, which invite queries and `write` look up,
            // a rebuild builds one index fewer (tables from before keep their key on position, which
            // `write`'s target-less ON CONFLICT meets as well).
            key: Some("invite_id, stream_version"),
            indexes: &[],
            backfill: None,
        },
        Table {
            name: CONTACTS,
            columns: "contact_id TEXT NOT NULL, invite_id TEXT NOT NULL",
            key: Some("contact_id, invite_id"),
            indexes: &[],
            backfill: Some(contacts_from_entries),
        },
        Table {
            name: DOCUMENTS,
            columns: "document_id TEXT NOT NULL, invite_id TEXT NOT NULL",
            key: Some("document_id, invite_id"),
            indexes: &[],
            backfill: Some(documents_from_entries),
        },
    ];

    async fn write(
        &self,
        store: &ReadStore,
        connection: &mut AnyConnection,
        generation: Generation,
        histories: &[InviteHistory],
    ) -> Result<(), ProjectionError> {
        let table = generation.table("audit_entries");
        // Entries never change: only each invite's events after those already written are added.
        // One index lookup per invite finds its last entry.
        let written: Vec<(String, Option<i64>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT value, (SELECT max(stream_version) FROM {table} WHERE invite_id = list.value) FROM {}",
            store.json_list_rows(1)
        )))
        .bind(ReadStore::json_list(histories.iter().map(|h| h.invite_id)))
        .fetch_all(&mut *connection)
        .await?;
        let written: std::collections::HashMap<String, i64> = written
            .into_iter()
            .filter_map(|(invite, version)| Some((invite, version?)))
            .collect();
        let entries: Vec<AuditEntry> = histories
            .iter()
            .flat_map(|history| {
                let after = written.get(&history.invite_id.to_string()).copied().unwrap_or(0);
                render(history, after as u64)
            })
            .collect();
        let rows: Vec<AuditRow> = entries.iter().map(AuditRow::from).collect();
        let conflict = "ON CONFLICT DO NOTHING";
        Load::upsert(store.engine(), table, &COLUMN_NAMES, conflict, &rows)?
            .run(connection)
            .await?;
        let (contacts, documents) = map_rows(&entries);
        Load::upsert(
            store.engine(),
            generation.table(CONTACTS),
            &CONTACT_COLUMNS,
            conflict,
            &contacts,
        )?
        .run(connection)
        .await?;
        Load::upsert(
            store.engine(),
            generation.table(DOCUMENTS),
            &DOCUMENT_COLUMNS,
            conflict,
            &documents,
        )?
        .run(connection)
        .await
    }

    fn loads(
        &self,
        engine: Engine,
        generation: Generation,
        histories: &[InviteHistory],
    ) -> Result<Vec<Load>, ProjectionError> {
        let mut entries = Vec::with_capacity(histories.iter().map(|history| history.events.len()).sum());
        for history in histories {
            render_into(history, 0, &mut entries);
        }
        let rows: Vec<AuditRow> = entries.iter().map(AuditRow::from).collect();
        let (contacts, documents) = map_rows(&entries);
        Ok(vec![
            Load::fresh(engine, generation.table("audit_entries"), &COLUMN_NAMES, &rows)?,
            Load::fresh(engine, generation.table(CONTACTS), &CONTACT_COLUMNS, &contacts)?,
            Load::fresh(engine, generation.table(DOCUMENTS), &DOCUMENT_COLUMNS, &documents)?,
        ])
    }
}

/// Which entries to read: an invite's, a contact's or a document's (any combination narrows).
impl AuditEntry {
    /// The CSV columns, one per field of an entry (the actor spread over three).
    pub const CSV_HEADER: [&'static str; 16] = [
        "position",
        "invite_id",
        "stream_version",
        "at",
        "actor_kind",
        "actor_id",
        "actor_name",
        "action",
        "contact_id",
        "request_id",
        "document_id",
        "sha256",
        "ip",
        "user_agent",
        "detail",
        "event_hash",
    ];

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
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub invite_id: Option<InviteId>,
    pub contact_id: Option<ContactId>,
    pub document_id: Option<DocumentId>,
}

fn parse<T: std::str::FromStr>(value: Option<String>, what: &str) -> Result<Option<T>, ProjectionError> {
    value
        .map(|v| {
            v.parse()
                .map_err(|_| ProjectionError::Malformed(format!("audit entry: bad {what} `{v}`")))
        })
        .transpose()
}

fn from_row(row: sqlx::any::AnyRow) -> Result<AuditEntry, ProjectionError> {
    let kind: String = row.try_get("actor_kind")?;
    let actor_id: Option<String> = row.try_get("actor_id")?;
    let actor_name: String = row.try_get::<Option<String>, _>("actor_name")?.unwrap_or_default();
    let actor = match kind.as_str() {
        "staff" => Actor::Staff {
            id: parse(actor_id, "staff id")?.unwrap_or_else(|| uuid::Uuid::nil().into()),
            name: actor_name,
        },
        "contact" => Actor::Contact {
            id: parse(actor_id, "contact id")?.unwrap_or_else(|| uuid::Uuid::nil().into()),
            name: actor_name,
        },
        _ => Actor::System,
    };
    let at: String = row.try_get("at")?;
    Ok(AuditEntry {
        position: row.try_get("position")?,
        invite_id: parse(Some(row.try_get("invite_id")?), "invite id")?.expect("given"),
        stream_version: row.try_get::<i64, _>("stream_version")? as u64,
        at: DateTime::parse_from_rfc3339(&at)
            .map_err(|e| ProjectionError::Malformed(format!("audit entry time `{at}`: {e}")))?
            .with_timezone(&Utc),
        actor,
        action: row.try_get("action")?,
        contact_id: parse(row.try_get("contact_id")?, "contact id")?,
        request_id: parse(row.try_get("request_id")?, "request id")?,
        document_id: parse(row.try_get("document_id")?, "document id")?,
        sha256: row.try_get("sha256")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        detail: row.try_get("detail")?,
        event_hash: row.try_get("event_hash")?,
    })
}

/// The matching entries in the order things happened, streamed from the database: an export of any
/// size is read and written a row at a time.
pub fn entries<'a>(
    store: &'a ReadStore,
    filter: &AuditFilter,
) -> impl Stream<Item = Result<AuditEntry, ProjectionError>> + 'a {
    // Only the filters that are set are named: a condition like `$1 IS NULL OR document_id = $1`
    // kept SQLite from using any index, so that one document's entries took a scan of them all.
    let mut values = Vec::new();
    let mut conditions = Vec::new();
    // A contact's or a document's entries are found through the invites its map names.
    for (column, map, value) in [
        ("invite_id", None, filter.invite_id.map(|v| v.to_string())),
        ("contact_id", Some(CONTACTS), filter.contact_id.map(|v| v.to_string())),
        (
            "document_id",
            Some(DOCUMENTS),
            filter.document_id.map(|v| v.to_string()),
        ),
    ] {
        if let Some(value) = value {
            values.push(value);
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
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit_entries {filter} ORDER BY at, position"
    )));
    for value in values {
        query = query.bind(value);
    }
    query
        .fetch(store.pool())
        .map_err(ProjectionError::from)
        .and_then(|row| async move { from_row(row) })
}
