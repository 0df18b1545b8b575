//! `lodge verify`: walks the whole log and reports the first broken link of any stream's hash chain.

use std::process::ExitCode;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    let report = log.verify().await?;
    match report.broken {
        None => {
            println!(
                "OK: {} events in {} streams; every hash chain holds.",
                report.events, report.streams
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(broken) => {
            println!("BROKEN: {broken}");
            println!(
                "({} events in {} streams checked before it.)",
                report.events, report.streams
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
