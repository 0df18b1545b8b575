//! What every handler can reach: the log (for commands), the read store (for queries), settings.

use std::sync::Arc;

use lodge_eventlog::{EventLog, LogError, Position};
use lodge_projections::ProjectionError;
use lodge_projections::ReadStore;
use lodge_store::Store;

use crate::blobs::BlobStore;
use crate::commands::StreamLocks;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::own_writes::{OwnWrites, Writer};
use crate::portal::cache::PortalCache;
use crate::settings::Settings;

/// Handed to every request: one reference count to bump, however much it holds.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

pub struct Services {
    pub log: EventLog,
    /// The read models: what queries read.
    pub read_models: ReadStore,
    /// The database beside the log, where the API keeps its own tables (tokens, sessions, view
    /// links, limits' slots): the read models' store.
    pub store: Store,
    pub settings: Settings,
    pub blobs: BlobStore,
    pub metrics: Metrics,
    pub stream_locks: StreamLocks,
    pub portal_cache: PortalCache,
    /// Which invite changed, for the console's live pages.
    pub live: crate::live::Live,
    /// Staff accounts (the team, console sessions) kept a moment in memory.
    pub accounts: Arc<crate::console::cache::AccountCache>,
    /// The console dashboard's default view, shared for a moment under load.
    pub dashboard: crate::console::dashboard_cache::DashboardCache,
    /// Cancelled when the server stops: long-lived responses (live pages) end with it.
    pub stopping: tokio_util::sync::CancellationToken,
    /// Each session's and staff token's last write, until the read models show it them.
    pub own_writes: OwnWrites,
    /// The firm's details now: the configuration's, or as an owner last saved them.
    pub firm: crate::firm::FirmNow,
    /// The portal's pages: templates, words, help articles, the firm's look.
    pub pages: crate::pages::Pages,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl Services {
    /// Waits until `projector` shows what the reader must see: the write at `asked` (a position a
    /// command returned, `?after=`), and the reader's own last write on this server. Each wait is
    /// bounded by the configured read wait; a position the log never had is refused at once.
    pub async fn wait_for(
        &self,
        projector: &'static str,
        asked: Option<Position>,
        reader: Option<&Writer>,
    ) -> Result<(), ApiError> {
        if let Some(reader) = reader
            && let Some(own) = self.own_writes.pending(reader, projector)
        {
            self.wait_until(projector, own).await?;
            self.own_writes.shown(reader, own, projector);
        }
        if let Some(asked) = asked {
            self.wait_until(projector, asked).await?;
        }
        Ok(())
    }

    async fn wait_until(&self, projector: &str, position: Position) -> Result<(), ApiError> {
        let reached = match self
            .read_models
            .wait_for(&self.log, projector, position, self.settings.read_wait)
            .await
        {
            Ok(reached) => reached,
            Err(ProjectionError::Log(LogError::UnknownPosition(never))) => {
                let head = self.log.settled_head().await?;
                return Err(ApiError::Invalid(format!(
                    "`after` is {never}, but the log has no event there (its last is at {head}): give a position a command returned"
                )));
            }
            Err(other) => return Err(other.into()),
        };
        if reached {
            Ok(())
        } else {
            Err(ApiError::NotYetVisible(format!(
                "the {projector} read model has not reached position {position} yet; try again shortly"
            )))
        }
    }
}
