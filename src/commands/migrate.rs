//! `lodge migrate`

use secrecy::ExposeSecret;
use std::process::ExitCode;

use crate::config::{Config, redact_url};

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    println!(
        "The {} database at {} is up to date.",
        log.engine(),
        redact_url(config.database_url.expose_secret())
    );
    Ok(ExitCode::SUCCESS)
}
