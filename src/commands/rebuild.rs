//! `lodge rebuild`: replays the whole log into fresh tables while the live ones keep serving, then
//! switches over (see projections/src/rebuild.rs), with a progress bar and a summary.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use lodge_projections::rebuild::{self, Progress, RebuildOutcome};
use lodge_projections::{DynProjection, ReadStore, all};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use crate::cli::RebuildArgs;
use crate::config::Config;

fn chosen(args: &RebuildArgs) -> anyhow::Result<Vec<&'static dyn DynProjection>> {
    if args.all {
        return Ok(all::ALL.to_vec());
    }
    let mut chosen = Vec::new();
    for name in &args.names {
        match all::by_name(name) {
            Some(projection) if !chosen.iter().any(|p: &&dyn DynProjection| p.name() == name) => {
                chosen.push(projection)
            }
            Some(_) => {}
            None => bail!("there is no projection `{name}`; there are: {}", all::NAMES.join(", ")),
        }
    }
    Ok(chosen)
}

fn bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:>12} [{bar:30}] {pos}/{len} events, {per_sec}, {eta} left")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub async fn run(config: &Config, args: &RebuildArgs) -> anyhow::Result<ExitCode> {
    let projections = chosen(args)?;
    let log = super::open_log(config).await?;
    let store = ReadStore::connect(config.database_url.expose_secret()).await?;

    let stop = CancellationToken::new();
    let on_interrupt = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let bar = bar();
    let outcome = rebuild::rebuild(&log, &store, &projections, &stop, |step| match step {
        Progress::Streams { events, total } => {
            bar.set_message("streams");
            bar.set_length(total.max(events));
            bar.set_position(events);
        }
        Progress::CatchingUp { events } => bar.set_message(format!("catching up ({events})")),
        Progress::Switching => bar.set_message("switching"),
    })
    .await?;
    bar.finish_and_clear();

    match outcome {
        RebuildOutcome::Interrupted { streams, events } => {
            println!(
                "Interrupted after {} ({}); the live read models are untouched. Run the same command again to resume.",
                super::count(streams, "stream"),
                super::count(events, "event")
            );
            Ok(ExitCode::FAILURE)
        }
        RebuildOutcome::Done(report) => {
            let seconds = report.elapsed.as_secs_f64().max(1e-6);
            println!(
                "Rebuilt {} from {} ({}) in {seconds:.1} s, {:.0} events/s{}.",
                projections.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
                super::count(report.streams, "stream"),
                super::count(report.events, "event"),
                report.events as f64 / seconds,
                if report.resumed {
                    ", resuming an interrupted rebuild"
                } else {
                    ""
                }
            );
            if report.caught_up > 0 {
                println!(
                    "Caught up with {} appended meanwhile.",
                    super::count(report.caught_up, "event")
                );
            }
            for (name, old, new) in &report.switched {
                println!("  {name}: generation {} replaced generation {} (dropped)", new.0, old.0);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
