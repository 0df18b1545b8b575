//! What both engines do before and around an append: check the input, compute ids and hashes, and
//! interpret a command id seen before.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::LogError;
use crate::hash;
use crate::types::{AppendOutcome, Metadata, NewEvent, Position, StreamId};

/// An append checked and ready to write.
pub(crate) struct PreparedAppend {
    pub metadata_json: String,
    pub fingerprint: [u8; 32],
    pub event_ids: Vec<Uuid>,
    pub content_hashes: Vec<[u8; 32]>,
}

pub(crate) fn prepare(stream: &StreamId, events: &[NewEvent], metadata: &Metadata) -> Result<PreparedAppend, LogError> {
    if events.is_empty() {
        return Err(LogError::NoEvents);
    }
    for (index, event) in events.iter().enumerate() {
        event.check(index)?;
    }
    metadata.check()?;
    let metadata_json = serde_json::to_string(metadata).expect("metadata always serialises");
    let event_ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let content_hashes = events
        .iter()
        .zip(&event_ids)
        .map(|(event, id)| {
            hash::content_hash(
                *id,
                stream.as_str(),
                &event.event_type,
                event.schema_version,
                &event.data,
                &metadata_json,
            )
        })
        .collect();
    Ok(PreparedAppend {
        fingerprint: hash::fingerprint(stream.as_str(), events),
        metadata_json,
        event_ids,
        content_hashes,
    })
}

/// A command's first outcome as stored.
pub(crate) struct StoredCommand {
    pub stream_id: String,
    pub fingerprint: Vec<u8>,
    pub first_version: i64,
    pub last_version: i64,
    pub last_position: i64,
    pub recorded_at: DateTime<Utc>,
}

impl StoredCommand {
    pub(crate) fn into_outcome(self) -> Result<AppendOutcome, LogError> {
        Ok(AppendOutcome {
            stream_id: StreamId::parse(&self.stream_id)?,
            first_version: self.first_version as u64,
            last_version: self.last_version as u64,
            last_position: Position(self.last_position),
            recorded_at: self.recorded_at,
            duplicate: true,
        })
    }

    /// The same command again returns its first outcome; the same id for something else is refused.
    pub(crate) fn replay(
        self,
        command_id: Uuid,
        stream: &StreamId,
        fingerprint: &[u8; 32],
    ) -> Result<AppendOutcome, LogError> {
        if self.stream_id != stream.as_str() || self.fingerprint != fingerprint {
            return Err(LogError::CommandIdReused {
                command_id,
                first_stream: self.stream_id,
            });
        }
        self.into_outcome()
    }
}

/// The current time as the log stores it: UTC, whole microseconds (what PostgreSQL keeps).
pub(crate) fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
