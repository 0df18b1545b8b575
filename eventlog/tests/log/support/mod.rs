//! Small builders shared by the event log's tests.

use lodge_domain::{Actor, StaffId, StaffMember};
use lodge_eventlog::{Metadata, NewEvent, StreamId};
use uuid::Uuid;

pub fn stream(name: &str) -> StreamId {
    StreamId::parse(name).unwrap()
}

pub fn event(n: u32) -> NewEvent {
    NewEvent {
        event_type: "ThingHappened".into(),
        schema_version: 1,
        data: format!(r#"{{"n":{n},"note":"événement №{n}"}}"#),
    }
}

pub fn events(range: std::ops::Range<u32>) -> Vec<NewEvent> {
    range.map(event).collect()
}

pub fn staff() -> Actor {
    Actor::from(&StaffMember {
        id: StaffId::from_uuid(Uuid::from_u128(7)),
        name: "Sam Staff".into(),
    })
}

/// Metadata for a fresh command.
pub fn meta() -> Metadata {
    Metadata::new(staff())
}

/// The `n` of every event, as `event(n)` wrote it.
pub fn numbers(recorded: &[lodge_eventlog::RecordedEvent]) -> Vec<u64> {
    recorded
        .iter()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.data).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect()
}
