//! The `lodge` binary end to end: real processes against a fresh database on each engine.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::process::{json_lines, lodge, lodge_ok, run, stderr, stdout};
use lodge_domain::EventSchema;
use lodge_domain::invite::InviteEvent;
use lodge_eventlog::Engine;
use lodge_eventlog::testing::TestDatabase;
use serde_json::Value;

lodge_eventlog::test_on_both_engines!(
    lodge_status_sets_up_the_database_and_says_what_to_do_next,
    the_demo_invite_reads_back_as_json_lines_and_verifies,
    verify_reports_a_tampered_event_and_fails,
    bad_input_gets_a_clear_error_and_changes_nothing,
    configuration_comes_from_a_file_and_the_environment,
    log_follow_prints_what_another_process_appends,
    lodge_project_builds_the_portal_views,
    lodge_history_shows_an_invite_as_it_stood_with_its_chain_checked,
    lodge_rebuild_replaces_every_read_model_and_reports_it,
    a_bare_lodge_serves_the_api_until_sigterm,
);

async fn a_bare_lodge_serves_the_api_until_sigterm(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let token = lodge_ok(
        &db,
        folder.path(),
        &["token", "create", "--name", "Sam Staff", "--email", "sam@firm.example"],
    );
    let token = token.lines().last().unwrap().to_owned();
    assert!(
        token.starts_with("lodge_staff_"),
        "the token alone on the last line: {token}"
    );

    let mut server = lodge(&db, folder.path())
        .env("LODGE_LISTEN", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(server.stderr.take().unwrap()).lines();
    let address = loop {
        let line = said.next().expect("lodge says where it serves").unwrap();
        if let Some(rest) = line.split("serving at ").nth(1) {
            break rest.trim().to_owned();
        }
    };
    let client = reqwest::Client::new();
    let health = client.get(format!("{address}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let invites = client
        .get(format!("{address}/api/invites"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(invites.status(), 200, "the token printed by lodge token create works");

    let terminated = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "lodge did not stop within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "lodge stops cleanly on SIGTERM: {status:?}");

    // Revoked, the token no longer works (checked through the library: the server is gone).
    let list = lodge_ok(&db, folder.path(), &["token", "list"]);
    let id = list.split_whitespace().next().unwrap();
    lodge_ok(&db, folder.path(), &["token", "revoke", id]);
    assert!(lodge_ok(&db, folder.path(), &["token", "list"]).contains("revoked"));
}

async fn lodge_status_sets_up_the_database_and_says_what_to_do_next(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let out = lodge_ok(&db, folder.path(), &["status"]);
    assert!(out.contains("0 events in 0 streams"), "{out}");
    assert!(out.contains("projector  portal: not run yet"), "{out}");
    assert!(out.contains("lodge demo"), "{out}");
    let engine = match db.engine() {
        Engine::Sqlite => "SQLite",
        Engine::Postgres => "PostgreSQL",
    };
    assert!(out.contains(engine), "{out}");
    assert!(lodge_ok(&db, folder.path(), &["migrate"]).contains("up to date"));
    assert!(
        !folder.path().join("lodge-data").exists(),
        "the configured database is used, not the default"
    );
}

async fn the_demo_invite_reads_back_as_json_lines_and_verifies(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let said = lodge_ok(&db, folder.path(), &["demo"]);
    assert!(said.contains("Tax return 2026"), "{said}");

    let events = json_lines(&lodge_ok(&db, folder.path(), &["log"]));
    assert_eq!(events.len(), 2);
    let types: Vec<&str> = events.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["InviteSent", "MessagePosted"]);
    for event in &events {
        let decoded = InviteEvent::from_json(
            event["event_type"].as_str().unwrap(),
            event["schema_version"].as_u64().unwrap() as u32,
            &event["data"].to_string(),
        )
        .expect("the log holds real Invite events");
        assert_eq!(decoded.event_type(), event["event_type"]);
        assert_eq!(event["hash"].as_str().unwrap().len(), 64);
        assert_eq!(event["metadata"]["actor"]["kind"], "staff");
    }
    assert_eq!(
        events[1]["metadata"]["causation_id"],
        events[0]["metadata"]["command_id"]
    );
    let stream = events[0]["stream_id"].as_str().unwrap();
    assert!(said.contains(stream), "the demo names its stream");

    let by_stream = json_lines(&lodge_ok(&db, folder.path(), &["log", "--stream", stream]));
    assert_eq!(by_stream, events);
    let first = events[0]["position"].to_string();
    let after_first = json_lines(&lodge_ok(&db, folder.path(), &["log", "--after", &first]));
    assert_eq!(after_first, events[1..]);
    assert_eq!(
        json_lines(&lodge_ok(&db, folder.path(), &["log", "--limit", "1"])),
        events[..1]
    );

    let verified = lodge_ok(&db, folder.path(), &["verify"]);
    assert!(verified.contains("OK: 2 events in 1 stream"), "{verified}");
    assert!(lodge_ok(&db, folder.path(), &["status"]).contains("2 events in 1 stream"));
}

async fn tamper(db: &TestDatabase, sql: &str) {
    use sqlx::{Connection, Executor};
    match db.engine() {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            conn.execute("DROP TRIGGER lodge_events_no_update").await.unwrap();
            conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.unwrap();
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            conn.execute("ALTER TABLE lodge_events DISABLE TRIGGER lodge_events_no_update_or_delete")
                .await
                .unwrap();
            conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.unwrap();
        }
    }
}

async fn verify_reports_a_tampered_event_and_fails(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    lodge_ok(&db, folder.path(), &["demo"]);
    let events = json_lines(&lodge_ok(&db, folder.path(), &["log"]));
    let stream = events[0]["stream_id"].as_str().unwrap();
    let data = match db.engine() {
        Engine::Sqlite => "data",
        Engine::Postgres => "data::text",
    };
    let forged = format!("replace({data}, 'Tax return 2026', 'Nothing to see')");
    let forged = match db.engine() {
        Engine::Sqlite => forged,
        Engine::Postgres => format!("({forged})::json"),
    };
    tamper(
        &db,
        &format!(
            "UPDATE lodge_events SET data = {forged} WHERE position = {}",
            events[0]["position"]
        ),
    )
    .await;
    let mut command = lodge(&db, folder.path());
    command.arg("verify");
    let output = run(command);
    assert_eq!(output.status.code(), Some(1));
    let report = stdout(&output);
    assert!(
        report.contains(&format!("BROKEN: stream {stream}, version 1")),
        "{report}"
    );
    assert!(report.contains("changed"), "{report}");
}

async fn bad_input_gets_a_clear_error_and_changes_nothing(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    lodge_ok(&db, folder.path(), &["demo"]);
    let before = lodge_ok(&db, folder.path(), &["log"]);

    let fails = |args: &[&str], expected: &str| {
        let mut command = lodge(&db, folder.path());
        command.args(args);
        let output = run(command);
        assert_eq!(output.status.code(), Some(1), "lodge {args:?}: {}", stdout(&output));
        let message = stderr(&output);
        assert!(message.contains(expected), "lodge {args:?} said: {message}");
        assert!(!message.contains("panicked"), "{message}");
    };
    fails(&["log", "--stream", "no such stream"], "is not a stream id");
    fails(
        &["log", "--stream", "invite-nobody"],
        "there is no stream invite-nobody",
    );
    fails(&["log", "--after", "999999"], "there is no event at position 999999");

    let mut command = lodge(&db, folder.path());
    command.args(["log", "--stream", "invite-x", "--follow"]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(2), "clap refuses conflicting flags");

    let mut command = lodge(&db, folder.path());
    command.arg("status");
    command.env("LODGE_DATABASE_URL", "mysql://root@localhost/lodge");
    let output = run(command);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not a database URL Lodge can use"),
        "{}",
        stderr(&output)
    );

    // Portal pages and emails are checked at start: a mistake stops `lodge serve`, saying what.
    for (key, value, expected) in [
        ("LODGE_FIRM_COLOUR", "red", "must be #rrggbb"),
        ("LODGE_HELP_DIR", "/no/such/help", "the help folder /no/such/help"),
        (
            "LODGE_TEMPLATES_DIR",
            "/no/such/templates",
            "templates folder /no/such/templates does not exist",
        ),
    ] {
        let mut command = lodge(&db, folder.path());
        command.arg("serve").env("LODGE_LISTEN", "127.0.0.1:0").env(key, value);
        let output = run(command);
        assert_eq!(output.status.code(), Some(1), "{key}={value}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{key}={value}: {}", stderr(&output));
    }

    assert_eq!(lodge_ok(&db, folder.path(), &["log"]), before, "nothing changed");
}

async fn configuration_comes_from_a_file_and_the_environment(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("custom.toml");
    std::fs::write(&file, format!("database_url = \"{}\"\n", db.url())).unwrap();

    let mut command = lodge(&db, folder.path());
    command
        .env_remove("LODGE_DATABASE_URL")
        .args(["--config", file.to_str().unwrap(), "demo"]);
    assert!(run(command).status.success());
    // The default file name is read from the working folder.
    std::fs::copy(&file, folder.path().join("lodge.toml")).unwrap();
    let mut command = lodge(&db, folder.path());
    command.env_remove("LODGE_DATABASE_URL").arg("status");
    assert!(stdout(&run(command)).contains("2 events in 1 stream"));
    // The environment wins over the file.
    let other = folder.path().join("other.db");
    let mut command = lodge(&db, folder.path());
    command
        .env("LODGE_DATABASE_URL", format!("sqlite://{}", other.display()))
        .arg("status");
    assert!(stdout(&run(command)).contains("0 events in 0 streams"));

    std::fs::write(folder.path().join("lodge.toml"), "databse_url = \"typo\"\n").unwrap();
    let mut command = lodge(&db, folder.path());
    command.env_remove("LODGE_DATABASE_URL").arg("status");
    let output = run(command);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("databse_url"), "{}", stderr(&output));

    let mut command = lodge(&db, folder.path());
    command.args(["--config", "missing.toml", "status"]);
    let output = run(command);
    assert!(
        stderr(&output).contains("missing.toml does not exist"),
        "{}",
        stderr(&output)
    );
}

async fn log_follow_prints_what_another_process_appends(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    lodge_ok(&db, folder.path(), &["migrate"]);
    let mut follower = lodge(&db, folder.path())
        .args(["log", "--follow", "--limit", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::thread::spawn({
        let stdout = follower.stdout.take().unwrap();
        move || BufReader::new(stdout).lines().map(Result::unwrap).collect::<Vec<_>>()
    });
    std::thread::sleep(Duration::from_millis(300));
    lodge_ok(&db, folder.path(), &["demo"]);

    let started = Instant::now();
    while follower.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the follower saw the demo's events"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let printed = lines.join().unwrap();
    let types: Vec<String> = printed
        .iter()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["event_type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(types, ["InviteSent", "MessagePosted"]);
}

async fn lodge_project_builds_the_portal_views(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    lodge_ok(&db, folder.path(), &["demo"]);
    let last = json_lines(&lodge_ok(&db, folder.path(), &["log"]))[1]["position"].clone();
    let mut projector = lodge(&db, folder.path())
        .arg("project")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let status = loop {
        let status = lodge_ok(&db, folder.path(), &["status"]);
        let caught_up = ["portal", "audit"]
            .iter()
            .all(|name| status.contains(&format!("projector  {name}: at position {last}")));
        if caught_up {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the projector caught up: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    projector.kill().unwrap();
    projector.wait().unwrap();
    assert!(status.contains("2 events in 1 stream\n"), "{status}");

    use sqlx::Connection;
    let views: i64 = match db.engine() {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query_scalar("SELECT count(*) FROM portal_views")
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query_scalar("SELECT count(*) FROM portal_views")
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    };
    assert_eq!(views, 2, "one portal view per contact of the demo invite");

    let invite = json_lines(&lodge_ok(&db, folder.path(), &["log"]))[0]["data"]["invite_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let trail = json_lines(&lodge_ok(&db, folder.path(), &["audit", "--invite", &invite]));
    let actions: Vec<&str> = trail.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["invite_sent", "message_posted"]);
    assert_eq!(trail[0]["actor"]["kind"], "staff");
    let csv = lodge_ok(&db, folder.path(), &["audit", "--invite", &invite, "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("position,invite_id,stream_version,at,actor_kind"),
        "{csv}"
    );
    assert!(
        lines[1].contains(",staff,") && lines[1].contains(",invite_sent,"),
        "{csv}"
    );
    let elsewhere = lodge_ok(
        &db,
        folder.path(),
        &["audit", "--invite", "00000000-0000-0000-0000-000000000001"],
    );
    assert!(elsewhere.is_empty());
}

async fn lodge_history_shows_an_invite_as_it_stood_with_its_chain_checked(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    lodge_ok(&db, folder.path(), &["demo"]);
    let events = json_lines(&lodge_ok(&db, folder.path(), &["log"]));
    let invite = events[0]["data"]["invite_id"].as_str().unwrap().to_owned();

    let table = lodge_ok(&db, folder.path(), &["history", "--invite", &invite]);
    assert!(table.contains("Invite \"Tax return 2026\""), "{table}");
    assert!(table.contains("Ana Alves <ana@example.com>: 0 of 3 done"), "{table}");
    assert!(table.contains("Hash chain: intact (2 events checked)."), "{table}");

    // As of the moment of the first event, the message had not been written.
    let sent_at = events[0]["recorded_at"].as_str().unwrap();
    let json: Value = serde_json::from_str(&lodge_ok(
        &db,
        folder.path(),
        &["history", "--invite", &invite, "--as-of", sent_at, "--json"],
    ))
    .unwrap();
    assert_eq!(json["events"], 1);
    assert_eq!(json["chain"]["intact"], true);
    assert_eq!(json["invite"]["title"], "Tax return 2026");

    let mut command = lodge(&db, folder.path());
    command.args(["history", "--invite", &invite, "--as-of", "2020-01-01"]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("did not exist yet at 2020-01-01 23:59:59.999999 UTC"),
        "{}",
        stderr(&output)
    );

    let mut command = lodge(&db, folder.path());
    command.args(["history", "--invite", "00000000-0000-0000-0000-000000000009"]);
    let output = run(command);
    assert!(stderr(&output).contains("there is no invite 00000000-0000-0000-0000-000000000009"));

    let mut command = lodge(&db, folder.path());
    command.args(["history", "--invite", &invite, "--as-of", "yesterday"]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("is not a moment"), "{}", stderr(&output));
}

async fn lodge_rebuild_replaces_every_read_model_and_reports_it(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    lodge_ok(&db, folder.path(), &["demo"]);
    let events = json_lines(&lodge_ok(&db, folder.path(), &["log"]));
    let invite = events[0]["data"]["invite_id"].as_str().unwrap().to_owned();

    let report = lodge_ok(&db, folder.path(), &["rebuild", "--all"]);
    assert!(
        report.contains("Rebuilt portal, staff, audit from 1 stream (2 events)"),
        "{report}"
    );
    for name in ["portal", "staff", "audit"] {
        assert!(
            report.contains(&format!("{name}: generation 2 replaced generation 1 (dropped)")),
            "{report}"
        );
    }
    let status = lodge_ok(&db, folder.path(), &["status"]);
    let last = &events[1]["position"];
    assert!(
        status.contains(&format!("projector  staff: at position {last}")),
        "{status}"
    );
    let trail = json_lines(&lodge_ok(&db, folder.path(), &["audit", "--invite", &invite]));
    assert_eq!(trail.len(), 2, "the rebuilt audit trail serves at once");

    let again = lodge_ok(&db, folder.path(), &["rebuild", "audit"]);
    assert!(again.contains("audit: generation 3 replaced generation 2"), "{again}");

    let mut command = lodge(&db, folder.path());
    command.args(["rebuild", "nope"]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("there is no projection `nope`; there are: portal, staff, audit"));
    let mut command = lodge(&db, folder.path());
    command.arg("rebuild");
    assert_eq!(run(command).status.code(), Some(2), "a name or --all is required");
}

/// The application names of the processes holding projector leadership, one row per projector led.
async fn leaders(db: &TestDatabase) -> Vec<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::query_scalar(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.classid = 1819239269 AND l.granted ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

async fn eventually_leaders(db: &TestDatabase, expected: &[&str]) {
    let started = Instant::now();
    loop {
        let now = leaders(db).await;
        if now == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "leaders {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn projector_process(db: &TestDatabase, folder: &Path, name: &str) -> std::process::Child {
    lodge(db, folder)
        .env("LODGE_DATABASE_URL", format!("{}?application_name={name}", db.url()))
        .arg("project")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_until_projected(db: &TestDatabase, folder: &Path, position: &Value) {
    let started = Instant::now();
    loop {
        let status = lodge_ok(db, folder, &["status"]);
        if ["portal", "staff", "audit"]
            .iter()
            .all(|name| status.contains(&format!("projector  {name}: at position {position}")))
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "projected up to {position}: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_each_projector_runs_in_one_process_and_another_takes_over_when_it_dies() {
    let db = TestDatabase::postgres().await;
    let folder = tempfile::tempdir().unwrap();
    lodge_ok(&db, folder.path(), &["migrate"]);

    let mut first = projector_process(&db, folder.path(), "lodge-first");
    eventually_leaders(&db, &["lodge-first"; 3]).await;
    let mut second = projector_process(&db, folder.path(), "lodge-second");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(leaders(&db).await, ["lodge-first"; 3], "the second process waits");

    lodge_ok(&db, folder.path(), &["demo"]);
    let events = json_lines(&lodge_ok(&db, folder.path(), &["log"]));
    wait_until_projected(&db, folder.path(), &events[1]["position"]);

    first.kill().unwrap();
    first.wait().unwrap();
    eventually_leaders(&db, &["lodge-second"; 3]).await;

    lodge_ok(&db, folder.path(), &["demo"]);
    let events = json_lines(&lodge_ok(&db, folder.path(), &["log"]));
    assert_eq!(events.len(), 4);
    wait_until_projected(&db, folder.path(), &events[3]["position"]);
    second.kill().unwrap();
    second.wait().unwrap();

    // Nothing lost, nothing twice: one audit entry per event, and both invites in the staff list.
    let mut entries = Vec::new();
    for invite in [&events[0], &events[2]] {
        let invite = invite["data"]["invite_id"].as_str().unwrap();
        entries.extend(json_lines(&lodge_ok(
            &db,
            folder.path(),
            &["audit", "--invite", invite],
        )));
    }
    let mut positions: Vec<i64> = entries.iter().map(|e| e["position"].as_i64().unwrap()).collect();
    positions.sort();
    let mut expected: Vec<i64> = events.iter().map(|e| e["position"].as_i64().unwrap()).collect();
    expected.sort();
    assert_eq!(positions, expected);
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    let invites: i64 = sqlx::query_scalar("SELECT count(*) FROM staff_invites")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(invites, 2);
}
