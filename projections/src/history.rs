//! One invite's history, decoded: what every projection renders from.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lodge_domain::InviteId;
use lodge_domain::invite::InviteEvent;
use lodge_eventlog::{EventLog, LogError, Metadata, Position, RecordedEvent, StreamId};

/// A decoded event with where and when it was recorded, and by whom.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub position: Position,
    pub stream_version: u64,
    pub recorded_at: DateTime<Utc>,
    pub metadata: Metadata,
    pub hash: [u8; 32],
    pub event: InviteEvent,
}

/// Cheap to clone: the projectors of a process share one read of each history
/// (`RecentHistories`), and a copy of every event for each of them showed in their profile.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteHistory {
    pub invite_id: InviteId,
    pub events: Arc<[HistoryEvent]>,
}

impl InviteHistory {
    /// Decodes a stream's events. Fails with the position of the first event that cannot be read
    /// (an unknown type, a newer schema version, a malformed payload).
    pub fn decode(invite_id: InviteId, recorded: &[RecordedEvent]) -> Result<Self, LogError> {
        let events = recorded
            .iter()
            .map(|e| {
                Ok(HistoryEvent {
                    position: e.position,
                    stream_version: e.stream_version,
                    recorded_at: e.recorded_at,
                    metadata: e.metadata.clone(),
                    hash: e.hash,
                    event: e.decode::<InviteEvent>()?,
                })
            })
            .collect::<Result<_, LogError>>()?;
        Ok(Self { invite_id, events })
    }

    /// The whole history of an invite's stream, or None when the stream is not an invite's.
    pub async fn load(log: &EventLog, stream: &StreamId) -> Result<Option<Self>, LogError> {
        let Some(invite_id) = stream.invite_id() else {
            return Ok(None);
        };
        let recorded = log.read_stream(stream).await?;
        Self::decode(invite_id, &recorded).map(Some)
    }

    /// The position of the last event: rows rendered from this history reflect the log up to here.
    pub fn last_position(&self) -> Position {
        self.events.last().map_or(Position::START, |e| e.position)
    }
}

/// An invite a batch of the log touches: its whole history, and the version of its first event in
/// the batch. The invite's events before that one came in earlier batches, whose rows are written
/// (a stream's events keep their order in the log), so a projection that only adds rows need not
/// ask the database which it already has.
#[derive(Debug, Clone, PartialEq)]
pub struct Touched {
    pub history: InviteHistory,
    pub first_in_batch: u64,
}
