//! `lodge`: the one binary of Lodge.

mod bench;
mod cli;
mod commands;
mod config;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{BenchCommand, Cli, Command};
use crate::config::Config;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Diagnostics go to stderr, so that stdout stays clean for JSON lines. LODGE_LOG=debug for more.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("LODGE_LOG").unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(code) => code,
        Err(error) if commands::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => commands::serve::run(&config).await,
        Command::Token(command) => commands::token::run(&config, command).await,
        Command::Status => commands::status::run(&config).await,
        Command::Migrate => commands::migrate::run(&config).await,
        Command::Verify => commands::verify::run(&config).await,
        Command::Log(args) => commands::log::run(&config, &args).await,
        Command::Demo => commands::demo::run(&config).await,
        Command::Project => commands::project::run(&config).await,
        Command::Notify => commands::notify::run(&config).await,
        Command::Audit(args) => commands::audit::run(&config, &args).await,
        Command::History(args) => commands::history::run(&config, &args).await,
        Command::Rebuild(args) => commands::rebuild::run(&config, &args).await,
        Command::Bench(BenchCommand::Append(args)) => bench::append::run(&args).await,
        Command::Bench(BenchCommand::Rebuild(args)) => bench::rebuild::run(&args).await,
        Command::Bench(BenchCommand::Http(args)) => bench::http::run(&args).await,
        Command::Bench(BenchCommand::Notify(args)) => bench::notify::run(&args).await,
    }
}
