//! `lodge audit`: the audit trail, written out entry by entry as the database hands it over, so an
//! export of any size runs in constant memory.

use std::io::Write;
use std::process::ExitCode;

use futures_util::TryStreamExt;
use lodge_projections::audit::{self, AuditEntry, AuditFilter};
use lodge_projections::{ReadStore, all};

use crate::cli::{AuditArgs, AuditFormat};
use crate::config::Config;

/// The CSV columns, one per field of an entry (the actor spread over three).
const CSV_HEADER: [&str; 16] = [
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

fn csv_record(entry: &AuditEntry) -> Vec<String> {
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

pub async fn run(config: &Config, args: &AuditArgs) -> anyhow::Result<ExitCode> {
    super::open_log(config).await?;
    let store = ReadStore::connect(&config.database_url).await?;
    all::register_all(&store).await?;
    let filter = AuditFilter {
        invite_id: args.invite.map(Into::into),
        contact_id: args.contact.map(Into::into),
        document_id: args.document.map(Into::into),
    };
    let mut entries = std::pin::pin!(audit::entries(&store, &filter));
    let stdout = std::io::stdout().lock();
    match args.format {
        AuditFormat::Jsonl => {
            let mut out = std::io::BufWriter::new(stdout);
            while let Some(entry) = entries.try_next().await? {
                serde_json::to_writer(&mut out, &entry)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        AuditFormat::Csv => {
            let mut out = csv::Writer::from_writer(stdout);
            out.write_record(CSV_HEADER)?;
            while let Some(entry) = entries.try_next().await? {
                out.write_record(csv_record(&entry))?;
            }
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
