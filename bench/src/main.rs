//! `lodge-bench`: Lodge's benchmarks, a binary of their own so that the one firms run carries none
//! of their code or dependencies (an SMTP server, an HTTP client). Each prints its figures beside a
//! baseline measured in the same run, on the same database with the same durability settings;
//! targets are reported, never asserted.

mod append;
mod cli;
mod database;
mod history;
mod http;
mod notify;
mod rebuild;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::database::{BenchDatabase, grouped, on_each_engine, per_second, print_results};

// The same allocator as `lodge`: a rebuild measured here runs in this process (docs/decisions/0020).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let measured = match cli.command {
        Command::Append(args) => append::run(&args).await,
        Command::Rebuild(args) => rebuild::run(&args).await,
        Command::Http(args) => http::run(&args).await,
        Command::Notify(args) => notify::run(&args).await,
    };
    match measured {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
