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

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use lodge_eventlog::{Engine, EventLog, LogError, Position, RecordedEvent, StreamId};
use sqlx::{AnyConnection, Executor, Row};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::error::ProjectionError;
use crate::history::{InviteHistory, Touched};
use crate::load::Load;
use crate::projection::{DynProjection, Generation};
use crate::store::{self, ReadStore};

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
        let targets: Vec<(&'static dyn DynProjection, Generation)> = projections
            .iter()
            .zip(&plans)
            .map(|(p, plan)| (*p, plan.as_ref().expect("checked above").0))
            .collect();
        // A rebuild an earlier Lodge began has no tables of its own for what it did not know of.
        let mut tx = store.begin_write().await?;
        for (projection, generation) in &targets {
            store::add_missing_tables(&mut tx, store.engine(), projection.tables(), *generation).await?;
        }
        tx.commit().await?;
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
        store::create_tables(&mut tx, store.engine(), projection.tables(), target).await?;
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

/// Writes the touched invites into every target generation and saves the plan, in one transaction.
async fn write_chunk(
    store: &ReadStore,
    targets: &[(&dyn DynProjection, Generation)],
    touched: &[Touched],
    plan: &Plan,
) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write().await?;
    for (projection, generation) in targets {
        for load in projection.writes_dyn(store.engine(), *generation, touched)? {
            load.run(&mut tx).await?;
        }
    }
    save_plan(&mut tx, targets, plan).await?;
    tx.commit().await?;
    Ok(())
}

/// Loads a page's rows into the target generations and saves the plan, in one transaction on the
/// loader's connection.
async fn load_page(
    store: &ReadStore,
    loader: &mut AnyConnection,
    targets: &[(&dyn DynProjection, Generation)],
    loads: Vec<Load>,
    plan: &Plan,
) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write_on(loader).await?;
    for load in loads {
        load.run(&mut tx).await?;
    }
    save_plan(&mut tx, targets, plan).await?;
    tx.commit().await?;
    Ok(())
}

/// Whole streams read in one go.
struct Read {
    streams: Vec<Vec<RecordedEvent>>,
    last_stream: StreamId,
}

/// Their rows for every target, ready to load.
struct Page {
    loads: Vec<Load>,
    last_stream: StreamId,
    streams: u64,
    events: u64,
}

/// The streams after `after`, whole, about a page of events of them; None when there are no more.
async fn read_page(log: &EventLog, after: Option<&StreamId>) -> Result<Option<Read>, ProjectionError> {
    let read = log.read_by_stream(after, PAGE_EVENTS).await?;
    if read.is_empty() {
        return Ok(None);
    }
    let full = read.len() == PAGE_EVENTS;
    let mut streams: Vec<Vec<RecordedEvent>> = Vec::new();
    for event in read {
        match streams.last_mut() {
            Some(stream) if stream[0].stream_id == event.stream_id => stream.push(event),
            _ => streams.push(vec![event]),
        }
    }
    if full {
        if streams.len() > 1 {
            // The last stream may be cut short: the next page starts with it.
            streams.pop();
        } else {
            // One stream longer than a page: read it whole.
            let id = streams[0][0].stream_id.clone();
            streams[0] = log.read_stream(&id).await?;
        }
    }
    let last_stream = streams.last().expect("at least one stream")[0].stream_id.clone();
    Ok(Some(Read { streams, last_stream }))
}

/// Decodes and renders a page's streams into rows for every target.
fn render_page(
    read: Read,
    engine: Engine,
    targets: &[(&'static dyn DynProjection, Generation)],
) -> Result<Page, ProjectionError> {
    let mut page = Page {
        loads: Vec::new(),
        last_stream: read.last_stream,
        streams: 0,
        events: 0,
    };
    let mut histories = Vec::with_capacity(read.streams.len());
    for stream in read.streams {
        page.events += stream.len() as u64;
        if let Some(invite) = stream[0].stream_id.invite_id() {
            histories.push(InviteHistory::decode(invite, &stream).map_err(unreadable)?);
            page.streams += 1;
        }
    }
    for (projection, generation) in targets {
        page.loads
            .extend(projection.loads_dyn(engine, *generation, &histories)?);
    }
    Ok(page)
}

/// Reading, rendering and loading pages overlap: while one page is loaded, the next is rendered
/// and the one after read, each stage a page ahead of the next at most. The stages hand pages on
/// through channels; a stage that fails sends its error on, and a stage whose consumer has gone
/// (an interrupted rebuild) stops.
struct Pipeline {
    pages: mpsc::Receiver<Result<Page, ProjectionError>>,
    reader: JoinHandle<()>,
    renderer: JoinHandle<()>,
}

impl Pipeline {
    fn start(
        log: EventLog,
        after: Option<StreamId>,
        engine: Engine,
        targets: Vec<(&'static dyn DynProjection, Generation)>,
    ) -> Self {
        let (reads_sent, mut reads) = mpsc::channel(1);
        let reader = tokio::spawn(async move {
            let mut after = after;
            loop {
                let read = read_page(&log, after.as_ref()).await;
                let (next, last) = match read {
                    Ok(Some(read)) => (Some(read.last_stream.clone()), Ok(read)),
                    Ok(None) => return,
                    Err(error) => (None, Err(error)),
                };
                if reads_sent.send(last).await.is_err() || next.is_none() {
                    return;
                }
                after = next;
            }
        });
        let (pages_sent, pages) = mpsc::channel(1);
        // Decoding and rendering are CPU work: a thread of their own, off the async workers.
        let renderer = tokio::task::spawn_blocking(move || {
            while let Some(read) = reads.blocking_recv() {
                let page = read.and_then(|read| render_page(read, engine, &targets));
                let failed = page.is_err();
                if pages_sent.blocking_send(page).is_err() || failed {
                    return;
                }
            }
        });
        Self {
            pages,
            reader,
            renderer,
        }
    }

    /// The next page, or None after the last.
    async fn next(&mut self) -> Result<Option<Page>, ProjectionError> {
        if let Some(page) = self.pages.recv().await {
            return page.map(Some);
        }
        // No more pages: because the log has none, or because a stage died.
        for stage in [&mut self.reader, &mut self.renderer] {
            stage.await?;
        }
        Ok(None)
    }

    fn stop(self) {
        self.reader.abort();
    }
}

/// The connection a rebuild loads its new tables through. On SQLite, the pages it writes go to the
/// write-ahead log first and must be copied into the database file; by default the committing
/// connection does that copying, so the loader, the step the rebuild waits for, also did all of it.
/// Here the loader never checkpoints by itself: another task copies what has been committed every
/// 100 ms, on the other core, and the rebuild ends with the log copied in (docs/decisions/0019).
///
/// The log must also start again from its beginning now and then. SQLite does that at a commit
/// only when every frame before it has been copied; with the loader committing page after page,
/// that never happened, so the log grew by the whole rebuild (800 MB for a million events), and
/// every frame went to a new part of the file, which the kernel zeroes before writing (a tenth of
/// the rebuild's CPU). So once the log passes [`WAL_RESTART_FRAMES`], the loader copies the rest
/// itself before its next page, and that page's commit writes from the log's start, over pages
/// the kernel already holds (docs/decisions/0021).
struct Loader {
    connection: AnyConnection,
    /// SQLite: the checkpoint task, which stops when its guard drops (an interrupted or failed
    /// rebuild included).
    checkpoints: Option<(DropGuard, JoinHandle<()>)>,
    /// SQLite: the frames in the write-ahead log at the checkpoint task's last pass.
    wal_frames: Arc<AtomicI64>,
    /// How many frames the log may hold before the loader lets it start again.
    restart_after_frames: i64,
}

const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// About 32 MiB of 4 KiB pages: a few pages of rows, small enough to stay in the page cache.
const WAL_RESTART_FRAMES: i64 = 8_192;
/// The loader's page cache, in KiB (SQLite's default is 2 MiB). A page of rows dirties more
/// B-tree pages than that, so SQLite wrote some to the log before the commit and again in it.
const LOADER_CACHE_KIB: i64 = 16_384;

/// What `PRAGMA wal_checkpoint` says: whether it was kept from finishing, the frames in the log,
/// and the frames copied.
type CheckpointOutcome = (i64, i64, i64);

impl Loader {
    async fn start(store: &ReadStore) -> Result<Self, ProjectionError> {
        Self::start_restarting_after(store, WAL_RESTART_FRAMES).await
    }

    async fn start_restarting_after(store: &ReadStore, restart_after_frames: i64) -> Result<Self, ProjectionError> {
        let mut connection = store.pool().acquire().await?.detach();
        let wal_frames = Arc::new(AtomicI64::new(0));
        if store.engine() != Engine::Sqlite {
            return Ok(Self {
                connection,
                checkpoints: None,
                wal_frames,
                restart_after_frames,
            });
        }
        // This connection's own settings, gone when it closes.
        connection
            .execute(sqlx::AssertSqlSafe(format!(
                "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -{LOADER_CACHE_KIB}"
            )))
            .await?;
        let stop = CancellationToken::new();
        let (pool, stopped, frames) = (store.pool().clone(), stop.clone(), wal_frames.clone());
        let task = tokio::spawn(async move {
            while !stopped.is_cancelled() {
                tokio::time::sleep(CHECKPOINT_EVERY).await;
                // PASSIVE never waits for the writer; what it cannot copy yet, the next pass does.
                match sqlx::query_as::<_, CheckpointOutcome>("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&pool)
                    .await
                {
                    Ok((_, log, _)) => frames.store(log, Ordering::Relaxed),
                    Err(error) => tracing::warn!(%error, "checkpointing during a rebuild"),
                }
            }
        });
        Ok(Self {
            connection,
            checkpoints: Some((stop.drop_guard(), task)),
            wal_frames,
            restart_after_frames,
        })
    }

    /// SQLite: once the write-ahead log has grown past its limit, copies what the
    /// checkpoint task has not yet, so that the next commit starts the log again. PASSIVE never
    /// waits for readers or writers: if a reader still needs the log's frames, the log simply goes
    /// on growing until a later page.
    async fn keep_wal_small(&mut self) -> Result<(), ProjectionError> {
        if self.checkpoints.is_none() || self.wal_frames.load(Ordering::Relaxed) <= self.restart_after_frames {
            return Ok(());
        }
        let (_, log, copied): CheckpointOutcome = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut self.connection)
            .await?;
        if log == copied {
            self.wal_frames.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Stops the checkpoints and copies in what is left, so that no later writer inherits the
    /// rebuild's backlog with its commit.
    async fn finish(self, store: &ReadStore) -> Result<(), ProjectionError> {
        if let Some((stop, task)) = self.checkpoints {
            drop(stop);
            let _ = task.await;
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(store.pool())
                .await?;
        }
        Ok(())
    }
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

    // 1. Every stream, once, a page at a time, read and rendered ahead of the page being loaded.
    if plan.phase == "streams" {
        let cursor = plan.cursor.as_deref().map(StreamId::parse).transpose()?;
        let mut pipeline = Pipeline::start(log.clone(), cursor, store.engine(), targets.clone());
        let mut loader = Loader::start(store).await?;
        loop {
            let Some(page) = pipeline.next().await? else {
                tracing::debug!(elapsed = ?started.elapsed(), events, "rebuild loaded every stream");
                // Each table's indexes in a transaction of their own, so that the write-ahead log
                // starts again between them too; IF NOT EXISTS lets an interrupted rebuild resume
                // here. The plan moves on once they are all built.
                for (projection, generation) in &targets {
                    for table in projection.tables() {
                        loader.keep_wal_small().await?;
                        let mut tx = store.begin_write_on(&mut loader.connection).await?;
                        store::create_indexes(&mut tx, store.engine(), std::slice::from_ref(table), *generation)
                            .await?;
                        tx.commit().await?;
                    }
                }
                tracing::debug!(elapsed = ?started.elapsed(), "rebuild built its indexes");
                plan.phase = "catch_up".into();
                plan.cursor = None;
                let mut tx = store.begin_write_on(&mut loader.connection).await?;
                save_plan(&mut tx, &targets, &plan).await?;
                tx.commit().await?;
                loader.finish(store).await?;
                break;
            };
            plan.cursor = Some(page.last_stream.to_string());
            loader.keep_wal_small().await?;
            load_page(store, &mut loader.connection, &targets, page.loads, &plan).await?;
            streams += page.streams;
            events += page.events;
            progress(Progress::Streams { events, total });
            if shutdown.is_cancelled() {
                pipeline.stop();
                return Ok(RebuildOutcome::Interrupted { streams, events });
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
        // Caught up with everything settled now: what comes later is the live projector's, after
        // the switch.
        if log
            .has_reached(Position(plan.position), log.settled_head().await?)
            .await?
        {
            break;
        }
        let batch = match tokio::time::timeout(QUIET, subscription.next_batch(crate::runtime::BATCH)).await {
            Err(_) => break,
            Ok(batch) => batch?,
        };
        let mut touched = Vec::new();
        for (stream, (first, _)) in crate::runtime::versions_in(&batch) {
            if let Some(history) = InviteHistory::load(log, stream).await.map_err(unreadable)? {
                touched.push(Touched {
                    history,
                    first_in_batch: first,
                });
            }
        }
        plan.position = batch.last().expect("a batch has events").position.0;
        write_chunk(store, &targets, &touched, &plan).await?;
        caught_up += batch.len() as u64;
        progress(Progress::CatchingUp { events: caught_up });
    }

    // 3. The switch, then the old tables.
    tracing::debug!(elapsed = ?started.elapsed(), caught_up, "rebuild caught up");
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

#[cfg(test)]
mod tests {
    use lodge_eventlog::testing::TestDatabase;

    use super::*;

    /// Loads `pages` transactions of about a MiB each into a table, as a rebuild's loader does,
    /// and returns the size of the write-ahead log afterwards.
    async fn wal_after_loading(keep_small: bool, pages: usize) -> u64 {
        let db = TestDatabase::sqlite();
        let log = db.log().await;
        let store = ReadStore::connect(db.url()).await.unwrap();
        sqlx::query("CREATE TABLE rows (doc TEXT NOT NULL)")
            .execute(store.pool())
            .await
            .unwrap();
        // 256 frames: 1 MiB.
        let mut loader = Loader::start_restarting_after(&store, 256).await.unwrap();
        let doc = "x".repeat(4_000);
        for _ in 0..pages {
            if keep_small {
                loader.keep_wal_small().await.unwrap();
            }
            let mut tx = store.begin_write_on(&mut loader.connection).await.unwrap();
            for _ in 0..256 {
                sqlx::query("INSERT INTO rows (doc) VALUES ($1)")
                    .bind(doc.clone())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            // Back to back, as a rebuild's loader commits while the next page is rendered.
            tx.commit().await.unwrap();
        }
        let path = db.url().strip_prefix("sqlite://").unwrap().to_owned() + "-wal";
        let size = std::fs::metadata(path).unwrap().len();
        loader.finish(&store).await.unwrap();
        log.close().await;
        size
    }

    #[tokio::test]
    async fn the_loader_keeps_the_write_ahead_log_from_growing_with_the_rebuild() {
        const PAGES: usize = 40;
        let grown = wal_after_loading(false, PAGES).await;
        assert!(
            grown > PAGES as u64 * 1_000_000,
            "without the loader's checkpoints the log holds every page: {grown} bytes"
        );
        // The limit is 1 MiB; the log may pass it by what is committed before the checkpoint task
        // next looks.
        let kept = wal_after_loading(true, PAGES).await;
        assert!(
            kept * 3 < grown,
            "the log starts again once past its limit: {kept} bytes after {PAGES} pages of 1 MiB, against {grown}"
        );
    }
}
