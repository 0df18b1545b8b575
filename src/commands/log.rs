//! `lodge log`: events as JSON lines, for people (with jq) and for scripts.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use lodge_eventlog::{Metadata, Position, RecordedEvent, StreamId};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::cli::LogArgs;
use crate::config::Config;

const PAGE: usize = 1_000;

#[derive(Serialize)]
struct EventLine<'a> {
    position: i64,
    stream_id: &'a str,
    stream_version: u64,
    event_id: Uuid,
    event_type: &'a str,
    schema_version: u32,
    recorded_at: DateTime<Utc>,
    metadata: &'a Metadata,
    /// The payload exactly as stored.
    data: &'a RawValue,
    hash: String,
}

fn write_event(out: &mut impl Write, event: &RecordedEvent) -> anyhow::Result<()> {
    let line = EventLine {
        position: event.position.0,
        stream_id: event.stream_id.as_str(),
        stream_version: event.stream_version,
        event_id: event.event_id,
        event_type: &event.event_type,
        schema_version: event.schema_version,
        recorded_at: event.recorded_at,
        metadata: &event.metadata,
        data: serde_json::from_str(&event.data)?,
        hash: hex::encode(event.hash),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    Ok(())
}

pub async fn run(config: &Config, args: &LogArgs) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    let mut out = std::io::stdout().lock();
    let limit = args.limit.unwrap_or(usize::MAX);

    if let Some(stream) = &args.stream {
        let events = log.read_stream(&StreamId::parse(stream)?).await?;
        for event in events.iter().take(limit) {
            write_event(&mut out, event)?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut printed = 0;
    if args.follow {
        let mut subscription = log.subscribe(Position(args.after));
        while printed < limit {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                event = subscription.next() => {
                    write_event(&mut out, &event?)?;
                    out.flush()?;
                    printed += 1;
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut after = Position(args.after);
    while printed < limit {
        let page = log.read_all(after, PAGE.min(limit - printed)).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in &page {
            write_event(&mut out, event)?;
        }
        printed += page.len();
    }
    Ok(ExitCode::SUCCESS)
}
