//! A stored event row, as both engines read it, turned into a [`RecordedEvent`].

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::LogError;
use crate::types::{Metadata, Position, RecordedEvent, StreamId};

pub(crate) struct EventRow {
    pub position: i64,
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub data: String,
    pub metadata: String,
    pub recorded_at: DateTime<Utc>,
    pub hash: Vec<u8>,
}

impl EventRow {
    pub(crate) fn into_recorded(self) -> Result<RecordedEvent, LogError> {
        let position = Position(self.position);
        let metadata: Metadata = serde_json::from_str(&self.metadata).map_err(|e| LogError::MalformedMetadata {
            position,
            reason: e.to_string(),
        })?;
        let corrupt = |reason: String| LogError::CorruptEvent { position, reason };
        let hash: [u8; 32] = self
            .hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(format!("its hash has {} bytes, not 32", self.hash.len())))?;
        Ok(RecordedEvent {
            position,
            event_id: self.event_id,
            stream_id: StreamId::parse(&self.stream_id).map_err(|e| corrupt(e.to_string()))?,
            stream_version: self.stream_version as u64,
            event_type: self.event_type,
            schema_version: self.schema_version as u32,
            data: self.data,
            metadata,
            recorded_at: self.recorded_at,
            hash,
        })
    }
}
