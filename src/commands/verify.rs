//! `lodge verify`: walks the whole log and reports the first broken link of any stream's hash chain.

use std::process::ExitCode;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    let report = log.verify().await?;
    match report.broken {
        None => {
            println!(
                "OK: {} in {}; every hash chain holds.",
                super::count(report.events, "event"),
                super::count(report.streams, "stream")
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(broken) => {
            println!("BROKEN: {broken}");
            println!(
                "({} in {} checked before it.)",
                super::count(report.events, "event"),
                super::count(report.streams, "stream")
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
