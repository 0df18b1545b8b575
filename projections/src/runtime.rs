//! Running projectors: each follows the log from its own checkpoint, independently of the others.

use std::collections::BTreeMap;
use std::sync::Arc;

use lodge_eventlog::{EventLog, LogError, Position, RecordedEvent, StreamId};
use lodge_store::{Connection, Store};
use tokio_util::sync::CancellationToken;

use crate::batch_write;
use crate::error::ProjectionError;
use crate::history::{InviteHistory, Touched};
use crate::projection::{Generation, Projection};
use crate::recent_histories::RecentHistories;
use crate::store::ReadStore;

/// Events applied per transaction at most.
pub const BATCH: usize = 500;

/// Runs one projector until `shutdown`: waits to lead it (one process at a time), then follows the
/// log. Returns an error when it stops on an event it cannot handle (recorded, with its position,
/// for operators to see). A database error that may pass (a lost connection, a busy database, a
/// restart), writing read models or reading the log, gives up leadership and tries again from the
/// checkpoint. `recent` holds the histories the process's projectors read lately, shared between
/// them.
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
        let followed = async {
            let Some(mut leader) = store.store().lead(P::NAME, &shutdown).await? else {
                return Ok(());
            };
            follow(&projection, &log, &store, &recent, &mut leader, &shutdown).await
        };
        match followed.await {
            Ok(()) => return Ok(()),
            // The database went away (a restart, a lost connection) or was busy: leadership goes
            // with the connection; wait, then lead again and carry on from the checkpoint.
            Err(error) if error.is_transient() => {
                attempt += 1;
                tracing::warn!(projector = P::NAME, %error, attempt, "the database failed; trying again");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = Store::pause(attempt) => {}
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
    leader: &mut Connection,
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
        let touched = touched(log, recent, &batch).await.map_err(|error| match error {
            LogError::Decode { position, source } => ProjectionError::Unhandled {
                position,
                reason: source.to_string(),
            },
            other => other.into(),
        })?;
        let last = batch.last().map(|e| e.position).expect("a batch has events");
        match write_batch(projection, store, leader, generation, last, &touched).await {
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

/// Every invite the batch touches, with its whole history, each read once, or taken from another
/// projector's recent read (or the read it is making now) when that reaches the batch's last event
/// of the invite. Events of other streams are not invites' and are left alone.
async fn touched(log: &EventLog, recent: &RecentHistories, batch: &[RecordedEvent]) -> Result<Vec<Touched>, LogError> {
    let mut touched = Vec::new();
    for (stream, (first, last)) in versions_in(batch) {
        let Some(invite) = stream.invite_id() else { continue };
        let read = || InviteHistory::load(log, stream);
        if let Some(history) = recent.reaching_or_read(invite, last, read).await? {
            touched.push(Touched {
                history,
                first_in_batch: first,
            });
        }
    }
    Ok(touched)
}

/// The first and last version of each stream in `batch`.
pub(crate) fn versions_in(batch: &[RecordedEvent]) -> BTreeMap<&StreamId, (u64, u64)> {
    let mut versions: BTreeMap<&StreamId, (u64, u64)> = BTreeMap::new();
    for event in batch {
        let (first, last) = versions
            .entry(&event.stream_id)
            .or_insert((event.stream_version, event.stream_version));
        *first = (*first).min(event.stream_version);
        *last = (*last).max(event.stream_version);
    }
    versions
}

/// The batch's rows and the checkpoint, together. A storage error that would fail the same way
/// again stops the projector at the last event of the invite it was writing.
async fn write_batch<P: Projection>(
    projection: &P,
    store: &ReadStore,
    leader: &mut Connection,
    generation: Generation,
    last: Position,
    touched: &[Touched],
) -> Result<(), ProjectionError> {
    let loads = projection.writes(store.engine(), generation, touched)?;
    match batch_write::write_with_checkpoint(store, leader, P::NAME, generation, last, loads).await {
        Ok(true) => {
            store.store().ring(P::NAME);
            Ok(())
        }
        Ok(false) => Err(ProjectionError::Switched(P::NAME.to_owned())),
        Err(ProjectionError::Store(error)) if !Store::is_transient(&error) => {
            // A rebuild that switched and dropped this generation's tables meanwhile makes the
            // write fail (on PostgreSQL the statement names them before it finds the switch).
            if store.status(P::NAME).await?.is_some_and(|s| s.generation != generation) {
                return Err(ProjectionError::Switched(P::NAME.to_owned()));
            }
            Err(culprit(projection, store, leader, generation, touched, last, &error).await)
        }
        Err(other) => Err(other),
    }
}

/// A write the read model refuses for good: find the invite it is about, writing the invites one
/// at a time (each undone at once), so that the projector stops naming that invite's position.
async fn culprit<P: Projection>(
    projection: &P,
    store: &ReadStore,
    leader: &mut Connection,
    generation: Generation,
    touched: &[Touched],
    batch_end: Position,
    error: &sqlx::Error,
) -> ProjectionError {
    let refused = |position: Position, error: &dyn std::fmt::Display| ProjectionError::Unhandled {
        position,
        reason: format!("the read model refused the write: {error}"),
    };
    for invite in touched {
        let Ok(loads) = projection.writes(store.engine(), generation, std::slice::from_ref(invite)) else {
            continue;
        };
        let Ok(mut tx) = store.store().begin_write_on(leader).await else {
            break;
        };
        let mut outcome = Ok(());
        for load in loads {
            outcome = load.run(&mut tx).await;
            if outcome.is_err() {
                break;
            }
        }
        let _ = tx.rollback().await;
        if let Err(ProjectionError::Store(alone)) = outcome {
            return refused(invite.history.last_position(), &alone);
        }
    }
    refused(batch_end, error)
}
