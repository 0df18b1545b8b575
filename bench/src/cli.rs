//! The `lodge-bench` command line.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "lodge-bench",
    version,
    about = "Lodge's benchmarks: figures printed beside a baseline measured in the same run",
    after_help = "PostgreSQL is measured too when LODGE_BENCH_POSTGRES_URL names a server; see README.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Appends per second (1 writer, 8 writers, batches of 10) beside plain INSERTs, and read_all speed.
    /// PostgreSQL is measured when LODGE_BENCH_POSTGRES_URL names a server.
    Append(AppendBenchArgs),
    /// Rebuild speed of every read model beside read_all's on a large log, peak memory, and the delay
    /// from an append to the portal view under load. PostgreSQL as for `append`.
    Rebuild(RebuildBenchArgs),
    /// A lodge serve process under wrk: the portal view and messages beside /healthz, the server's
    /// memory, and a large upload's speed beside the disk's (needs wrk installed)
    Http(HttpBenchArgs),
    /// The notifier: emails per second to a loopback SMTP server, and the delay from InviteSent to
    /// arrival under a steady load
    Notify(NotifyBenchArgs),
}

#[derive(Debug, Args)]
pub struct NotifyBenchArgs {
    /// One JSON object per engine per line
    #[arg(long)]
    pub json: bool,
    /// Invites (one email each) the notifier works through
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub emails: u32,
    /// Measure only this engine
    #[arg(long, value_enum)]
    pub only: Option<BenchEngine>,
}

#[derive(Debug, Args)]
pub struct HttpBenchArgs {
    /// One JSON object per engine per line
    #[arg(long)]
    pub json: bool,
    /// Seconds of load per endpoint
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub seconds: u32,
    /// Size of the uploaded file, in MiB
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub upload_mib: u32,
    /// Measure only this engine
    #[arg(long, value_enum)]
    pub only: Option<BenchEngine>,
}

#[derive(Debug, Args)]
pub struct RebuildBenchArgs {
    /// One JSON object per engine per line
    #[arg(long)]
    pub json: bool,
    /// Events in the log
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1_000..))]
    pub events: u32,
    /// Invites they belong to
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(10..))]
    pub invites: u32,
    /// Appends a second of the steady load beside the append-to-portal probes
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub load: u64,
    /// Measure only this engine
    #[arg(long, value_enum)]
    pub only: Option<BenchEngine>,
}

#[derive(Debug, Args)]
pub struct AppendBenchArgs {
    /// One JSON object per engine per line
    #[arg(long)]
    pub json: bool,
    /// Appends for the one-writer runs (the 8-writer and batch runs do twice as many)
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(16..))]
    pub appends: u32,
    /// Events to read back with read_all
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub read_events: u32,
    /// Measure only this engine
    #[arg(long, value_enum)]
    pub only: Option<BenchEngine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchEngine {
    Sqlite,
    Postgres,
}
