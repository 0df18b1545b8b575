//! `lodge verify`: walks every stream in version order, recomputes each event's hash from its stored
//! content and its predecessor's hash, and reports the first link that does not hold. Both engines feed
//! rows to the same [`Verifier`].

use std::fmt;

use futures_util::{Stream, TryStreamExt};

use crate::error::LogError;
use crate::hash;
use crate::row::EventRow;
use crate::types::{Position, StreamId};

/// The outcome of a walk over the whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub streams: u64,
    pub events: u64,
    /// The first link found broken, in stream order; None when the whole log checks out.
    pub broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub stream_id: String,
    pub version: Option<u64>,
    pub position: Option<Position>,
    pub problem: String,
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream {}", self.stream_id)?;
        if let Some(version) = self.version {
            write!(f, ", version {version}")?;
        }
        if let Some(position) = self.position {
            write!(f, " (position {position})")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// A row of the walk: an event with its stream's head as `lodge_streams` records it.
pub(crate) struct VerifyRow {
    pub event: EventRow,
    pub head: Option<(i64, Vec<u8>)>,
}

struct StreamInProgress {
    id: String,
    version: u64,
    hash: [u8; 32],
    head: Option<(i64, Vec<u8>)>,
}

#[derive(Default)]
pub(crate) struct Verifier {
    current: Option<StreamInProgress>,
    streams: u64,
    events: u64,
    broken: Option<BrokenLink>,
}

impl Verifier {
    /// Checks the next row (rows come ordered by stream, then version). Returns false once a broken
    /// link has been found: the walk can stop.
    pub(crate) fn check(&mut self, row: VerifyRow) -> bool {
        let event = &row.event;
        if self.current.as_ref().is_none_or(|s| s.id != event.stream_id) {
            if !self.finish_stream() {
                return false;
            }
            self.streams += 1;
            self.current = Some(StreamInProgress {
                id: event.stream_id.clone(),
                version: 0,
                hash: hash::GENESIS,
                head: row.head.clone(),
            });
        }
        let stream = self.current.as_mut().expect("set above");
        let position = Some(Position(event.position));
        let version = event.stream_version as u64;
        let broken = |problem: String| BrokenLink {
            stream_id: event.stream_id.clone(),
            version: Some(version),
            position,
            problem,
        };
        if version != stream.version + 1 {
            self.broken = Some(broken(format!(
                "expected version {} here; an event is missing or was moved",
                stream.version + 1
            )));
            return false;
        }
        let content = hash::content_hash(
            event.event_id,
            &event.stream_id,
            &event.event_type,
            event.schema_version as u32,
            &event.data,
            &event.metadata,
        );
        let expected = hash::chain(&stream.hash, version, event.recorded_at, &content);
        if event.hash != expected {
            self.broken = Some(broken(
                "its hash does not match its content and the previous event: the event was changed".into(),
            ));
            return false;
        }
        stream.version = version;
        stream.hash = expected;
        self.events += 1;
        true
    }

    /// Checks that the stream just walked ends where `lodge_streams` says its head is.
    fn finish_stream(&mut self) -> bool {
        let Some(stream) = self.current.take() else {
            return true;
        };
        let head_matches = stream
            .head
            .as_ref()
            .is_some_and(|(version, hash)| *version as u64 == stream.version && hash.as_slice() == stream.hash);
        if !head_matches {
            self.broken = Some(BrokenLink {
                stream_id: stream.id,
                version: Some(stream.version),
                position: None,
                problem: match stream.head {
                    None => "the stream has events but no head record".into(),
                    Some((version, _)) => format!(
                        "the stream's head says version {version}, but its events end at version {} with another hash: events were removed or replaced",
                        stream.version
                    ),
                },
            });
            return false;
        }
        true
    }

    /// Ends the walk. `orphan_heads` are streams whose head exists but which have no events at all.
    pub(crate) fn finish(mut self, orphan_heads: Vec<String>) -> VerifyReport {
        if self.broken.is_none()
            && self.finish_stream()
            && let Some(stream_id) = orphan_heads.into_iter().next()
        {
            self.broken = Some(BrokenLink {
                stream_id,
                version: None,
                position: None,
                problem: "the stream's head exists but all its events are gone".into(),
            });
        }
        VerifyReport {
            streams: self.streams,
            events: self.events,
            broken: self.broken,
        }
    }
}

/// The statement that reads the events to check with their stream's head, in stream order: every
/// stream's, or only `stream`'s, bound as `$1`. The stream is named only when one is asked for: a
/// condition like `$1 IS NULL OR e.stream_id = $1` kept SQLite (and PostgreSQL's generic plans)
/// from using the stream's index, so checking one stream read the whole log. `event_columns` are
/// the engine's columns of an event, prefixed `e.`.
pub(crate) fn events_with_heads(event_columns: &str, stream: Option<&StreamId>) -> String {
    let filter = stream.map_or("", |_| "WHERE e.stream_id = $1");
    format!(
        "SELECT {event_columns}, s.version AS head_version, s.last_hash AS head_hash
             FROM lodge_events e LEFT JOIN lodge_streams s ON s.stream_id = e.stream_id
             {filter}
             ORDER BY e.stream_id, e.stream_version"
    )
}

/// Streams whose head exists but which have no events at all (the first, if any).
pub(crate) const ORPHAN_HEADS: &str = "SELECT s.stream_id FROM lodge_streams s
     WHERE NOT EXISTS (SELECT 1 FROM lodge_events e WHERE e.stream_id = s.stream_id)
     ORDER BY s.stream_id LIMIT 1";

/// Feeds rows, ordered by stream then version, to a verifier until the first broken link.
pub(crate) async fn walk(rows: impl Stream<Item = Result<VerifyRow, LogError>>) -> Result<Verifier, LogError> {
    let mut verifier = Verifier::default();
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.try_next().await? {
        if !verifier.check(row) {
            break;
        }
    }
    Ok(verifier)
}
