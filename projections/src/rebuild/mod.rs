//! Rebuilding read models without downtime (blue/green). The projections being rebuilt get a new
//! generation of tables, filled while the live generation keeps serving:
//!
//! 1. every invite stream is rendered once, in stream order, and loaded a page per transaction
//!    (resumable from the last stream done) into tables whose keys and indexes are built once they
//!    are full (docs/decisions/0015);
//! 2. the log is followed from its settled head as it was when the rebuild began, until the new
//!    generation has caught up;
//! 3. in one transaction the views are pointed at the new generation and the projector's checkpoint
//!    moved to where the rebuild got; the old tables are dropped after.
//!
//! A live projector checks its generation at the start of every batch, so it follows the switch.
//! Rebuilds render from histories like projectors do, and never send anything: the notifier keeps
//! its own checkpoint and is not a projection.

mod loader;
mod pipeline;
mod plan;

use std::time::{Duration, Instant};

use chrono::Utc;
use lodge_eventlog::{EventLog, LogError, Position, StreamId};
use tokio_util::sync::CancellationToken;

use lodge_store::on;

use crate::error::ProjectionError;
use crate::history::{InviteHistory, Touched};
use crate::projection::{DynProjection, Generation};
use crate::store::ReadStore;
use crate::tables;
use loader::{Loader, load_page};
use pipeline::Pipeline;
use plan::{Phase, Plan, forget_plan, prepare, save_plan};

/// Events read per page, and so rendered per transaction, while every stream is rendered.
const PAGE_EVENTS: usize = 5_000;
/// The catch-up is also over once the log has had nothing new for this long (an event not yet
/// settled, behind an open transaction, leaves the head out of reach for a moment).
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
    progress: impl FnMut(Progress),
) -> Result<RebuildOutcome, ProjectionError> {
    let started = Instant::now();
    for projection in projections {
        store.register_dyn(*projection).await?;
    }
    let (targets, plan, resumed) = prepare(log, store, projections).await?;
    let mut run = Run {
        log,
        store,
        targets,
        plan,
        shutdown,
        progress,
        done: Done::default(),
    };
    if run.plan.phase == Phase::Streams && !run.every_stream().await? {
        return Ok(run.done.interrupted());
    }
    tracing::debug!(elapsed = ?started.elapsed(), "rebuild rendered every stream");
    if !run.catch_up().await? {
        return Ok(run.done.interrupted());
    }
    tracing::debug!(elapsed = ?started.elapsed(), caught_up = run.done.caught_up, "rebuild caught up");
    (run.progress)(Progress::Switching);
    let switched = switch(store, &run.targets, &run.plan).await?;
    Ok(RebuildOutcome::Done(RebuildReport {
        switched,
        streams: run.done.streams,
        events: run.done.events,
        caught_up: run.done.caught_up,
        resumed,
        elapsed: started.elapsed(),
    }))
}

/// How much a rebuild has done so far.
#[derive(Debug, Default)]
struct Done {
    streams: u64,
    events: u64,
    caught_up: u64,
}

impl Done {
    fn interrupted(&self) -> RebuildOutcome {
        RebuildOutcome::Interrupted {
            streams: self.streams,
            events: self.events,
        }
    }
}

/// A rebuild under way: what it rebuilds into, where it stands, what it has done.
struct Run<'a, P> {
    log: &'a EventLog,
    store: &'a ReadStore,
    targets: Vec<(&'static dyn DynProjection, Generation)>,
    plan: Plan,
    shutdown: &'a CancellationToken,
    progress: P,
    done: Done,
}

impl<P: FnMut(Progress)> Run<'_, P> {
    /// The first phase: every stream, once, a page at a time, read and rendered ahead of the page
    /// being loaded; then the new tables' indexes. False if interrupted.
    async fn every_stream(&mut self) -> Result<bool, ProjectionError> {
        let total = self.log.summary().await?.events;
        let cursor = self.plan.cursor.as_deref().map(StreamId::parse).transpose()?;
        let mut pipeline = Pipeline::start(self.log.clone(), cursor, self.store.engine(), self.targets.to_vec());
        let mut loader = Loader::start(self.store).await?;
        while let Some(page) = pipeline.next().await? {
            self.plan.cursor = Some(page.last_stream.to_string());
            loader.keep_wal_small().await?;
            load_page(
                self.store,
                &mut loader.connection,
                &self.targets,
                page.loads,
                &self.plan,
            )
            .await?;
            self.done.streams += page.streams;
            self.done.events += page.events;
            (self.progress)(Progress::Streams {
                events: self.done.events,
                total,
            });
            if self.shutdown.is_cancelled() {
                pipeline.stop();
                return Ok(false);
            }
        }
        // Each table's indexes in a transaction of their own, so that the write-ahead log starts again
        // between them too; IF NOT EXISTS lets an interrupted rebuild resume here. The plan moves on
        // once they are all built.
        for (projection, generation) in &self.targets {
            for table in projection.tables() {
                loader.keep_wal_small().await?;
                let mut tx = self.store.store().begin_write_on(&mut loader.connection).await?;
                tables::create_indexes(&mut tx, self.store.engine(), std::slice::from_ref(table), *generation).await?;
                tx.commit().await?;
            }
        }
        self.plan.phase = Phase::CatchUp;
        self.plan.cursor = None;
        let mut tx = self.store.store().begin_write_on(&mut loader.connection).await?;
        save_plan(&mut tx, &self.targets, &self.plan).await?;
        tx.commit().await?;
        loader.finish(self.store).await?;
        Ok(true)
    }

    /// The second phase: what was appended since the rebuild began, until everything settled now
    /// is in (what comes later is the live projector's, after the switch). False if interrupted.
    async fn catch_up(&mut self) -> Result<bool, ProjectionError> {
        let mut subscription = self.log.subscribe(Position(self.plan.position));
        loop {
            if self.shutdown.is_cancelled() {
                return Ok(false);
            }
            if self
                .log
                .has_reached(Position(self.plan.position), self.log.settled_head().await?)
                .await?
            {
                return Ok(true);
            }
            let batch = match tokio::time::timeout(QUIET, subscription.next_batch(crate::runtime::BATCH)).await {
                Err(_) => return Ok(true),
                Ok(batch) => batch?,
            };
            let mut touched = Vec::new();
            for (stream, (first, _)) in crate::runtime::versions_in(&batch) {
                if let Some(history) = InviteHistory::load(self.log, stream).await.map_err(unreadable)? {
                    touched.push(Touched {
                        history,
                        first_in_batch: first,
                    });
                }
            }
            self.plan.position = batch.last().expect("a batch has events").position.0;
            write_chunk(self.store, &self.targets, &touched, &self.plan).await?;
            self.done.caught_up += batch.len() as u64;
            (self.progress)(Progress::CatchingUp {
                events: self.done.caught_up,
            });
        }
    }
}

/// Writes the touched invites into every target generation and saves the plan, in one transaction.
async fn write_chunk(
    store: &ReadStore,
    targets: &[(&dyn DynProjection, Generation)],
    touched: &[Touched],
    plan: &Plan,
) -> Result<(), ProjectionError> {
    let mut tx = store.store().begin_write().await?;
    for (projection, generation) in targets {
        for load in projection.writes_dyn(store.engine(), *generation, touched)? {
            load.run(&mut tx).await?;
        }
    }
    save_plan(&mut tx, targets, plan).await?;
    tx.commit().await?;
    Ok(())
}

/// The third: the views pointed at the new generation and each projector's checkpoint moved to
/// where the rebuild got, in one transaction; then the old tables dropped.
async fn switch(
    store: &ReadStore,
    targets: &[(&'static dyn DynProjection, Generation)],
    plan: &Plan,
) -> Result<Vec<(&'static str, Generation, Generation)>, ProjectionError> {
    let mut tx = store.store().begin_write().await?;
    let mut switched = Vec::new();
    for (projection, target) in targets {
        let live = store
            .live_generation(&mut tx, projection.name())
            .await?
            .expect("registered above");
        tables::point_views_at(&mut tx, projection.tables(), *target).await?;
        on!(tx, |c| {
            sqlx::query(
                "UPDATE lodge_projections SET generation = $2, position = $3, failed_position = NULL, error = NULL,
                 updated_at = $4 WHERE name = $1",
            )
            .bind(projection.name())
            .bind(target.0)
            .bind(plan.position)
            .bind(Utc::now().to_rfc3339())
            .execute(c)
            .await
            .map(|_| ())
        })?;
        forget_plan(&mut tx, projection.name()).await?;
        switched.push((projection.name(), live, *target));
    }
    tx.commit().await?;
    let mut tx = store.store().begin_write().await?;
    for ((projection, _), (_, old, _)) in targets.iter().zip(&switched) {
        tables::drop_tables(&mut tx, projection.tables(), *old).await?;
    }
    tx.commit().await?;
    Ok(switched)
}
