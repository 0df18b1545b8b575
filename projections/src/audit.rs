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
use sqlx::Row;
use uuid::Uuid;

use crate::error::ProjectionError;
use crate::history::{HistoryEvent, InviteHistory, Touched};
use crate::load::Load;
use crate::projection::{Generation, Projection, Table};
use crate::row_values::Bytes;
use crate::store::ReadStore;
use crate::tables::Column;
use crate::tables::bytes_from_hex;

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

/// An entry as a row of `audit_trail`, keyed by column name. Ids and hashes go as bytes (16 and
/// 32): as text they were 224 of an entry's 373 bytes, and a rebuild writes a million entries
/// (docs/decisions/0024).
#[derive(Serialize)]
struct AuditRow<'a> {
    position: i64,
    invite_id: Bytes<16>,
    stream_version: i64,
    at: String,
    actor_kind: &'static str,
    actor_id: Option<Bytes<16>>,
    actor_name: Option<&'a str>,
    action: &'a str,
    contact_id: Option<Bytes<16>>,
    request_id: Option<Bytes<16>>,
    document_id: Option<Bytes<16>>,
    sha256: Option<Bytes<32>>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    detail: Option<&'a str>,
    event_hash: Bytes<32>,
}

fn id_bytes(id: Uuid) -> Bytes<16> {
    Bytes(id.into_bytes())
}

/// A hash an entry gives in hex, as its bytes.
fn hash_bytes(hex_digits: &str) -> Result<Bytes<32>, ProjectionError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut bytes)
        .map_err(|e| ProjectionError::Malformed(format!("audit entry hash `{hex_digits}`: {e}")))?;
    Ok(Bytes(bytes))
}

impl<'a> TryFrom<&'a AuditEntry> for AuditRow<'a> {
    type Error = ProjectionError;

    fn try_from(entry: &'a AuditEntry) -> Result<Self, ProjectionError> {
        let (actor_kind, actor_id, actor_name) = match &entry.actor {
            Actor::Staff { id, name } => ("staff", Some(id_bytes(id.as_uuid())), Some(name.as_str())),
            Actor::Contact { id, name } => ("contact", Some(id_bytes(id.as_uuid())), Some(name.as_str())),
            Actor::System => ("system", None, None),
        };
        Ok(Self {
            position: entry.position,
            invite_id: id_bytes(entry.invite_id.as_uuid()),
            stream_version: entry.stream_version as i64,
            at: entry.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor_kind,
            actor_id,
            actor_name,
            action: &entry.action,
            contact_id: entry.contact_id.map(|id| id_bytes(id.as_uuid())),
            request_id: entry.request_id.map(|id| id_bytes(id.as_uuid())),
            document_id: entry.document_id.map(|id| id_bytes(id.as_uuid())),
            sha256: entry.sha256.as_deref().map(hash_bytes).transpose()?,
            ip: entry.ip.as_deref(),
            user_agent: entry.user_agent.as_deref(),
            detail: entry.detail.as_deref(),
            event_hash: hash_bytes(&entry.event_hash)?,
        })
    }
}

fn rows(entries: &[AuditEntry]) -> Result<Vec<AuditRow<'_>>, ProjectionError> {
    entries.iter().map(AuditRow::try_from).collect()
}

const COLUMNS: &str = "position, invite_id, stream_version, at, actor_kind, actor_id, actor_name, action, \
                       contact_id, request_id, document_id, sha256, ip, user_agent, detail, event_hash";

const TRAIL: &str = "audit_trail";
/// The trail as an earlier Lodge kept it, ids and hashes as text.
const TEXT_TRAIL: &str = "audit_entries";
/// The invites in which contacts and documents have entries: the way to a contact's or a document's
/// entries, through the trail's key on (invite, version). Indexes of `contact_id` and `document_id`
/// over every entry were built in each rebuild after loading; these maps hold a row per contact and
/// per document in each invite instead of one per event (docs/decisions/0022).
const CONTACTS: &str = "audit_contact_invites";
const DOCUMENTS: &str = "audit_document_invites";

/// An earlier Lodge's trail, ids and hashes as text: its entries are converted when the projection
/// registers (docs/decisions/0024).
fn trail_from_text(engine: Engine, generation: Generation) -> String {
    let id = |column: &str| bytes_from_hex(engine, &format!("replace({column}, '-', '')"));
    let hash = |column: &str| bytes_from_hex(engine, column);
    format!(
        "INSERT INTO {} ({COLUMNS}) SELECT position, {}, stream_version, at, actor_kind, {}, actor_name, action, \
         {}, {}, {}, {}, ip, user_agent, detail, {} FROM {}",
        generation.table(TRAIL),
        id("invite_id"),
        id("actor_id"),
        id("contact_id"),
        id("request_id"),
        id("document_id"),
        hash("sha256"),
        hash("event_hash"),
        generation.table(TEXT_TRAIL),
    )
}

/// A trail gains its maps from its entries (an earlier Lodge's had none, or had them as text).
fn contacts_from_trail(_: Engine, generation: Generation) -> String {
    map_from_trail(generation, CONTACTS, "contact_id")
}

fn documents_from_trail(_: Engine, generation: Generation) -> String {
    map_from_trail(generation, DOCUMENTS, "document_id")
}

fn map_from_trail(generation: Generation, map: &str, column: &str) -> String {
    format!(
        "INSERT INTO {} ({column}, invite_id) SELECT DISTINCT {column}, invite_id FROM {} WHERE {column} IS NOT NULL",
        generation.table(map),
        generation.table(TRAIL)
    )
}

const CONTACT_COLUMNS: [&str; 2] = ["contact_id", "invite_id"];
const DOCUMENT_COLUMNS: [&str; 2] = ["document_id", "invite_id"];

#[derive(Serialize)]
struct ContactRow {
    contact_id: Bytes<16>,
    invite_id: Bytes<16>,
}

#[derive(Serialize)]
struct DocumentRow {
    document_id: Bytes<16>,
    invite_id: Bytes<16>,
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
            .map(|(contact, invite)| ContactRow {
                contact_id: id_bytes(contact.as_uuid()),
                invite_id: id_bytes(invite.as_uuid()),
            })
            .collect(),
        documents
            .into_iter()
            .map(|(document, invite)| DocumentRow {
                document_id: id_bytes(document.as_uuid()),
                invite_id: id_bytes(invite.as_uuid()),
            })
            .collect(),
    )
}

impl Projection for AuditProjection {
    const NAME: &'static str = "audit";
    const TABLES: &'static [Table] = &[
        Table {
            name: TRAIL,
            columns: &[
                Column::big_int("position").not_null(),
                Column::bytes("invite_id").not_null(),
                Column::big_int("stream_version").not_null(),
                Column::text("at").not_null(),
                Column::text("actor_kind").not_null(),
                Column::bytes("actor_id"),
                Column::text("actor_name"),
                Column::text("action").not_null(),
                Column::bytes("contact_id"),
                Column::bytes("request_id"),
                Column::bytes("document_id"),
                Column::bytes("sha256"),
                Column::text("ip"),
                Column::text("user_agent"),
                Column::text("detail"),
                Column::bytes("event_hash").not_null(),
            ],
            // An event is one entry, named by its place in its invite's stream as well as by its
            // position in the log; keyed by the former, which invite queries look up.
            key: Some("invite_id, stream_version"),
            indexes: &[],
            backfill: Some(trail_from_text),
            replaces: Some(TEXT_TRAIL),
        },
        Table {
            name: CONTACTS,
            columns: &[
                Column::bytes("contact_id").not_null(),
                Column::bytes("invite_id").not_null(),
            ],
            key: Some("contact_id, invite_id"),
            indexes: &[],
            backfill: Some(contacts_from_trail),
            replaces: Some("audit_contacts"),
        },
        Table {
            name: DOCUMENTS,
            columns: &[
                Column::bytes("document_id").not_null(),
                Column::bytes("invite_id").not_null(),
            ],
            key: Some("document_id, invite_id"),
            indexes: &[],
            backfill: Some(documents_from_trail),
            replaces: Some("audit_documents"),
        },
    ];

    fn writes(
        &self,
        engine: Engine,
        generation: Generation,
        touched: &[Touched],
    ) -> Result<Vec<Load>, ProjectionError> {
        // Entries never change: only each invite's events of this batch (and any after them in the
        // history) are added. The earlier ones came in earlier batches; an entry written twice,
        // from a history that ran ahead of the checkpoint, is skipped by the key.
        let mut entries = Vec::new();
        for invite in touched {
            render_into(&invite.history, invite.first_in_batch.saturating_sub(1), &mut entries);
        }
        let (contacts, documents) = map_rows(&entries);
        let conflict = "ON CONFLICT DO NOTHING";
        Ok(vec![
            Load::upsert(
                engine,
                generation.table(TRAIL),
                &COLUMN_NAMES,
                conflict,
                &rows(&entries)?,
            )?,
            Load::upsert(
                engine,
                generation.table(CONTACTS),
                &CONTACT_COLUMNS,
                conflict,
                &contacts,
            )?,
            Load::upsert(
                engine,
                generation.table(DOCUMENTS),
                &DOCUMENT_COLUMNS,
                conflict,
                &documents,
            )?,
        ])
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
        let rows = rows(&entries)?;
        let (contacts, documents) = map_rows(&entries);
        Ok(vec![
            Load::fresh(engine, generation.table(TRAIL), &COLUMN_NAMES, &rows)?,
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

fn from_row(row: sqlx::any::AnyRow) -> Result<AuditEntry, ProjectionError> {
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
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {TRAIL} {filter} ORDER BY at, position"
    )));
    for value in values {
        query = query.bind(value);
    }
    query
        .fetch(store.pool())
        .map_err(ProjectionError::from)
        .and_then(|row| async move { from_row(row) })
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
