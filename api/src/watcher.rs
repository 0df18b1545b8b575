//! The process's one reader of the log beside the projectors: it follows the log from the portal
//! projector's checkpoint and tells what each event changes to what keeps things in memory: the
//! portal cache (an invite's sessions are dropped), the console's live pages (which invite changed)
//! and the accounts kept in memory (the team's changes, sign-outs). If the log cannot be read (the
//! database went away), nothing is served from memory until it can be again: the caches empty,
//! then it starts again from the checkpoint.

use std::sync::Arc;
use std::time::Duration;

use lodge_eventlog::{EventLog, Position, StreamId};
use lodge_projections::portal::PortalProjection;
use lodge_projections::{Projection, ProjectionError, ReadStore};
use tokio_util::sync::CancellationToken;

use crate::console::cache::AccountCache;
use crate::live::{Change, Live};
use crate::portal::cache::PortalCache;

/// How often positions the portal projector has passed are forgotten by the portal cache.
const PRUNE_EVERY: Duration = Duration::from_secs(5);

/// Who hears of the log's events.
#[derive(Clone)]
pub struct Listeners {
    pub portal: PortalCache,
    pub live: Live,
    pub accounts: Arc<AccountCache>,
    pub firm: crate::firm::FirmNow,
}

/// Follows the log until `shutdown`.
pub async fn watch(log: EventLog, store: ReadStore, listeners: Listeners, shutdown: CancellationToken) {
    let mut attempt = 0;
    loop {
        match follow(&log, &store, &listeners, &shutdown).await {
            Ok(()) => return,
            Err(error) => {
                attempt += 1;
                tracing::warn!(%error, attempt, "the watcher lost the log; requests read the database");
                listeners.portal.forget_everything();
                listeners.accounts.team_changed();
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = lodge_store::Store::pause(attempt) => {}
                }
            }
        }
    }
}

async fn follow(
    log: &EventLog,
    store: &ReadStore,
    listeners: &Listeners,
    shutdown: &CancellationToken,
) -> Result<(), ProjectionError> {
    let start = store
        .status(PortalProjection::NAME)
        .await?
        .map_or(Position::START, |s| s.position);
    let mut subscription = log.subscribe(start);
    listeners.portal.start_watching();
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = prune.tick() => {
                if let Ok(Some(status)) = store.status(PortalProjection::NAME).await {
                    listeners.portal.forget_positions_up_to(status.position.0);
                }
            }
            batch = subscription.next_batch(1_000) => {
                for event in batch? {
                    match event.stream_id.invite_id() {
                        Some(invite) => {
                            listeners.portal.saw(invite, event.position.0);
                            listeners.live.publish(Change { invite, position: event.position.0 });
                        }
                        // The firm's details, saved on another server.
                        None if event.stream_id == StreamId::firm() => {
                            if let Ok(lodge_domain::firm::FirmEvent::FirmDetailsChanged(details)) = event.decode() {
                                listeners.firm.apply(&details);
                            }
                        }
                        // The team's changes and sign-outs, for the accounts kept in memory.
                        None => listeners.accounts.saw(&event),
                    }
                }
            }
        }
    }
}
