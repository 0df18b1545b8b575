//! Running projectors: each follows the log from its own checkpoint, independently of the others.

use std::collections::BTreeMap;
use std::sync::Arc;

use lodge_eventlog::{EventLog, LogError, Position, RecordedEvent, StreamId};
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;

use crate::error::ProjectionError;
use crate::history::InviteHistory;
use crate::projection::{Generation, Projection};
use crate::recent_histories::RecentHistories;
use crate::store::ReadStore;

/// Events applied per transaction at most.
pub const BATCH: usize = 500;

/// Runs one projector until `shutdown`: waits to lead it (one process at a time), then follows the
/// log. Returns an error when it stops on an event it cannot handle (recorded, with its position,
/// for operators to see). A storage error that may pass (a lost connection, a busy database) gives
/// up leadership and tries again. `recent` holds the histories the process's projectors read lately,
/// shared between them.
pub async fn run<P: Projection>(
    projection: P,
    log: EventLog,
    store: ReadStore,
    recent: Arc<RecentHistories>,
    shutdown: CancellationToken,
) -> Result<(), ProjectionError> {
    store.register::<P>().await?;
    let mut attempt = 0;
    loop {
        let Some(mut leader) = store.lead(P::NAME, &shutdown).await? else {
            return Ok(());
        };
        match follow(&projection, &log, &store, &recent, &mut leader, &shutdown).await {
            Ok(()) => return Ok(()),
            Err(ProjectionError::Store(error)) if ReadStore::is_transient(&error) => {
                attempt += 1;
                tracing::warn!(projector = P::NAME, %error, attempt, "writing read models failed; trying again");
                drop(leader);
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = ReadStore::pause(attempt) => {}
                }
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

/// Follows the log from the projector's checkpoint, writing through the leader's connection, until
/// `shutdown` or an error.
async fn follow<P: Projection>(
    projection: &P,
    log: &EventLog,
    store: &ReadStore,
    recent: &RecentHistories,
    leader: &mut AnyConnection,
    shutdown: &CancellationToken,
) -> Result<(), ProjectionError> {
    // Another leader may have moved the checkpoint: start from what is recorded now.
    let status = store.status(P::NAME).await?.ok_or_else(|| not_registered::<P>())?;
    let mut generation = status.generation;
    let mut subscription = log.subscribe(status.position);
    tracing::info!(projector = P::NAME, position = %status.position, "projector following the log");
    loop {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            batch = subscription.next_batch(BATCH) => batch?,
        };
        let histories = histories(log, recent, &batch).await.map_err(|error| match error {
            LogError::Decode { position, source } => ProjectionError::Unhandled {
                position,
                reason: source.to_string(),
            },
            other => other.into(),
        })?;
        let last = batch.last().map(|e| e.position).expect("a batch has events");
        match write_batch(projection, store, leader, generation, last, &histories).await {
            Ok(()) => {}
            Err(ProjectionError::Switched(_)) => {
                // A rebuild took over: carry on from the new generation's checkpoint.
                let status = store.status(P::NAME).await?.ok_or_else(|| not_registered::<P>())?;
                tracing::info!(
                    projector = P::NAME,
                    generation = status.generation.0,
                    "following a rebuilt generation"
                );
                generation = status.generation;
                subscription = log.subscribe(status.position);
            }
            Err(error) => return Err(error),
        }
    }
}

fn not_registered<P: Projection>() -> ProjectionError {
    ProjectionError::Malformed(format!("projector {} is not registered", P::NAME))
}

/// The whole history of every invite the batch touches, each read once, or taken from another
/// projector's recent read (or the read it is making now) when that reaches the batch's last event
/// of the invite. Events of other streams are not invites' and are left alone.
async fn histories(
    log: &EventLog,
    recent: &RecentHistories,
    batch: &[RecordedEvent],
) -> Result<Vec<InviteHistory>, LogError> {
    let mut needed: BTreeMap<&StreamId, u64> = BTreeMap::new();
    for event in batch {
        let version = needed.entry(&event.stream_id).or_default();
        *version = (*version).max(event.stream_version);
    }
    let mut histories = Vec::with_capacity(needed.len());
    for (stream, version) in needed {
        let Some(invite) = stream.invite_id() else { continue };
        let read = || InviteHistory::load(log, stream);
        if let Some(history) = recent.reaching_or_read(invite, version, read).await? {
            histories.push(history);
        }
    }
    Ok(histories)
}

/// One transaction: every history's rows, then the checkpoint. A storage error that would fail the
/// same way again stops the projector at the last event of the history it was writing.
async fn write_batch<P: Projection>(
    projection: &P,
    store: &ReadStore,
    leader: &mut AnyConnection,
    generation: Generation,
    last: Position,
    histories: &[InviteHistory],
) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write_on(leader).await?;
    let written = async {
        if store.live_generation(&mut tx, P::NAME).await? != Some(generation) {
            return Err(ProjectionError::Switched(P::NAME.to_owned()));
        }
        projection.write(store, &mut tx, generation, histories).await?;
        ReadStore::save_position(&mut tx, P::NAME, generation, last).await
    }
    .await;
    match written {
        Ok(()) => {
            tx.commit().await?;
            store.ring_applied(P::NAME);
            Ok(())
        }
        Err(error) => {
            // At once, not on the connection's next use: the transaction holds the projector's
            // registry row, which the caller may be about to update from another connection.
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(%rollback, "rolling back a failed batch");
            }
            match error {
                ProjectionError::Store(error) if !ReadStore::is_transient(&error) => {
                    Err(culprit(projection, store, leader, generation, histories, last, &error).await)
                }
                other => Err(other),
            }
        }
    }
}

/// A write the read model refuses for good: find the invite it is about, writing the histories one
/// at a time (each undone at once), so that the projector stops naming that invite's position.
async fn culprit<P: Projection>(
    projection: &P,
    store: &ReadStore,
    leader: &mut AnyConnection,
    generation: Generation,
    histories: &[InviteHistory],
    batch_end: Position,
    error: &sqlx::Error,
) -> ProjectionError {
    let refused = |position: Position, error: &dyn std::fmt::Display| ProjectionError::Unhandled {
        position,
        reason: format!("the read model refused the write: {error}"),
    };
    let Ok(mut tx) = store.begin_write_on(leader).await else {
        return refused(batch_end, error);
    };
    for history in histories {
        // A savepoint inside the transaction.
        let Ok(mut attempt) = sqlx::Connection::begin(&mut *tx).await else {
            break;
        };
        let outcome = projection
            .write(store, &mut attempt, generation, std::slice::from_ref(history))
            .await;
        let _ = attempt.rollback().await;
        if let Err(ProjectionError::Store(alone)) = outcome {
            let _ = tx.rollback().await;
            return refused(history.last_position(), &alone);
        }
    }
    let _ = tx.rollback().await;
    refused(batch_end, error)
}
