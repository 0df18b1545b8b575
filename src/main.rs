//! `lodge`: the one binary of Lodge.

mod cli;
mod commands;
mod config;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::config::Config;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Process-wide settings first, before any thread exists.
    files_are_the_owners_alone();
    more_file_descriptors();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
        .block_on(lodge())
}

/// Everything Lodge creates (the SQLite database and its journal, uploaded files, the key, and their
/// folders) is readable by its owner alone, whatever umask it was started with: they hold clients'
/// documents and personal data.
fn files_are_the_owners_alone() {
    use rustix::fs::Mode;
    rustix::process::umask(Mode::RWXG | Mode::RWXO);
}

/// Each connection takes a file descriptor: the soft limit (often 1024) is raised to the hard one,
/// so that `max_connections` is what limits them, not the process running out.
fn more_file_descriptors() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current.is_some_and(|soft| soft < hard)
    {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            },
        );
    }
}

async fn lodge() -> ExitCode {
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
        Command::Staff(command) => commands::staff::run(&config, command).await,
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
    }
}
