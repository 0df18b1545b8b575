//! The audit projection: its tables (the trail, and the maps from a contact and from a document
//! to their invites), the rows an invite's new events add, and how a trail from an earlier Lodge
//! fills the tables added since.

use super::*;

pub struct AuditProjection;

pub(super) const COLUMN_NAMES: [&str; 16] = [
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

pub(super) const COLUMNS: &str = "position, invite_id, stream_version, at, actor_kind, actor_id, actor_name, action, \
                       contact_id, request_id, document_id, sha256, ip, user_agent, detail, event_hash";

pub(super) const TRAIL: &str = "audit_trail";
/// The trail as an earlier Lodge kept it, ids and hashes as text.
const TEXT_TRAIL: &str = "audit_entries";
/// The invites in which contacts and documents have entries: the way to a contact's or a document's
/// entries, through the trail's key on (invite, version). Indexes of `contact_id` and `document_id`
/// over every entry were built in each rebuild after loading; these maps hold a row per contact and
/// per document in each invite instead of one per event (docs/decisions/0022).
pub(super) const CONTACTS: &str = "audit_contact_invites";
pub(super) const DOCUMENTS: &str = "audit_document_invites";

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
