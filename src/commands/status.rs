//! `lodge` and `lodge status`: what a newcomer sees first.

use std::process::ExitCode;

use lodge_eventlog::Engine;
use secrecy::ExposeSecret;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    let summary = log.summary().await?;
    let engine = match log.engine() {
        Engine::Sqlite => "SQLite, embedded",
        Engine::Postgres => "PostgreSQL",
    };
    println!("Lodge {}", env!("CARGO_PKG_VERSION"));
    println!("  database   {} ({engine})", config.database_url_shown());
    println!(
        "  event log  {} in {}",
        super::count(summary.events, "event"),
        super::count(summary.streams, "stream")
    );
    let store = lodge_projections::ReadStore::connect(config.database_url.expose_secret()).await?;
    for name in lodge_projections::all::NAMES {
        match store.status(name).await? {
            None => println!("  projector  {name}: not run yet (lodge project)"),
            Some(status) => match status.failure {
                None => println!("  projector  {name}: at position {}", status.position),
                Some((position, reason)) => {
                    println!("  projector  {name}: STOPPED at position {position}: {reason}")
                }
            },
        }
    }
    println!();
    println!("Next:");
    if summary.events == 0 {
        println!("  lodge demo              send a sample invite through Lodge's rules");
    }
    println!("  lodge log               print the log as JSON lines (--stream, --after, --follow)");
    println!("  lodge project           build the read models (portal views, audit trail) from the log");
    println!("  lodge audit --invite ID the audit trail as JSON lines or CSV");
    println!("  lodge verify            check every stream's tamper-evident hash chain");
    println!("  lodge --help            everything else");
    println!();
    println!("(With cargo: cargo run -- demo, cargo run -- log, …)");
    Ok(ExitCode::SUCCESS)
}
