//! Events are forever. Each (type, version) ever written has a stored fixture here, and this test reads
//! every one of them with today's code. A change that would break reading old events fails the build;
//! a change to how today's version is written fails it too (bump the schema version and add an upcaster
//! and a new fixture instead).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lodge_domain::firm::FirmEvent;
use lodge_domain::invite::InviteEvent;
use lodge_domain::team::{SignInEvent, TeamEvent};
use lodge_domain::{EventDecodeError, EventSchema};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    event_type: String,
    schema_version: u32,
    data: serde_json::Value,
}

fn fixtures() -> Vec<(PathBuf, Fixture)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .expect("the fixtures folder exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let fixture: Fixture =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not a fixture: {e}", path.display()));
            (path, fixture)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Every aggregate's event types, with their current versions: a stored event is read by the
/// aggregate whose list names its type.
fn all_types() -> impl Iterator<Item = (&'static str, u32)> {
    InviteEvent::TYPES
        .iter()
        .chain(TeamEvent::TYPES)
        .chain(SignInEvent::TYPES)
        .chain(FirmEvent::TYPES)
        .copied()
}

/// Reads a stored event as the aggregate that writes its type would, and says which type it read
/// as, the version it writes now, and how it writes it now.
fn read(event_type: &str, version: u32, data: &str) -> Result<(&'static str, u32, String), EventDecodeError> {
    if TeamEvent::TYPES.iter().any(|(name, _)| *name == event_type) {
        let event = TeamEvent::from_json(event_type, version, data)?;
        Ok((event.event_type(), event.schema_version(), event.to_json()))
    } else if SignInEvent::TYPES.iter().any(|(name, _)| *name == event_type) {
        let event = SignInEvent::from_json(event_type, version, data)?;
        Ok((event.event_type(), event.schema_version(), event.to_json()))
    } else if FirmEvent::TYPES.iter().any(|(name, _)| *name == event_type) {
        let event = FirmEvent::from_json(event_type, version, data)?;
        Ok((event.event_type(), event.schema_version(), event.to_json()))
    } else {
        let event = InviteEvent::from_json(event_type, version, data)?;
        Ok((event.event_type(), event.schema_version(), event.to_json()))
    }
}

#[test]
fn every_stored_event_still_reads() {
    let all = fixtures();
    assert!(!all.is_empty());
    for (path, fixture) in all {
        let name = format!("{}.v{}.json", fixture.event_type, fixture.schema_version);
        assert_eq!(path.file_name().unwrap().to_str().unwrap(), name, "fixture file name");
        let (read_as, _, _) = read(&fixture.event_type, fixture.schema_version, &fixture.data.to_string())
            .unwrap_or_else(|e| panic!("{name} no longer reads: {e}"));
        assert_eq!(read_as, fixture.event_type, "{name} reads as another type");
    }
}

#[test]
fn the_current_version_of_every_type_is_written_exactly_as_its_fixture() {
    let all = fixtures();
    for (event_type, version) in all_types() {
        let (_, fixture) = all
            .iter()
            .find(|(_, f)| f.event_type == event_type && f.schema_version == version)
            .unwrap_or_else(|| {
                panic!("no fixture for {event_type} v{version}: add tests/fixtures/events/{event_type}.v{version}.json")
            });
        let (_, written_version, json) = read(event_type, version, &fixture.data.to_string()).unwrap();
        assert_eq!(written_version, version);
        let written: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            written, fixture.data,
            "{event_type} v{version} is now written differently from its fixture: bump its schema version"
        );
    }
}

#[test]
fn types_are_listed_once() {
    // Across aggregates too: a type name says which aggregate's event it is.
    let names: BTreeSet<_> = all_types().map(|(name, _)| name).collect();
    assert_eq!(names.len(), all_types().count());
}

#[test]
fn unknown_newer_and_malformed_events_are_told_apart() {
    assert_eq!(
        InviteEvent::from_json("InviteShredded", 1, "{}"),
        Err(EventDecodeError::UnknownType {
            event_type: "InviteShredded".into()
        })
    );
    assert_eq!(
        InviteEvent::from_json("InviteCompleted", 2, r#"{"completed_by":null}"#),
        Err(EventDecodeError::NewerSchemaVersion {
            event_type: "InviteCompleted".into(),
            schema_version: 2,
            known: 1
        })
    );
    assert_eq!(
        InviteEvent::from_json("InviteCompleted", 0, r#"{"completed_by":null}"#),
        Err(EventDecodeError::UnknownSchemaVersion {
            event_type: "InviteCompleted".into(),
            schema_version: 0
        })
    );
    assert!(matches!(
        InviteEvent::from_json("DocumentUploaded", 1, r#"{"document_id": 7}"#),
        Err(EventDecodeError::Malformed { .. })
    ));
    assert!(
        matches!(
            InviteEvent::from_json("InviteSent", 1, &{
                let text = std::fs::read_to_string(
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events/InviteSent.v1.json"),
                )
                .unwrap();
                let mut fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
                fixture["data"]["portal_password"] = "hunter2".into();
                fixture["data"].to_string()
            }),
            Err(EventDecodeError::Malformed { .. })
        ),
        "a plaintext password is never accepted, even from the log"
    );
}
