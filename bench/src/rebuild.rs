//! `lodge-bench rebuild`: on a log of realistic invites, how fast every read model is rebuilt beside
//! how fast the same events are merely read with `read_all` (the ratio is the figure), the peak
//! memory of the rebuild, and how long an append takes to reach the portal view under steady load.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lodge_domain::invite::{InviteEvent, MessagePosted};
use lodge_domain::{Actor, MessageId};
use lodge_eventlog::{EventLog, ExpectedVersion, Metadata, NewEvent, Position, StreamId};
use lodge_projections::portal::PortalProjection;
use lodge_projections::rebuild::{self, RebuildOutcome};
use lodge_projections::{Projection, ReadStore, all};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::history::{append_of, contact_id, history, invite_id};
use super::{BenchDatabase, grouped, per_second};
use crate::cli::RebuildBenchArgs;

/// Appending writers while the log is filled.
const FILL_WRITERS: u32 = 4;
/// Appends made for the delay measurement, and the background load's rate.
const PROBES: usize = 300;

#[derive(Debug, Serialize)]
struct Figures {
    bench: &'static str,
    engine: String,
    events: u64,
    rebuild_eps: f64,
    read_all_eps: f64,
    ratio: f64,
    peak_rss_mib: f64,
    visible_p50_ms: f64,
    visible_p99_ms: f64,
    /// The steady load's appends a second while the delays were measured.
    load_per_second: u64,
    #[serde(skip)]
    fill_seconds: f64,
    #[serde(skip)]
    rebuild_seconds: f64,
    /// The baseline's two passes, before and after the rebuild.
    #[serde(skip)]
    read_all_passes: [f64; 2],
}

/// The process's peak resident memory so far, in MiB (VmHWM).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Starts counting peak memory afresh (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn fill(log: &EventLog, args: &RebuildBenchArgs) -> anyhow::Result<u64> {
    let per_invite = (args.events / args.invites).max(1) as usize;
    let mut writers = JoinSet::new();
    for writer in 0..FILL_WRITERS {
        let (log, invites) = (log.clone(), args.invites);
        writers.spawn(async move {
            let mut appended = 0u64;
            for invite in (writer..invites).step_by(FILL_WRITERS as usize) {
                let (events, metadata) = append_of(&history(invite, per_invite));
                log.append(
                    &StreamId::invite(invite_id(invite)),
                    ExpectedVersion::NoStream,
                    &events,
                    &metadata,
                )
                .await?;
                appended += events.len() as u64;
            }
            anyhow::Ok(appended)
        });
    }
    let mut total = 0;
    while let Some(appended) = writers.join_next().await {
        total += appended??;
    }
    Ok(total)
}

async fn read_everything(log: &EventLog) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let (mut read, mut after) = (0u64, Position::START);
    loop {
        let page = log.read_all(after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        read += page.len() as u64;
    }
    Ok((read, started.elapsed()))
}

fn message(invite: u32, body: &str) -> (StreamId, NewEvent, Metadata) {
    let event = InviteEvent::MessagePosted(MessagePosted {
        message_id: MessageId::from_uuid(Uuid::now_v7()),
        contact_id: contact_id(invite, 0),
        author: Actor::System,
        body: body.into(),
    });
    (
        StreamId::invite(invite_id(invite)),
        NewEvent::from_domain(&event),
        Metadata::new(Actor::System),
    )
}

/// Milliseconds from appends to their appearance in the portal view, with the projectors running
/// and a steady load of other appends beside.
async fn visible_delays(log: &EventLog, store: &ReadStore, invites: u32, load: u64) -> anyhow::Result<Vec<f64>> {
    let shutdown = CancellationToken::new();
    let mut projectors = JoinSet::new();
    all::spawn_all(log, store, &shutdown, &mut projectors);
    let loading = Arc::new(AtomicBool::new(true));
    let load = {
        let (log, loading) = (log.clone(), loading.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / load));
            let mut n = 0u32;
            while loading.load(Ordering::Relaxed) {
                tick.tick().await;
                n += 1;
                let (stream, event, metadata) = message(invites / 2 + n % (invites / 2), "load");
                let _ = log.append(&stream, ExpectedVersion::Any, &[event], &metadata).await;
            }
        })
    };
    let mut delays = Vec::with_capacity(PROBES);
    for probe in 0..PROBES {
        let invite = probe as u32 % (invites / 2);
        let (stream, event, metadata) = message(invite, "probe");
        let appended = log.append(&stream, ExpectedVersion::Any, &[event], &metadata).await?;
        let started = Instant::now();
        // The product's own read-after-write wait (what a portal page does after an upload): it
        // looks at the projector's checkpoint whenever the projector commits. Polling the view
        // every half millisecond instead put a query load of its own on the two cores.
        let reached = store
            .wait_for(
                log,
                PortalProjection::NAME,
                appended.last_position,
                Duration::from_secs(10),
            )
            .await?;
        anyhow::ensure!(reached, "an append did not reach the portal view within 10 s");
        let shown: Option<i64> = lodge_store::on!(store.store(), |c| {
            sqlx::query_scalar("SELECT position FROM portal_views WHERE invite_id = $1 AND contact_id = $2")
                .bind(invite_id(invite).to_string())
                .bind(contact_id(invite, 0).to_string())
                .fetch_optional(c)
                .await
        })?;
        // Within a stream, positions grow with versions.
        anyhow::ensure!(
            shown.is_some_and(|p| p >= appended.last_position.0),
            "the portal projector passed the append, but the portal view does not show it"
        );
        delays.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    loading.store(false, Ordering::Relaxed);
    load.await?;
    shutdown.cancel();
    while projectors.join_next().await.is_some() {}
    Ok(delays)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn measure(db: &BenchDatabase, args: &RebuildBenchArgs) -> anyhow::Result<Figures> {
    let log = EventLog::connect(&db.url).await?;
    log.migrate().await?;
    let store = ReadStore::connect(&db.url).await?;
    all::register_all(&store).await?;

    eprintln!(
        "{}: writing {} events of {} invites…",
        db.engine,
        grouped(args.events as f64),
        args.invites
    );
    let started = Instant::now();
    let events = fill(&log, args).await?;
    let fill_seconds = started.elapsed().as_secs_f64();
    db.settle().await?;

    // The baseline is read once before the rebuild and once after, and the two passes are taken
    // together: a machine whose speed drifts during the run (shared cores) then moves the baseline
    // with the rebuild, instead of the ratio resting on one pass made minutes earlier.
    eprintln!("{}: reading every event with read_all…", db.engine);
    let before = read_everything(&log).await?;
    eprintln!("{}: rebuilding every read model…", db.engine);
    reset_peak_rss();
    let started = Instant::now();
    let outcome = rebuild::rebuild(&log, &store, &all::ALL, &CancellationToken::new(), |_| {}).await?;
    let rebuild_time = started.elapsed();
    let peak = peak_rss_mib();
    anyhow::ensure!(matches!(outcome, RebuildOutcome::Done(_)), "the rebuild did not finish");
    eprintln!("{}: reading every event with read_all again…", db.engine);
    let after = read_everything(&log).await?;

    eprintln!("{}: measuring the delay from an append to the portal view…", db.engine);
    let mut delays = visible_delays(&log, &store, args.invites, args.load).await?;
    delays.sort_by(f64::total_cmp);
    log.close().await;

    let rebuild_eps = per_second(events, rebuild_time);
    let read_all_eps = per_second(before.0 + after.0, before.1 + after.1);
    Ok(Figures {
        bench: "rebuild",
        engine: db.engine.to_string(),
        events,
        rebuild_eps,
        read_all_eps,
        ratio: rebuild_eps / read_all_eps,
        peak_rss_mib: peak,
        visible_p50_ms: percentile(&delays, 50.0),
        visible_p99_ms: percentile(&delays, 99.0),
        load_per_second: args.load,
        fill_seconds,
        rebuild_seconds: rebuild_time.as_secs_f64(),
        read_all_passes: [per_second(before.0, before.1), per_second(after.0, after.1)],
    })
}

fn print_table(f: &Figures) {
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    println!(
        "rebuild benchmark: {}, {} events (written in {:.0} s)",
        f.engine,
        grouped(f.events as f64),
        f.fill_seconds
    );
    println!(
        "  rebuild of every read model  {:>9} ev/s   ({:.1} s)",
        grouped(f.rebuild_eps),
        f.rebuild_seconds
    );
    println!(
        "  read_all of the same events  {:>9} ev/s   (before the rebuild {}, after {})",
        grouped(f.read_all_eps),
        grouped(f.read_all_passes[0]),
        grouped(f.read_all_passes[1])
    );
    println!("  ratio                        {:>9.2}", f.ratio);
    println!("  peak memory of the rebuild   {:>9.0} MiB", f.peak_rss_mib);
    println!(
        "  append to portal view        p50 {:.1} ms, p99 {:.1} ms (under {} appends/s)",
        f.visible_p50_ms, f.visible_p99_ms, f.load_per_second
    );
    print!("  targets: ratio >= 0.5: {}", verdict(f.ratio >= 0.5));
    if f.engine == "postgres" {
        print!("; >= 50,000 ev/s: {}", verdict(f.rebuild_eps >= 50_000.0));
    }
    println!(
        "; memory < 200 MiB: {}; p99 < 50 ms: {}",
        verdict(f.peak_rss_mib < 200.0),
        verdict(f.visible_p99_ms < 50.0)
    );
    println!();
}

pub async fn run(args: &RebuildBenchArgs) -> anyhow::Result<ExitCode> {
    let results = super::on_each_engine(args.only, |db| async move {
        let measured = measure(&db, args).await;
        (db, measured)
    })
    .await?;
    super::print_results(&results, args.json, print_table)?;
    Ok(ExitCode::SUCCESS)
}
