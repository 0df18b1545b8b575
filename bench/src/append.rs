//! `lodge-bench append`: appends per second beside plain INSERTs of rows of the same size, with one
//! writer, eight writers and batches of ten; and how fast `read_all` reads the log back.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lodge_domain::digest::Sha256Hex;
use lodge_domain::invite::{DocumentUploaded, InviteEvent};
use lodge_domain::{Actor, ContactId, DocumentId, RequestId};
use lodge_eventlog::{Engine, EventLog, ExpectedVersion, Metadata, NewEvent, Position, Source, StreamId};
use serde::Serialize;
use sqlx::Executor;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{BenchDatabase, grouped, per_second};
use crate::cli::AppendBenchArgs;

const WRITERS: u32 = 8;
/// Each figure is the best of this many rounds, to damp the noise of a shared machine.
const ROUNDS: usize = 2;
const WARM_UP: u32 = 50;

#[derive(Debug, Serialize)]
struct Figures {
    bench: &'static str,
    engine: String,
    append_1w_eps: f64,
    insert_1w_rps: f64,
    ratio_1w: f64,
    append_8w_eps: f64,
    insert_8w_rps: f64,
    ratio_8w: f64,
    append_batch10_eps: f64,
    read_all_eps: f64,
    #[serde(skip)]
    read_events: u32,
    #[serde(skip)]
    read_seconds: f64,
}

/// A realistic event: a document arriving, with a contact's metadata.
fn sample() -> (NewEvent, Metadata) {
    let uploaded = InviteEvent::DocumentUploaded(DocumentUploaded {
        document_id: DocumentId::from_uuid(Uuid::now_v7()),
        request_id: RequestId::from_uuid(Uuid::now_v7()),
        contact_id: ContactId::from_uuid(Uuid::now_v7()),
        file_name: "Payslip June 2026 - Employer Pty Ltd.pdf".into(),
        size_bytes: 184_233,
        sha256: Sha256Hex::parse(&"5f".repeat(32)).expect("valid digest"),
        content_type: "application/pdf".into(),
        blob_key: format!("sha256/{}", "5f".repeat(32)),
    });
    let mut metadata = Metadata::new(Actor::Contact {
        id: ContactId::from_uuid(Uuid::now_v7()),
        name: "Ana Alves".into(),
    });
    metadata.source = Some(Source {
        ip: Some("203.0.113.50".parse().expect("an address")),
        user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15".into()),
    });
    (NewEvent::from_domain(&uploaded), metadata)
}

/// Plain INSERTs of rows as large as an event row, on connections and pools with the log's own
/// settings.
enum Baseline {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Baseline {
    async fn open(db: &BenchDatabase) -> anyhow::Result<Self> {
        Ok(match db.engine {
            Engine::Sqlite => {
                let options = lodge_eventlog::sqlite::connect_options(&db.url)?;
                let pool = lodge_eventlog::sqlite::pool_options(WRITERS)
                    .connect_with(options)
                    .await?;
                pool.execute(
                    "CREATE TABLE bench_baseline (id INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL)",
                )
                .await?;
                Baseline::Sqlite(pool)
            }
            Engine::Postgres => {
                let options = lodge_eventlog::postgres::connect_options(&db.url)?;
                let pool = lodge_eventlog::postgres::pool_options(WRITERS)
                    .connect_with(options)
                    .await?;
                pool.execute(
                    "CREATE TABLE bench_baseline (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, data text NOT NULL, metadata text NOT NULL)",
                )
                .await?;
                Baseline::Postgres(pool)
            }
        })
    }

    async fn insert(&self, rows: u32, event: &NewEvent, metadata: &str) -> anyhow::Result<()> {
        for _ in 0..rows {
            match self {
                Baseline::Sqlite(pool) => {
                    sqlx::query("INSERT INTO bench_baseline (stream_id, data, metadata) VALUES (?, ?, ?)")
                        .bind("bench-baseline")
                        .bind(&event.data)
                        .bind(metadata)
                        .execute(pool)
                        .await?;
                }
                Baseline::Postgres(pool) => {
                    sqlx::query("INSERT INTO bench_baseline (stream_id, data, metadata) VALUES ($1, $2, $3)")
                        .bind("bench-baseline")
                        .bind(&event.data)
                        .bind(metadata)
                        .execute(pool)
                        .await?;
                }
            }
        }
        Ok(())
    }

    fn clone_handle(&self) -> Self {
        match self {
            Baseline::Sqlite(pool) => Baseline::Sqlite(pool.clone()),
            Baseline::Postgres(pool) => Baseline::Postgres(pool.clone()),
        }
    }
}

/// Runs `writers` tasks of `per_writer` operations each and returns the wall time.
async fn concurrently<F, Fut>(writers: u32, per_writer: u32, task: F) -> anyhow::Result<Duration>
where
    F: Fn(u32, u32) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for writer in 0..writers {
        tasks.spawn(task(writer, per_writer));
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(started.elapsed())
}

async fn append_one_by_one(
    log: &EventLog,
    stream: &StreamId,
    count: u32,
    event: &NewEvent,
    metadata: &Metadata,
) -> anyhow::Result<()> {
    let mut version = match log.read_stream(stream).await {
        Ok(events) => events.last().map_or(0, |e| e.stream_version),
        Err(lodge_eventlog::LogError::UnknownStream(_)) => 0,
        Err(error) => return Err(error.into()),
    };
    for _ in 0..count {
        let expected = if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version)
        };
        let mut metadata = metadata.clone();
        metadata.command_id = Uuid::now_v7();
        version = log
            .append(stream, expected, std::slice::from_ref(event), &metadata)
            .await?
            .last_version;
    }
    Ok(())
}

async fn measure(db: &BenchDatabase, args: &AppendBenchArgs) -> anyhow::Result<Figures> {
    let log = EventLog::connect(&db.url).await?;
    log.migrate().await?;
    let baseline = Arc::new(Baseline::open(db).await?);
    let (event, metadata) = sample();
    let event = Arc::new(event);
    let metadata_json = Arc::new(serde_json::to_string(&metadata)?);
    let metadata = Arc::new(metadata);
    let n = args.appends;
    let many = n * 2;

    baseline.insert(WARM_UP, &event, &metadata_json).await?;
    append_one_by_one(&log, &StreamId::parse("bench-warm-up")?, WARM_UP, &event, &metadata).await?;

    let (mut insert_1w, mut append_1w, mut insert_8w, mut append_8w) = (0f64, 0f64, 0f64, 0f64);
    for round in 0..ROUNDS {
        let started = Instant::now();
        baseline.insert(n, &event, &metadata_json).await?;
        insert_1w = insert_1w.max(per_second(n as u64, started.elapsed()));

        let started = Instant::now();
        let stream = StreamId::parse(&format!("bench-1w-{round}"))?;
        append_one_by_one(&log, &stream, n, &event, &metadata).await?;
        append_1w = append_1w.max(per_second(n as u64, started.elapsed()));

        let elapsed = concurrently(WRITERS, many / WRITERS, |_, rows| {
            let (baseline, event, metadata) = (baseline.clone_handle(), event.clone(), metadata_json.clone());
            async move { baseline.insert(rows, &event, &metadata).await }
        })
        .await?;
        insert_8w = insert_8w.max(per_second((many / WRITERS * WRITERS) as u64, elapsed));

        let elapsed = concurrently(WRITERS, many / WRITERS, |writer, count| {
            let (log, event, metadata) = (log.clone(), event.clone(), metadata.clone());
            async move {
                let stream = StreamId::parse(&format!("bench-8w-{round}-{writer}"))?;
                append_one_by_one(&log, &stream, count, &event, &metadata).await
            }
        })
        .await?;
        append_8w = append_8w.max(per_second((many / WRITERS * WRITERS) as u64, elapsed));
    }

    let batch: Vec<NewEvent> = (0..10).map(|_| (*event).clone()).collect();
    let started = Instant::now();
    let stream = StreamId::parse("bench-batch10")?;
    for _ in 0..many / 10 {
        let mut metadata = (*metadata).clone();
        metadata.command_id = Uuid::now_v7();
        log.append(&stream, ExpectedVersion::Any, &batch, &metadata).await?;
    }
    let append_batch10 = per_second((many / 10 * 10) as u64, started.elapsed());

    // Fill the log up to the number of events to read, in batches of 100.
    let filler: Vec<NewEvent> = (0..100).map(|_| (*event).clone()).collect();
    let mut held = log.summary().await?.events;
    let stream = StreamId::parse("bench-fill")?;
    while held < args.read_events as u64 {
        let mut metadata = (*metadata).clone();
        metadata.command_id = Uuid::now_v7();
        log.append(&stream, ExpectedVersion::Any, &filler, &metadata).await?;
        held += filler.len() as u64;
    }
    let started = Instant::now();
    let mut read = 0u64;
    let mut after = Position::START;
    while read < args.read_events as u64 {
        let page = log
            .read_all(after, 1_000.min((args.read_events as u64 - read) as usize))
            .await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        read += page.len() as u64;
    }
    let read_time = started.elapsed();
    log.close().await;

    Ok(Figures {
        bench: "append",
        engine: db.engine.to_string(),
        append_1w_eps: append_1w,
        insert_1w_rps: insert_1w,
        ratio_1w: append_1w / insert_1w,
        append_8w_eps: append_8w,
        insert_8w_rps: insert_8w,
        ratio_8w: append_8w / insert_8w,
        append_batch10_eps: append_batch10,
        read_all_eps: per_second(read, read_time),
        read_events: read as u32,
        read_seconds: read_time.as_secs_f64(),
    })
}

fn print_table(figures: &Figures, args: &AppendBenchArgs) {
    let settings = match figures.engine.as_str() {
        "sqlite" => "WAL, synchronous=FULL",
        _ => "synchronous_commit=on",
    };
    println!(
        "append benchmark: {} ({settings}); {} appends with 1 writer, {} with {WRITERS}; best of {ROUNDS} rounds",
        figures.engine,
        args.appends,
        args.appends * 2
    );
    println!(
        "                   {:>16}   {:>16}   {:>6}",
        "Lodge append", "plain INSERT", "ratio"
    );
    println!(
        "  1 writer         {:>9} ev/s   {:>9} rows/s   {:>6.2}",
        grouped(figures.append_1w_eps),
        grouped(figures.insert_1w_rps),
        figures.ratio_1w
    );
    println!(
        "  {WRITERS} writers        {:>9} ev/s   {:>9} rows/s   {:>6.2}",
        grouped(figures.append_8w_eps),
        grouped(figures.insert_8w_rps),
        figures.ratio_8w
    );
    println!("  batches of 10    {:>9} ev/s", grouped(figures.append_batch10_eps));
    println!(
        "  read_all         {:>9} ev/s   ({} events in {:.2} s)",
        grouped(figures.read_all_eps),
        grouped(figures.read_events as f64),
        figures.read_seconds
    );
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    println!("  target: 1-writer ratio >= 0.50: {}", verdict(figures.ratio_1w >= 0.5));
    if figures.engine == "postgres" {
        println!(
            "  target: {WRITERS} writers >= 5,000 events/s: {}",
            verdict(figures.append_8w_eps >= 5_000.0)
        );
    }
    println!();
}

pub async fn run(args: &AppendBenchArgs) -> anyhow::Result<ExitCode> {
    let results = super::on_each_engine(args.only, |db| async move {
        let measured = measure(&db, args).await;
        (db, measured)
    })
    .await?;
    super::print_results(&results, args.json, |figures| print_table(figures, args))?;
    Ok(ExitCode::SUCCESS)
}
