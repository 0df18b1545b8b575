//! The firm's team from the command line: `lodge staff`, each change an event on the team's stream,
//! on both engines, through the real binary.

use lodge_api::staff::tokens;
use lodge_domain::team::{AddMember, Authority, ChangeRole, MemberChange, Role, TeamCommand, TeamDecider, TeamEvent};
use lodge_domain::{Actor, EventSchema, StaffId};
use lodge_eventlog::command;
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Metadata, StreamId};
use reqwest::StatusCode;

use crate::support::process::{json_lines, lodge, lodge_ok, run, stderr};
use crate::support::{TestApp, expect, expect_as, expect_problem, two_contact_invite, within_moments};

lodge_eventlog::test_on_both_engines!(
    staff_add_records_the_member_and_list_shows_them,
    the_teams_rules_refuse_with_their_reasons_and_record_nothing,
    roles_change_and_members_are_deactivated_on_the_record,
    a_token_for_a_member_is_made_by_their_email,
    a_viewers_token_reads_everything_and_changes_nothing,
    a_members_token_acts_with_the_role_they_have_now_and_dies_with_deactivation,
    an_owner_manages_the_team_over_http_and_no_one_else_does,
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
    assert!(
        printed.lines().last().unwrap().contains("/staff/welcome/"),
        "the member's sign-in link on the last line: {printed}"
    );

    let events = team_events(&db, folder.path());
    let [(TeamEvent::MemberJoined(joined), actor)] = events.as_slice() else {
        panic!("one member joined: {events:?}");
    };
    let olive = joined.staff_id.to_string();
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

async fn a_token_for_a_member_is_made_by_their_email(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
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
            "owner",
        ],
    );
    let printed = lodge_ok(&db, folder.path(), &["token", "create", "--staff", "val@firm.example"]);
    let token = printed.lines().last().unwrap();
    assert!(
        token.starts_with("lodge_staff_"),
        "the token alone on the last line: {printed}"
    );
    let listed = lodge_ok(&db, folder.path(), &["token", "list"]);
    assert!(listed.contains("Val Viewer  val@firm.example"), "{listed}");

    assert!(refused(&db, folder.path(), &["token", "create", "--staff", "nia@firm.example"]).contains("no member nia"));
    let mut command = lodge(&db, folder.path());
    command.args([
        "token",
        "create",
        "--staff",
        "val@firm.example",
        "--name",
        "Someone Else",
    ]);
    assert_eq!(
        run(command).status.code(),
        Some(2),
        "a member's token takes their own name"
    );
    // Scripts that name the token keep working.
    let named = lodge_ok(&db, folder.path(), &["token", "create", "--name", "Build Script"]);
    assert!(named.lines().last().unwrap().starts_with("lodge_staff_"));
}

/// Records `command` on the team's stream as the operator would.
async fn team_command(app: &TestApp, command: TeamCommand) {
    command::execute::<TeamDecider>(&app.log, &StreamId::team(), &command, &Metadata::new(Actor::System))
        .await
        .expect("the team takes the command");
}

/// A team of Olive (owner) and Val (`role`), and a token of Val's.
async fn olive_and_val(app: &TestApp, role: Role) -> (StaffId, String) {
    let join = |email: &str, name: &str, role| {
        TeamCommand::AddMember(AddMember {
            by: Authority::Operator,
            staff_id: StaffId::from_uuid(uuid::Uuid::now_v7()),
            email: email.into(),
            name: name.into(),
            role,
        })
    };
    team_command(app, join("olive@firm.example", "Olive Owner", Role::Owner)).await;
    let val = join("val@firm.example", "Val Viewer", role);
    let TeamCommand::AddMember(AddMember { staff_id, .. }) = &val else {
        unreachable!()
    };
    let staff_id = *staff_id;
    team_command(app, val).await;
    let token = tokens::create_for_member(app.store.store(), staff_id, "Val Viewer", "val@firm.example", role)
        .await
        .unwrap()
        .token;
    (staff_id, token)
}

async fn a_viewers_token_reads_everything_and_changes_nothing(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let (_, token) = olive_and_val(&app, Role::Viewer).await;
    let val = app.staff_with(&token);
    let invite = sent.id.to_string();
    for path in [
        format!("/api/invites?after={}", sent.position),
        format!("/api/invites/{invite}"),
        format!("/api/invites/{invite}/audit"),
        format!("/api/invites/{invite}/history"),
    ] {
        expect(val.get(&path).await, StatusCode::OK).await;
    }
    let before = app.event_count().await;
    expect_problem(
        val.post("/api/invites", &two_contact_invite()).await,
        StatusCode::FORBIDDEN,
        "Val Viewer is a viewer",
    )
    .await;
    let contact = sent.contacts[0].id;
    expect_problem(
        val.post(
            &format!("/api/invites/{invite}/messages"),
            &serde_json::json!({"contact_id": contact, "body": "Hello"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "needs the staff or owner role",
    )
    .await;
    expect_problem(
        val.post(&format!("/api/invites/{invite}/cancel"), &serde_json::json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "viewer",
    )
    .await;
    assert_eq!(app.event_count().await, before, "nothing recorded");
    app.stop().await;
}

async fn a_members_token_acts_with_the_role_they_have_now_and_dies_with_deactivation(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (val_id, token) = olive_and_val(&app, Role::Viewer).await;
    let val = app.staff_with(&token);
    expect_problem(
        val.post("/api/invites", &two_contact_invite()).await,
        StatusCode::FORBIDDEN,
        "viewer",
    )
    .await;
    team_command(
        &app,
        TeamCommand::ChangeRole(ChangeRole {
            by: Authority::Operator,
            staff_id: val_id,
            role: Role::Staff,
        }),
    )
    .await;
    // Made as the operator would, around the server: it takes the change up within moments.
    within_moments("the new role", || async {
        val.post("/api/invites", &two_contact_invite()).await.status() != StatusCode::FORBIDDEN
    })
    .await;
    expect(
        val.post("/api/invites", &two_contact_invite()).await,
        StatusCode::CREATED,
    )
    .await;

    team_command(
        &app,
        TeamCommand::Deactivate(MemberChange {
            by: Authority::Operator,
            staff_id: val_id,
        }),
    )
    .await;
    within_moments("the deactivation", || async {
        val.get("/api/invites").await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    expect_problem(
        val.get("/api/invites").await,
        StatusCode::UNAUTHORIZED,
        "Val Viewer was deactivated",
    )
    .await;
    team_command(
        &app,
        TeamCommand::Reactivate(MemberChange {
            by: Authority::Operator,
            staff_id: val_id,
        }),
    )
    .await;
    within_moments("the reactivation", || async {
        val.get("/api/invites").await.status() == StatusCode::OK
    })
    .await;
    app.stop().await;
}

async fn an_owner_manages_the_team_over_http_and_no_one_else_does(db: TestDatabase) {
    use lodge_api::staff::team::{AddedMember, TeamView};
    use serde_json::json;

    let app = TestApp::start(db).await;
    let (val_id, val_token) = olive_and_val(&app, Role::Viewer).await;
    let olive_id = lodge_api::staff::team::team(&app.log)
        .await
        .unwrap()
        .by_email("olive@firm.example")
        .unwrap()
        .0;
    let olive_token = tokens::create_for_member(
        app.store.store(),
        olive_id,
        "Olive Owner",
        "olive@firm.example",
        Role::Owner,
    )
    .await
    .unwrap()
    .token;
    let (olive, val) = (app.staff_with(&olive_token), app.staff_with(&val_token));

    let team: TeamView = expect_as(val.get("/api/team").await, StatusCode::OK).await;
    let names: Vec<(&str, Role, bool)> = team
        .members
        .iter()
        .map(|m| (m.name.as_str(), m.role, m.active))
        .collect();
    assert_eq!(
        names,
        [("Olive Owner", Role::Owner, true), ("Val Viewer", Role::Viewer, true)]
    );

    let sam = json!({"email": "sam@firm.example", "name": "Sam Staff", "role": "staff"});
    expect_problem(
        val.post("/api/team/members", &sam).await,
        StatusCode::FORBIDDEN,
        "only an owner",
    )
    .await;
    expect_problem(
        app.staff().post("/api/team/members", &sam).await,
        StatusCode::FORBIDDEN,
        "only an owner",
    )
    .await;
    let added: AddedMember = expect_as(olive.post("/api/team/members", &sam).await, StatusCode::CREATED).await;
    expect_problem(
        olive.post("/api/team/members", &sam).await,
        StatusCode::CONFLICT,
        "already a member",
    )
    .await;
    let team: TeamView = expect_as(olive.get("/api/team").await, StatusCode::OK).await;
    assert_eq!(team.members.len(), 3);
    assert_eq!(team.members[2].id, added.id);

    // Val's new role applies to her very next request.
    expect(
        olive
            .patch(&format!("/api/team/members/{val_id}"), json!({"role": "staff"}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect(
        val.post("/api/invites", &two_contact_invite()).await,
        StatusCode::CREATED,
    )
    .await;
    expect_problem(
        olive
            .patch(&format!("/api/team/members/{olive_id}"), json!({"role": "viewer"}))
            .await,
        StatusCode::CONFLICT,
        "needs an active owner",
    )
    .await;
    expect_problem(
        olive.patch(&format!("/api/team/members/{val_id}"), json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "give `role`",
    )
    .await;
    let stranger = uuid::Uuid::now_v7();
    expect_problem(
        olive
            .patch(&format!("/api/team/members/{stranger}"), json!({"active": false}))
            .await,
        StatusCode::NOT_FOUND,
        "no member",
    )
    .await;
    expect(
        olive
            .patch(&format!("/api/team/members/{val_id}"), json!({"active": false}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect_problem(val.get("/api/team").await, StatusCode::UNAUTHORIZED, "deactivated").await;

    // Each change is on the record as Olive's.
    let recorded = app.log.read_stream(&StreamId::team()).await.unwrap();
    let by_olive: Vec<&str> = recorded
        .iter()
        .filter(|e| matches!(&e.metadata.actor, Actor::Staff { name, .. } if name == "Olive Owner"))
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(by_olive, ["MemberJoined", "MemberRoleChanged", "MemberDeactivated"]);
    app.stop().await;
}
