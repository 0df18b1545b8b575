//! Running projectors: each follows the log from its own checkpoint, independently of the others.

use std::collections::BTreeSet;

use lodge_eventlog::{EventLog, LogError, Position, RecordedEvent, StreamId};
use tokio_util::sync::CancellationToken;

use crate::error::ProjectionError;
use crate::history::InviteHistory;
use crate::projection::{Generation, Projection};
use crate::store::ReadStore;

/// Events applied per transaction at most.
pub const BATCH: usize = 500;

/// Runs one projector until `shutdown`. Returns an error when it stops on an event it cannot handle
/// (recorded, with its position, for operators to see); storage errors are retried.
pub async fn run<P: Projection>(
    projection: P,
    log: EventLog,
    store: ReadStore,
    shutdown: CancellationToken,
) -> Result<(), ProjectionError> {
    let status = store.register::<P>().await?;
    let mut generation = status.generation;
    let mut subscription = log.subscribe(status.position);
    tracing::info!(projector = P::NAME, position = %status.position, "projector started");
    loop {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            batch = subscription.next_batch(BATCH) => batch?,
        };
        let applied = match histories(&log, &batch).await {
            Ok(histories) => apply(&projection, &store, generation, &batch, &histories, &shutdown).await,
            Err(LogError::Decode { position, source }) => Err(ProjectionError::Unhandled {
                position,
                reason: source.to_string(),
            }),
            Err(error) => Err(error.into()),
        };
        match applied {
            Ok(()) => {}
            Err(ProjectionError::Switched(_)) => {
                // A rebuild took over: carry on from the new generation's checkpoint.
                let status = store.register::<P>().await?;
                tracing::info!(
                    projector = P::NAME,
                    generation = status.generation.0,
                    "following a rebuilt generation"
                );
                generation = status.generation;
                subscription = log.subscribe(status.position);
            }
            Err(ProjectionError::Unhandled { position, reason }) => {
                tracing::error!(projector = P::NAME, %position, %reason, "projector stopped");
                store.record_failure(P::NAME, position, &reason).await?;
                return Err(ProjectionError::Stopped {
                    projector: P::NAME.to_owned(),
                    position,
                    reason,
                });
            }
            Err(error) => return Err(error),
        }
    }
}

/// The whole history of every invite the batch touches, each read once. Events of other streams are
/// not invites' and are left alone.
async fn histories(log: &EventLog, batch: &[RecordedEvent]) -> Result<Vec<InviteHistory>, LogError> {
    let streams: BTreeSet<&StreamId> = batch.iter().map(|e| &e.stream_id).collect();
    let mut histories = Vec::with_capacity(streams.len());
    for stream in streams {
        if let Some(history) = InviteHistory::load(log, stream).await? {
            histories.push(history);
        }
    }
    Ok(histories)
}

/// Writes the rows of every history and moves the checkpoint past the batch, in one transaction;
/// retried until it succeeds or the projector is shut down.
async fn apply<P: Projection>(
    projection: &P,
    store: &ReadStore,
    generation: Generation,
    batch: &[RecordedEvent],
    histories: &[InviteHistory],
    shutdown: &CancellationToken,
) -> Result<(), ProjectionError> {
    let last = batch.last().map(|e| e.position).expect("a batch has events");
    let mut attempt = 0;
    loop {
        match write_batch(projection, store, generation, last, histories).await {
            Ok(()) => return Ok(()),
            Err(ProjectionError::Store(error)) if ReadStore::is_transient(&error) => {
                attempt += 1;
                tracing::warn!(projector = P::NAME, %error, attempt, "writing read models failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = ReadStore::pause(attempt) => {}
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// One transaction: every history's rows, then the checkpoint. A storage error that would fail the
/// same way again stops the projector at the last event of the history it was writing.
async fn write_batch<P: Projection>(
    projection: &P,
    store: &ReadStore,
    generation: Generation,
    last: Position,
    histories: &[InviteHistory],
) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write().await?;
    if store.live_generation(&mut tx, P::NAME).await? != Some(generation) {
        return Err(ProjectionError::Switched(P::NAME.to_owned()));
    }
    for history in histories {
        match projection.write(&mut tx, generation, history).await {
            Err(ProjectionError::Store(error)) if !ReadStore::is_transient(&error) => {
                return Err(ProjectionError::Unhandled {
                    position: history.last_position(),
                    reason: format!("the read model refused the write: {error}"),
                });
            }
            written => written?,
        }
    }
    ReadStore::save_position(&mut tx, P::NAME, generation, last).await?;
    tx.commit().await?;
    Ok(())
}
