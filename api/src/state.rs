//! What every handler can reach: the log (for commands), the read store (for queries), settings.

use std::sync::Arc;

use lodge_eventlog::{EventLog, Position};
use lodge_projections::ReadStore;

use crate::blobs::BlobStore;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub log: EventLog,
    pub store: ReadStore,
    pub settings: Arc<Settings>,
    pub blobs: BlobStore,
    pub metrics: Metrics,
}

impl AppState {
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
