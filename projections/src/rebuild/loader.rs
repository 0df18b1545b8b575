//! The connection a rebuild loads through, and a page's load on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use lodge_eventlog::Engine;
use lodge_store::{Connection, execute_sql, on};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::plan::{Plan, save_plan};
use crate::error::ProjectionError;
use crate::load::Load;
use crate::projection::{DynProjection, Generation};
use crate::store::ReadStore;

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
pub(super) struct Loader {
    pub connection: Connection,
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
    pub async fn start(store: &ReadStore) -> Result<Self, ProjectionError> {
        Self::start_restarting_after(store, WAL_RESTART_FRAMES).await
    }

    async fn start_restarting_after(store: &ReadStore, restart_after_frames: i64) -> Result<Self, ProjectionError> {
        let mut connection = store.store().detached().await?;
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
        execute_sql(
            &mut connection,
            format!("PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -{LOADER_CACHE_KIB}"),
        )
        .await?;
        let stop = CancellationToken::new();
        let (pool, stopped, frames) = (store.store().clone(), stop.clone(), wal_frames.clone());
        let task = tokio::spawn(async move {
            while !stopped.is_cancelled() {
                tokio::time::sleep(CHECKPOINT_EVERY).await;
                // PASSIVE never waits for the writer; what it cannot copy yet, the next pass does.
                let checkpointed = on!(pool, |c| {
                    sqlx::query_as::<_, CheckpointOutcome>("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(c)
                        .await
                });
                match checkpointed {
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
    pub async fn keep_wal_small(&mut self) -> Result<(), ProjectionError> {
        if self.checkpoints.is_none() || self.wal_frames.load(Ordering::Relaxed) <= self.restart_after_frames {
            return Ok(());
        }
        let (_, log, copied): CheckpointOutcome = on!(self.connection, |c| {
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(c).await
        })?;
        if log == copied {
            self.wal_frames.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Stops the checkpoints and copies in what is left, so that no later writer inherits the
    /// rebuild's backlog with its commit.
    pub async fn finish(self, store: &ReadStore) -> Result<(), ProjectionError> {
        if let Some((stop, task)) = self.checkpoints {
            drop(stop);
            let _ = task.await;
            on!(store.store(), |c| {
                sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(c)
                    .await
                    .map(|_| ())
            })?;
        }
        Ok(())
    }
}

/// Loads a page's rows into the target generations and saves the plan, in one transaction on the
/// loader's connection.
pub(super) async fn load_page(
    store: &ReadStore,
    loader: &mut Connection,
    targets: &[(&dyn DynProjection, Generation)],
    loads: Vec<Load>,
    plan: &Plan,
) -> Result<(), ProjectionError> {
    let mut tx = store.store().begin_write_on(loader).await?;
    for load in loads {
        load.run(&mut tx).await?;
    }
    save_plan(&mut tx, targets, plan).await?;
    tx.commit().await?;
    Ok(())
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
        execute_sql(
            &mut store.store().detached().await.unwrap(),
            "CREATE TABLE rows (doc TEXT NOT NULL)",
        )
        .await
        .unwrap();
        // 256 frames: 1 MiB.
        let mut loader = Loader::start_restarting_after(&store, 256).await.unwrap();
        let doc = "x".repeat(4_000);
        for _ in 0..pages {
            if keep_small {
                loader.keep_wal_small().await.unwrap();
            }
            let mut tx = store.store().begin_write_on(&mut loader.connection).await.unwrap();
            for _ in 0..256 {
                on!(tx, |c| sqlx::query("INSERT INTO rows (doc) VALUES ($1)")
                    .bind(doc.clone())
                    .execute(c)
                    .await
                    .map(|_| ()))
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
