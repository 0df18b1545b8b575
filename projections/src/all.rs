//! Every projection Lodge runs, in one place, for the commands that run or report on them all.

use std::sync::Arc;

use lodge_eventlog::EventLog;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::audit::AuditProjection;
use crate::error::ProjectionError;
use crate::portal::PortalProjection;
use crate::projection::{DynProjection, Projection};
use crate::recent_histories::RecentHistories;
use crate::runtime;
use crate::staff::StaffProjection;
use crate::store::ReadStore;

pub const NAMES: [&str; 3] = [PortalProjection::NAME, StaffProjection::NAME, AuditProjection::NAME];

/// Every projection, for work on several at once (rebuilds).
pub static ALL: [&dyn DynProjection; 3] = [&PortalProjection, &StaffProjection, &AuditProjection];

/// The projection of that name.
pub fn by_name(name: &str) -> Option<&'static dyn DynProjection> {
    ALL.iter().copied().find(|p| p.name() == name)
}

/// Registers every projection, so that its views can be read before its projector has run.
pub async fn register_all(store: &ReadStore) -> Result<(), ProjectionError> {
    store.register::<PortalProjection>().await?;
    store.register::<StaffProjection>().await?;
    store.register::<AuditProjection>().await?;
    Ok(())
}

/// Starts every projector, each on a task of its own.
pub fn spawn_all(
    log: &EventLog,
    store: &ReadStore,
    shutdown: &CancellationToken,
    projectors: &mut JoinSet<Result<(), ProjectionError>>,
) {
    let recent = Arc::new(RecentHistories::default());
    projectors.spawn(runtime::run(
        PortalProjection,
        log.clone(),
        store.clone(),
        recent.clone(),
        shutdown.clone(),
    ));
    projectors.spawn(runtime::run(
        StaffProjection,
        log.clone(),
        store.clone(),
        recent.clone(),
        shutdown.clone(),
    ));
    projectors.spawn(runtime::run(
        AuditProjection,
        log.clone(),
        store.clone(),
        recent,
        shutdown.clone(),
    ));
}
