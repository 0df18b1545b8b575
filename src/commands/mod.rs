//! One module per `lodge` subcommand.

pub mod audit;
pub mod demo;
pub mod history;
pub mod log;
pub mod migrate;
pub mod notify;
pub mod project;
pub mod rebuild;
pub mod serve;
pub mod staff;
pub mod status;
pub mod token;
pub mod verify;

use anyhow::Context;
use lodge_eventlog::EventLog;
use secrecy::ExposeSecret;

use crate::config::Config;

/// Connects to the configured database and brings its schema up to date, as every command does.
pub async fn open_log(config: &Config) -> anyhow::Result<EventLog> {
    let shown = config.database_url_shown();
    let log = EventLog::connect_with(config.database_url.expose_secret(), config.log_options())
        .await
        .with_context(|| format!("cannot open the database at {shown}"))?;
    // Each crate brings its own tables up to date: the log's, then the read models' registry (on
    // connecting), the API's and the notifier's.
    let migrated = async {
        log.migrate().await?;
        let store = lodge_projections::ReadStore::connect(config.database_url.expose_secret()).await?;
        lodge_api::migrations::migrate(store.store()).await?;
        lodge_notifier::migrations::migrate(store.store()).await?;
        anyhow::Ok(())
    };
    migrated
        .await
        .with_context(|| format!("cannot update the schema of the database at {shown}"))?;
    Ok(log)
}

/// `lodge log | head` closes stdout early: that is not an error.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// "1 stream", "2 streams".
pub fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}
