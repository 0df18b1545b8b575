//! The firm's team from the command line: `lodge staff`, each change an event on the team's stream,
//! on both engines, through the real binary.

use lodge_domain::EventSchema;
use lodge_domain::team::{Role, TeamEvent};
use lodge_eventlog::testing::TestDatabase;

use crate::support::process::{json_lines, lodge, lodge_ok, run, stderr};

lodge_eventlog::test_on_both_engines!(
    staff_add_records_the_member_and_list_shows_them,
    the_teams_rules_refuse_with_their_reasons_and_record_nothing,
    roles_change_and_members_are_deactivated_on_the_record,
);

/// The team's events as `lodge log --stream team` prints them, read as the domain's own.
fn team_events(db: &TestDatabase, folder: &std::path::Path) -> Vec<(TeamEvent, String)> {
    json_lines(&lodge_ok(db, folder, &["log", "--stream", "team"]))
        .into_iter()
        .map(|line| {
            let event = TeamEvent::from_json(
                line["event_type"].as_str().unwrap(),
                line["schema_version"].as_u64().unwrap() as u32,
                &line["data"].to_string(),
            )
            .expect("the team's stream holds team events");
            (event, line["metadata"]["actor"]["kind"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// Runs `lodge` with `args`, expects it to fail with exit code 1, and returns what it said.
fn refused(db: &TestDatabase, folder: &std::path::Path, args: &[&str]) -> String {
    let mut command = lodge(db, folder);
    command.args(args);
    let output = run(command);
    assert_eq!(output.status.code(), Some(1), "lodge {args:?}: {}", stderr(&output));
    stderr(&output)
}

async fn staff_add_records_the_member_and_list_shows_them(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let printed = lodge_ok(
        &db,
        folder.path(),
        &[
            "staff",
            "add",
            "--email",
            " olive@firm.example ",
            "--name",
            "Olive Owner",
            "--role",
            "owner",
        ],
    );
    let olive = printed.lines().last().unwrap().to_owned();
    assert!(
        uuid::Uuid::parse_str(&olive).is_ok(),
        "the member's id on the last line: {printed}"
    );

    let events = team_events(&db, folder.path());
    let [(TeamEvent::MemberJoined(joined), actor)] = events.as_slice() else {
        panic!("one member joined: {events:?}");
    };
    assert_eq!(joined.staff_id.to_string(), olive);
    assert_eq!(
        (joined.email.as_str(), joined.name.as_str()),
        ("olive@firm.example", "Olive Owner")
    );
    assert_eq!(joined.role, Role::Owner);
    assert_eq!(actor, "system", "the operator acts as Lodge itself");

    lodge_ok(
        &db,
        folder.path(),
        &[
            "staff",
            "add",
            "--email",
            "val@firm.example",
            "--name",
            "Val Viewer",
            "--role",
            "viewer",
        ],
    );
    let listed = lodge_ok(&db, folder.path(), &["staff", "list"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].starts_with(&olive) && lines[0].ends_with("Olive Owner  olive@firm.example  owner  active"));
    assert!(
        lines[1].ends_with("Val Viewer  val@firm.example  viewer  active"),
        "{listed}"
    );
    // The log's chain holds with the team in it.
    assert!(lodge_ok(&db, folder.path(), &["verify"]).contains("every hash chain holds"));
}

async fn the_teams_rules_refuse_with_their_reasons_and_record_nothing(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let add = |email: &'static str, role: &'static str| {
        ["staff", "add", "--email", email, "--name", "Someone", "--role", role]
    };
    assert!(refused(&db, folder.path(), &add("sam@firm.example", "staff")).contains("must be an owner"));
    assert_eq!(lodge_ok(&db, folder.path(), &["staff", "list"]), "", "no team yet");

    lodge_ok(&db, folder.path(), &add("olive@firm.example", "owner"));
    assert!(refused(&db, folder.path(), &add("OLIVE@firm.example", "viewer")).contains("already a member"));
    assert!(refused(&db, folder.path(), &add("olive at firm", "viewer")).contains("olive at firm"));
    assert!(
        refused(
            &db,
            folder.path(),
            &["staff", "deactivate", "--email", "olive@firm.example"]
        )
        .contains("needs an active owner")
    );
    assert!(
        refused(
            &db,
            folder.path(),
            &["staff", "role", "--email", "nia@firm.example", "--role", "staff"]
        )
        .contains("no member nia@firm.example")
    );
    let mut command = lodge(&db, folder.path());
    command.args(add("nia@firm.example", "admin"));
    let output = run(command);
    assert_eq!(output.status.code(), Some(2), "an unknown role is a usage error");
    assert!(
        stderr(&output).contains("give owner, staff or viewer"),
        "{}",
        stderr(&output)
    );
    assert_eq!(team_events(&db, folder.path()).len(), 1, "only Olive joined");
}

async fn roles_change_and_members_are_deactivated_on_the_record(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    for (email, role) in [("olive@firm.example", "owner"), ("sam@firm.example", "staff")] {
        lodge_ok(
            &db,
            folder.path(),
            &["staff", "add", "--email", email, "--name", "Someone", "--role", role],
        );
    }
    lodge_ok(
        &db,
        folder.path(),
        &["staff", "role", "--email", "sam@firm.example", "--role", "viewer"],
    );
    lodge_ok(
        &db,
        folder.path(),
        &["staff", "deactivate", "--email", "sam@firm.example"],
    );
    // Again: already done, nothing more on the record.
    lodge_ok(
        &db,
        folder.path(),
        &["staff", "deactivate", "--email", "sam@firm.example"],
    );
    let listed = lodge_ok(&db, folder.path(), &["staff", "list"]);
    assert!(listed.contains("sam@firm.example  viewer  deactivated"), "{listed}");
    lodge_ok(
        &db,
        folder.path(),
        &["staff", "reactivate", "--email", "sam@firm.example"],
    );

    let types: Vec<&str> = team_events(&db, folder.path())
        .iter()
        .map(|(event, _)| event.event_type())
        .collect();
    assert_eq!(
        types,
        [
            "MemberJoined",
            "MemberJoined",
            "MemberRoleChanged",
            "MemberDeactivated",
            "MemberReactivated"
        ]
    );
}
