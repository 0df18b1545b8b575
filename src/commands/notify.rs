//! `lodge notify`: the notifier alone, until Ctrl-C (`lodge serve` runs it too).

use std::process::ExitCode;

use lodge_projections::ReadStore;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let settings = config.api_settings(config.secret_key()?)?;
    let log = super::open_log(config).await?;
    let store = ReadStore::connect(config.database_url.expose_secret()).await?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    eprintln!("Sending notifications as the log asks for them; Ctrl-C stops.");
    lodge_notifier::run(log, store, config.notifier_settings(&settings)?, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}
