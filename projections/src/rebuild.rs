//! Rebuilding read models without downtime (blue/green). The projections being rebuilt get a new
//! generation of tables, filled while the live generation keeps serving:
//!
//! 1. every invite stream is rendered once, in stream order, a chunk per transaction (resumable
//!    from the last stream done);
//! 2. the log is followed from its settled head as it was when the rebuild began, until the new
//!    generation has caught up;
//! 3. in one transaction the views are pointed at the new generation and the projector's checkpoint
//!    moved to where the rebuild got; the old tables are dropped after.
//!
//! A live projector checks its generation at the start of every batch, so it follows the switch.
//! Rebuilds render from histories like projectors do, and never send anything: the notifier keeps
//! its own checkpoint and is not a projection.

use std::time::{Duration, Instant};

use chrono::Utc;
use lodge_eventlog::{EventLog, LogError, Position, StreamId};
use sqlx::{AnyConnection, Row};
use tokio_util::sync::CancellationToken;

use crate::error::ProjectionError;
use crate::history::InviteHistory;
use crate::projection::{DynProjection, Generation};
use crate::store::{self, ReadStore};

/// Streams listed per query.
const STREAM_PAGE: usize = 1_000;
/// A transaction closes once it has rendered this many events.
const EVENTS_PER_TRANSACTION: usize = 5_000;
/// The catch-up is over once the log has had nothing new for this long.
const QUIET: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Rendering every stream: events rendered so far, out of about `total`.
    Streams {
        events: u64,
        total: u64,
    },
    /// Following the log since the rebuild began.
    CatchingUp {
        events: u64,
    },
    Switching,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// Each projection rebuilt, with its old and new generation.
    pub switched: Vec<(&'static str, Generation, Generation)>,
    pub streams: u64,
    pub events: u64,
    pub caught_up: u64,
    pub resumed: bool,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildOutcome {
    Done(RebuildReport),
    /// Stopped on request; running the same rebuild again resumes it.
    Interrupted {
        streams: u64,
        events: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    phase: String,
    cursor: Option<String>,
    position: i64,
}

async fn load_plan(store: &ReadStore, name: &str) -> Result<Option<(Generation, Plan)>, ProjectionError> {
    let row =
        sqlx::query("SELECT generation, phase, stream_cursor, position FROM lodge_rebuilds WHERE projection = $1")
            .bind(name)
            .fetch_optional(store.pool())
            .await?;
    row.map(|row| {
        Ok((
            Generation(row.try_get("generation")?),
            Plan {
                phase: row.try_get("phase")?,
                cursor: row.try_get("stream_cursor")?,
                position: row.try_get("position")?,
            },
        ))
    })
    .transpose()
}

async fn save_plan(
    connection: &mut AnyConnection,
    projections: &[(&dyn DynProjection, Generation)],
    plan: &Plan,
) -> Result<(), ProjectionError> {
    for (projection, _) in projections {
        sqlx::query("UPDATE lodge_rebuilds SET phase = $2, stream_cursor = $3, position = $4 WHERE projection = $1")
            .bind(projection.name())
            .bind(plan.phase.clone())
            .bind(plan.cursor.clone())
            .bind(plan.position)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// Finds where the rebuild of `projections` stands: the same unfinished plan for all of them is
/// resumed; otherwise each starts afresh in the generation after its live one.
async fn prepare(
    log: &EventLog,
    store: &ReadStore,
    projections: &[&'static dyn DynProjection],
) -> Result<(Vec<(&'static dyn DynProjection, Generation)>, Plan, bool), ProjectionError> {
    let mut plans = Vec::new();
    for projection in projections {
        plans.push(load_plan(store, projection.name()).await?);
    }
    if let Some(Some((_, first))) = plans.first()
        && plans.iter().all(|p| p.as_ref().is_some_and(|(_, plan)| plan == first))
    {
        let targets = projections
            .iter()
            .zip(&plans)
            .map(|(p, plan)| (*p, plan.as_ref().expect("checked above").0))
            .collect();
        return Ok((targets, first.clone(), true));
    }
    let plan = Plan {
        phase: "streams".into(),
        cursor: None,
        position: log.settled_head().await?.0,
    };
    let mut tx = store.begin_write().await?;
    let mut targets = Vec::new();
    for projection in projections {
        let live = store
            .live_generation(&mut tx, projection.name())
            .await?
            .ok_or_else(|| ProjectionError::Malformed(format!("projection {} is not registered", projection.name())))?;
        let target = Generation(live.0 + 1);
        // Leftovers of an abandoned rebuild into the same generation go first.
        store::drop_tables(&mut tx, projection.tables(), target).await?;
        store::create_tables(&mut tx, projection.tables(), target).await?;
        sqlx::query("DELETE FROM lodge_rebuilds WHERE projection = $1")
            .bind(projection.name())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO lodge_rebuilds (projection, generation, phase, stream_cursor, position, started_at)
             VALUES ($1, $2, $3, NULL, $4, $5)",
        )
        .bind(projection.name())
        .bind(target.0)
        .bind(plan.phase.clone())
        .bind(plan.position)
        .bind(Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
        targets.push((*projection, target));
    }
    tx.commit().await?;
    Ok((targets, plan, false))
}

/// Renders histories into every target generation and saves the plan, in one transaction.
async fn write_chunk(
    store: &ReadStore,
    targets: &[(&dyn DynProjection, Generation)],
    histories: &[InviteHistory],
    plan: &Plan,
) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write().await?;
    for history in histories {
        for (projection, generation) in targets {
            projection.write_dyn(&mut tx, *generation, history).await?;
        }
    }
    save_plan(&mut tx, targets, plan).await?;
    tx.commit().await?;
    Ok(())
}

fn unreadable(error: LogError) -> ProjectionError {
    match error {
        LogError::Decode { position, source } => ProjectionError::Unhandled {
            position,
            reason: source.to_string(),
        },
        other => other.into(),
    }
}

/// Rebuilds `projections` together (each invite's history is read once for all of them).
pub async fn rebuild(
    log: &EventLog,
    store: &ReadStore,
    projections: &[&'static dyn DynProjection],
    shutdown: &CancellationToken,
    mut progress: impl FnMut(Progress),
) -> Result<RebuildOutcome, ProjectionError> {
    let started = Instant::now();
    for projection in projections {
        store.register_dyn(*projection).await?;
    }
    let (targets, mut plan, resumed) = prepare(log, store, projections).await?;
    let total = log.summary().await?.events;
    let (mut streams, mut events) = (0u64, 0u64);

    // 1. Every stream, once.
    while plan.phase == "streams" {
        let cursor = plan.cursor.as_deref().map(StreamId::parse).transpose()?;
        let page = log.streams(cursor.as_ref(), STREAM_PAGE).await?;
        let Some(last) = page.last() else {
            plan.phase = "catch_up".into();
            plan.cursor = None;
            let mut tx = store.begin_write().await?;
            save_plan(&mut tx, &targets, &plan).await?;
            tx.commit().await?;
            break;
        };
        let mut chunk = Vec::new();
        let mut chunk_events = 0;
        for (i, stream) in page.iter().enumerate() {
            if let Some(history) = InviteHistory::load(log, stream).await.map_err(unreadable)? {
                chunk_events += history.events.len();
                chunk.push(history);
            }
            let end_of_page = i + 1 == page.len();
            if chunk_events >= EVENTS_PER_TRANSACTION || end_of_page {
                plan.cursor = Some(if end_of_page { last } else { stream }.to_string());
                write_chunk(store, &targets, &chunk, &plan).await?;
                streams += chunk.len() as u64;
                events += chunk_events as u64;
                progress(Progress::Streams { events, total });
                chunk.clear();
                chunk_events = 0;
                if shutdown.is_cancelled() {
                    return Ok(RebuildOutcome::Interrupted { streams, events });
                }
            }
        }
    }

    // 2. What was appended since the rebuild began.
    let mut subscription = log.subscribe(Position(plan.position));
    let mut caught_up = 0u64;
    loop {
        if shutdown.is_cancelled() {
            return Ok(RebuildOutcome::Interrupted { streams, events });
        }
        let batch = match tokio::time::timeout(QUIET, subscription.next_batch(crate::runtime::BATCH)).await {
            Err(_) => break,
            Ok(batch) => batch?,
        };
        let mut touched: Vec<&StreamId> = batch.iter().map(|e| &e.stream_id).collect();
        touched.sort();
        touched.dedup();
        let mut histories = Vec::new();
        for stream in touched {
            if let Some(history) = InviteHistory::load(log, stream).await.map_err(unreadable)? {
                histories.push(history);
            }
        }
        plan.position = batch.last().expect("a batch has events").position.0;
        write_chunk(store, &targets, &histories, &plan).await?;
        caught_up += batch.len() as u64;
        progress(Progress::CatchingUp { events: caught_up });
    }

    // 3. The switch, then the old tables.
    progress(Progress::Switching);
    let mut tx = store.begin_write().await?;
    let mut switched = Vec::new();
    for (projection, target) in &targets {
        let live = store
            .live_generation(&mut tx, projection.name())
            .await?
            .expect("registered above");
        store::point_views_at(&mut tx, projection.tables(), *target).await?;
        sqlx::query(
            "UPDATE lodge_projections SET generation = $2, position = $3, failed_position = NULL, error = NULL,
                 updated_at = $4 WHERE name = $1",
        )
        .bind(projection.name())
        .bind(target.0)
        .bind(plan.position)
        .bind(Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM lodge_rebuilds WHERE projection = $1")
            .bind(projection.name())
            .execute(&mut *tx)
            .await?;
        switched.push((projection.name(), live, *target));
    }
    tx.commit().await?;
    let mut tx = store.begin_write().await?;
    for ((projection, _), (_, old, _)) in targets.iter().zip(&switched) {
        store::drop_tables(&mut tx, projection.tables(), *old).await?;
    }
    tx.commit().await?;

    Ok(RebuildOutcome::Done(RebuildReport {
        switched,
        streams,
        events,
        caught_up,
        resumed,
        elapsed: started.elapsed(),
    }))
}
