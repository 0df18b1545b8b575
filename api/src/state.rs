//! What every handler can reach: the log (for commands), the read store (for queries), settings.

use std::sync::Arc;

use lodge_eventlog::{EventLog, Position};
use lodge_projections::ReadStore;

use crate::blobs::BlobStore;
use crate::commands::StreamLocks;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::portal::cache::PortalCache;
use crate::settings::Settings;

/// Handed to every request: one reference count to bump, however much it holds.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

pub struct Services {
    pub log: EventLog,
    pub store: ReadStore,
    pub settings: Settings,
    pub blobs: BlobStore,
    pub metrics: Metrics,
    pub stream_locks: StreamLocks,
    pub portal_cache: PortalCache,
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
    /// Waits until `projector` has applied `position` (a position a command returned), within the
    /// configured bound, so that a read can follow a write.
    pub async fn wait_for(&self, projector: &str, position: Option<Position>) -> Result<(), ApiError> {
        let Some(position) = position else {
            return Ok(());
        };
        let reached = self
            .store
            .wait_for(&self.log, projector, position, self.settings.read_wait)
            .await?;
        if reached {
            Ok(())
        } else {
            Err(ApiError::NotYetVisible(format!(
                "the {projector} read model has not reached position {position} yet; try again shortly"
            )))
        }
    }
}
