//! Group commit: appends that arrive while earlier ones are being written go together, in one round
//! trip and one transaction (`lodge_append_batch`), instead of one each.
//!
//! No background task decides when to write. An append joins the queue, then either its outcome
//! arrives (another caller wrote it) or it gets one of the few flush slots and writes everything
//! queued so far. An append that finds the log idle writes at once, alone, as `lodge_append`; under
//! load, batches form by themselves. This matters most on small machines, where every round trip
//! costs task switches on both sides.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::Row;
use sqlx::postgres::PgPool;
use tokio::sync::{Notify, Semaphore, oneshot};

use crate::append::PreparedAppend;
use crate::error::LogError;
use crate::types::{AppendOutcome, ExpectedVersion, Metadata, NewEvent, Position, StreamId};
use crate::wakeup::Wakeup;

use super::{append_error, append_outcome, append_query, is_concurrent_command};

/// Batches being written at once. Appends that arrive meanwhile wait and go in the next batch.
const FLUSH_SLOTS: usize = 2;
/// SQLSTATE of a unique violation.
const UNIQUE_VIOLATION: &str = "23505";
/// Appends per batch at most: each is a subtransaction, and PostgreSQL tracks 64 per backend cheaply.
const MAX_BATCH: usize = 32;

/// One append waiting to be written, and where its outcome goes.
struct Pending {
    ticket: u64,
    stream: StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    metadata: Metadata,
    prepared: PreparedAppend,
    reply: oneshot::Sender<Result<AppendOutcome, LogError>>,
}

/// Who is told after a batch: subscribers in this process, and (via NOTIFY) other processes.
#[derive(Clone)]
pub(super) struct Signals {
    pub wakeup: Wakeup,
    pub announce: Arc<Notify>,
}

pub(super) struct GroupCommit {
    pool: PgPool,
    signals: Signals,
    queue: Mutex<VecDeque<Pending>>,
    slots: Arc<Semaphore>,
    tickets: AtomicU64,
}

/// Withdraws an append still waiting in the queue when its caller goes away: it is then not written
/// at all, rather than whenever the next append happens to come. Once taken into a batch, it is
/// written.
struct Withdraw<'a> {
    queue: &'a Mutex<VecDeque<Pending>>,
    ticket: u64,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.retain(|pending| pending.ticket != self.ticket);
        }
    }
}

impl GroupCommit {
    pub(super) fn new(pool: PgPool, signals: Signals) -> Self {
        Self {
            pool,
            signals,
            queue: Mutex::new(VecDeque::new()),
            slots: Arc::new(Semaphore::new(FLUSH_SLOTS)),
            tickets: AtomicU64::new(0),
        }
    }

    pub(super) async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
        metadata: &Metadata,
        prepared: PreparedAppend,
    ) -> Result<AppendOutcome, LogError> {
        let (reply, mut outcome) = oneshot::channel();
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        let _withdraw = Withdraw {
            queue: &self.queue,
            ticket,
        };
        self.queue.lock().expect("queue lock").push_back(Pending {
            ticket,
            stream: stream.clone(),
            expected,
            events: events.to_vec(),
            metadata: metadata.clone(),
            prepared,
            reply,
        });
        loop {
            tokio::select! {
                biased;
                result = &mut outcome => return result.unwrap_or(Err(LogError::ShuttingDown)),
                slot = self.slots.clone().acquire_owned() => {
                    let slot = slot.expect("the flush slots are never closed");
                    let batch: Vec<Pending> = {
                        let mut queue = self.queue.lock().expect("queue lock");
                        let take = queue.len().min(MAX_BATCH);
                        queue.drain(..take).collect()
                    };
                    if batch.is_empty() {
                        // Another caller is writing ours.
                        drop(slot);
                        return outcome.await.unwrap_or(Err(LogError::ShuttingDown));
                    }
                    // On a task of its own: the batch holds other callers' appends, which must be
                    // written even if this caller goes away.
                    let (pool, signals) = (self.pool.clone(), self.signals.clone());
                    tokio::spawn(async move {
                        flush(&pool, &signals, batch).await;
                        drop(slot);
                    });
                }
            }
        }
    }
}

/// Writes a batch and tells each caller its outcome.
async fn flush(pool: &PgPool, signals: &Signals, batch: Vec<Pending>) {
    let outcomes = if batch.len() == 1 {
        vec![append_alone(pool, &batch[0]).await]
    } else {
        match append_together(pool, &batch).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                // The batch as a whole failed (a lost connection, say). Each append goes again alone,
                // and gets its own outcome; one that did commit is recognised by its command id.
                tracing::debug!(%error, appends = batch.len(), "a batch failed; appending one by one");
                let mut outcomes = Vec::with_capacity(batch.len());
                for pending in &batch {
                    outcomes.push(append_alone(pool, pending).await);
                }
                outcomes
            }
        }
    };
    if outcomes.iter().any(|o| matches!(o, Ok(outcome) if !outcome.duplicate)) {
        signals.wakeup.ring();
        signals.announce.notify_one();
    }
    for (pending, outcome) in batch.into_iter().zip(outcomes) {
        // The caller may have gone away; its append is written all the same.
        let _ = pending.reply.send(outcome);
    }
}

/// One append, as one call of `lodge_append`.
async fn append_alone(pool: &PgPool, pending: &Pending) -> Result<AppendOutcome, LogError> {
    let Pending {
        stream,
        expected,
        events,
        metadata,
        prepared,
        ..
    } = pending;
    // A concurrent append of the same command id loses the race on lodge_commands' key; the second
    // try then finds the winner's outcome.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match append_query(stream, *expected, events, metadata, prepared)
            .fetch_one(pool)
            .await
        {
            Ok(row) => return append_outcome(&row, stream),
            Err(error) if attempts < 3 && is_concurrent_command(&error) => continue,
            Err(error) => return Err(append_error(error, stream, *expected, metadata.command_id)),
        }
    }
}

/// Several appends, as one call of `lodge_append_batch`.
async fn append_together(
    pool: &PgPool,
    batch: &[Pending],
) -> Result<Vec<Result<AppendOutcome, LogError>>, sqlx::Error> {
    let events = || batch.iter().flat_map(|p| p.events.iter());
    let rows = sqlx::query(
        "SELECT ordinal, error_code, error_detail, duplicate, first_version, last_version, last_position, recorded_at
         FROM lodge_append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(batch.iter().map(|p| p.stream.as_str()).collect::<Vec<_>>())
    .bind(
        batch
            .iter()
            .map(|p| p.expected.required().map(|v| v as i64))
            .collect::<Vec<_>>(),
    )
    .bind(batch.iter().map(|p| p.metadata.command_id).collect::<Vec<_>>())
    .bind(batch.iter().map(|p| &p.prepared.fingerprint[..]).collect::<Vec<_>>())
    .bind(
        batch
            .iter()
            .map(|p| p.prepared.metadata_json.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(batch.iter().map(|p| p.events.len() as i32).collect::<Vec<_>>())
    .bind(
        batch
            .iter()
            .flat_map(|p| p.prepared.event_ids.iter().copied())
            .collect::<Vec<_>>(),
    )
    .bind(events().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(events().map(|e| e.schema_version as i32).collect::<Vec<_>>())
    .bind(events().map(|e| e.data.as_str()).collect::<Vec<_>>())
    .bind(
        batch
            .iter()
            .flat_map(|p| p.prepared.content_hashes.iter().map(|h| &h[..]))
            .collect::<Vec<_>>(),
    )
    .fetch_all(pool)
    .await?;
    if rows.len() != batch.len() {
        return Err(sqlx::Error::Protocol(format!(
            "lodge_append_batch answered {} rows for {} appends",
            rows.len(),
            batch.len()
        )));
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    for (pending, row) in batch.iter().zip(rows) {
        let code: Option<String> = row.try_get("error_code")?;
        let detail: Option<String> = row.try_get("error_detail")?;
        let outcome = match code.as_deref() {
            None => Ok(AppendOutcome {
                stream_id: pending.stream.clone(),
                first_version: row.try_get::<i64, _>("first_version")? as u64,
                last_version: row.try_get::<i64, _>("last_version")? as u64,
                last_position: Position(row.try_get("last_position")?),
                recorded_at: row.try_get("recorded_at")?,
                duplicate: row.try_get("duplicate")?,
            }),
            Some("LG001") => Err(LogError::VersionConflict {
                stream: pending.stream.clone(),
                expected: pending.expected,
                actual: detail.and_then(|d| d.parse::<u64>().ok()).filter(|v| *v > 0),
            }),
            Some("LG002") => Err(LogError::CommandIdReused {
                command_id: pending.metadata.command_id,
                first_stream: detail.unwrap_or_default(),
            }),
            // The same command id in a concurrent batch: settle it alone, as a single append would.
            Some(UNIQUE_VIOLATION) => append_alone(pool, pending).await,
            Some(code) => Err(LogError::Database(sqlx::Error::Protocol(format!(
                "lodge_append_batch refused an append with SQLSTATE {code}"
            )))),
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
