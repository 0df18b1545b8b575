//! `lodge migrate`

use std::process::ExitCode;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    println!(
        "The {} database at {} is up to date.",
        log.engine(),
        config.database_url_shown()
    );
    Ok(ExitCode::SUCCESS)
}
