//! Following the log: catch up from a position, then receive new events as they are appended.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::LogError;
use crate::log::EventLog;
use crate::types::{Position, RecordedEvent};

/// Delivers every event after a position, in log order, exactly once, waiting for new ones when it
/// has caught up. It never skips an event: it reads only what the engine guarantees is settled.
pub struct Subscription {
    log: EventLog,
    after: Position,
    buffer: VecDeque<RecordedEvent>,
    wakeup: watch::Receiver<u64>,
    batch_size: usize,
    poll_interval: Duration,
}

/// After a wake-up that found nothing new (an earlier transaction still open), look again soon.
const FIRST_RETRY: Duration = Duration::from_millis(5);

impl Subscription {
    pub(crate) fn new(log: EventLog, after: Position, wakeup: watch::Receiver<u64>, poll_interval: Duration) -> Self {
        Self {
            log,
            after,
            buffer: VecDeque::new(),
            wakeup,
            batch_size: 500,
            poll_interval,
        }
    }

    /// The position of the last event delivered (or the starting position).
    pub fn position(&self) -> Position {
        self.after
    }

    /// The next event, waiting as long as it takes.
    pub async fn next(&mut self) -> Result<RecordedEvent, LogError> {
        let mut retry = None;
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.after = event.position;
                return Ok(event);
            }
            // Mark the current wake-up as seen before reading, so that an append landing between the
            // read and the wait still wakes us.
            self.wakeup.borrow_and_update();
            let batch = self.log.read_all(self.after, self.batch_size).await?;
            if !batch.is_empty() {
                self.buffer.extend(batch);
                continue;
            }
            let wait = retry.unwrap_or(self.poll_interval);
            let woken = match tokio::time::timeout(wait, self.wakeup.changed()).await {
                Ok(Ok(())) => true,
                // Nobody can ring any more: poll.
                Ok(Err(_)) => {
                    tokio::time::sleep(wait).await;
                    false
                }
                Err(_) => false,
            };
            retry = match (woken, retry) {
                (true, _) => Some(FIRST_RETRY),
                (false, Some(previous)) if previous < self.poll_interval => {
                    Some((previous * 2).min(self.poll_interval))
                }
                (false, _) => None,
            };
        }
    }

    /// The next events: waits for one, then returns it with up to `max - 1` more that are already
    /// available, for callers that work in batches.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, LogError> {
        let first = self.next().await?;
        let more = self.buffer.len().min(max.saturating_sub(1));
        let mut batch = Vec::with_capacity(1 + more);
        batch.push(first);
        batch.extend(self.buffer.drain(..more));
        if let Some(last) = batch.last() {
            self.after = last.position;
        }
        Ok(batch)
    }

    /// The next event if one arrives within `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Result<Option<RecordedEvent>, LogError> {
        match tokio::time::timeout(timeout, self.next()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }
}
