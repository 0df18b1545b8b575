//! `lodge audit`: the audit trail, written out entry by entry as the database hands it over, so an
//! export of any size runs in constant memory.

use std::io::Write;
use std::process::ExitCode;

use futures_util::TryStreamExt;
use lodge_projections::audit::{self, AuditEntry, AuditFilter};
use lodge_projections::{ReadStore, all};
use secrecy::ExposeSecret;

use crate::cli::{AuditArgs, AuditFormat};
use crate::config::Config;

pub async fn run(config: &Config, args: &AuditArgs) -> anyhow::Result<ExitCode> {
    super::open_log(config).await?;
    let store = ReadStore::connect(config.database_url.expose_secret()).await?;
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
            out.write_record(AuditEntry::CSV_HEADER)?;
            while let Some(entry) = entries.try_next().await? {
                out.write_record(entry.csv_record())?;
            }
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
