//! The tamper-evident hash chain. Each event's hash covers its content and the previous event of its
//! stream, so editing, removing or reordering any stored event breaks every later link.
//!
//! The content hash is computed here for both engines; the chain step is computed here for SQLite and
//! inside `lodge_append` (SQL) for PostgreSQL, which is why it is kept to plain bytes:
//! `sha256(previous || version as 8 big-endian bytes || recorded_at in µs as 8 big-endian bytes || content)`.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::types::NewEvent;

/// The hash before a stream's first event.
pub const GENESIS: [u8; 32] = [0; 32];

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// The hash of what an event says, independent of where it lands in the log.
pub fn content_hash(
    event_id: Uuid,
    stream_id: &str,
    event_type: &str,
    schema_version: u32,
    data: &str,
    metadata: &str,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"lodge-event-v1");
    field(&mut hasher, event_id.as_bytes());
    field(&mut hasher, stream_id.as_bytes());
    field(&mut hasher, event_type.as_bytes());
    hasher.update(schema_version.to_be_bytes());
    field(&mut hasher, data.as_bytes());
    field(&mut hasher, metadata.as_bytes());
    hasher.finalize().into()
}

/// One link of a stream's chain.
pub fn chain(previous: &[u8; 32], version: u64, recorded_at: DateTime<Utc>, content: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(version.to_be_bytes());
    hasher.update(recorded_at.timestamp_micros().to_be_bytes());
    hasher.update(content);
    hasher.finalize().into()
}

/// What a command appended, minus ids and times: a retry of the same command has the same one.
pub fn fingerprint(stream_id: &str, events: &[NewEvent]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"lodge-command-v1");
    field(&mut hasher, stream_id.as_bytes());
    for event in events {
        field(&mut hasher, event.event_type.as_bytes());
        hasher.update(event.schema_version.to_be_bytes());
        field(&mut hasher, event.data.as_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cannot_run_into_each_other() {
        let id = Uuid::nil();
        assert_ne!(
            content_hash(id, "ab", "c", 1, "{}", "{}"),
            content_hash(id, "a", "bc", 1, "{}", "{}")
        );
    }

    #[test]
    fn every_part_of_a_link_counts() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap();
        let content = [7; 32];
        let link = chain(&GENESIS, 1, at, &content);
        assert_ne!(link, chain(&[1; 32], 1, at, &content));
        assert_ne!(link, chain(&GENESIS, 2, at, &content));
        assert_ne!(
            link,
            chain(&GENESIS, 1, at + chrono::TimeDelta::microseconds(1), &content)
        );
        assert_ne!(link, chain(&GENESIS, 1, at, &[8; 32]));
    }
}
