//! `lodge serve` as an operator runs it: configured through the environment with values that look
//! like numbers, started under a permissive umask, and with its diagnostics turned all the way up.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::process::{Serving, lodge, lodge_under_permissive_umask};
use crate::support::{SentInvite, json_at, link_token, open_session, page_text};
use lodge_eventlog::Engine;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

lodge_eventlog::test_on_both_engines!(
    settings_that_look_like_numbers_are_read_as_text,
    files_are_the_owners_alone_whatever_the_umask,
    no_secret_reaches_the_log_at_any_level,
    metrics_are_served_on_the_operators_own_address,
    a_failure_on_our_side_is_logged_with_its_cause_and_not_told,
);

/// A staff token for a server on `db`, made as the README says.
fn staff_token(db: &TestDatabase, folder: &Path) -> String {
    let output = lodge(db, folder)
        .args(["token", "create", "--name", "Sam Staff", "--email", "sam@firm.example"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned()
}

fn invite(password: Option<&str>) -> Value {
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(10)).to_string();
    let mut body = json!({
        "title": "Tax return 2026", "due_date": due, "channels": ["email", "sms"],
        "contacts": [{"name": "Ana Alves", "email": "ana@example.com", "phone": "+61400000001"}],
        "requests": [{"kind": "file", "title": "Payslips"}]
    });
    if let Some(password) = password {
        body["portal_password"] = json!(password);
    }
    body
}

async fn send(serving: &Serving, token: &str, body: &Value) -> SentInvite {
    let response = reqwest::Client::new()
        .post(serving.url("/api/invites"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn settings_that_look_like_numbers_are_read_as_text(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    std::fs::create_dir(folder.path().join("2026")).unwrap();
    let token = staff_token(&db, folder.path());
    let key = "1234567890".repeat(7)[..64].to_owned();
    let mut command = lodge(&db, folder.path());
    command
        .env("LODGE_FIRM_NAME", "1984")
        .env("LODGE_FIRM_PHONE", "+61299998888")
        .env("LODGE_FIRM_ADDRESS", "10")
        .env("LODGE_FIRM_EMAIL", "office@firm.example")
        .env("LODGE_TWILIO_ACCOUNT_SID", "12345")
        .env("LODGE_TWILIO_AUTH_TOKEN", "true")
        .env("LODGE_TWILIO_FROM", "+15550001111")
        .env("LODGE_TWILIO_BASE_URL", "http://127.0.0.1:9")
        .env("LODGE_SECRET_KEY", &key)
        .env("LODGE_TEMPLATES_DIR", "2026")
        .env("LODGE_HELP_DIR", "2026")
        .env("LODGE_MAX_CONNECTIONS", "64")
        .env("LODGE_RATE_LIMITS", "false");
    let serving = Serving::start(command);
    let sent = send(&serving, &token, &invite(None)).await;
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let url = sent.contacts[0].portal_url.as_str();
    assert_eq!(browser.get(url).send().await.unwrap().status(), StatusCode::OK);
    let page = page_text(&browser, &serving.url("/portal/contact")).await;
    assert!(page.contains("1984"), "the firm's name");
    assert!(page.contains("+61299998888"), "the firm's phone");
    let said = serving.stop();
    assert!(!said.contains("invalid configuration"), "{said}");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

async fn files_are_the_owners_alone_whatever_the_umask(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let sqlite = db.engine() == Engine::Sqlite;
    let data = folder.path().join("lodge-data");
    // Lodge's own default folder for the embedded database and the blobs.
    let database_url = if sqlite {
        format!("sqlite://{}", data.join("lodge.db").display())
    } else {
        db.url().to_owned()
    };
    let made = lodge_under_permissive_umask(&db, folder.path())
        .env("LODGE_DATABASE_URL", &database_url)
        .args(["token", "create", "--name", "Sam", "--email", "sam@firm.example"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let token = String::from_utf8(made.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let mut shell = lodge_under_permissive_umask(&db, folder.path());
    shell.env("LODGE_DATABASE_URL", &database_url);
    let serving = Serving::start(shell);
    let sent = send(&serving, &token, &invite(None)).await;
    let contact = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let token = link_token(sent.contacts[0].portal_url.as_str()).to_owned();
    let opened = open_session(&contact, &serving.address, &token).await;
    assert_eq!(opened.status(), StatusCode::OK);
    let request = &sent.requests[0].id.to_string();
    let part = reqwest::multipart::Part::bytes(b"%PDF-1.7\n%payslip\n%%EOF\n".to_vec()).file_name("p.pdf");
    let uploaded = contact
        .post(serving.url(&format!("/api/portal/requests/{request}/documents")))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let uploaded: Value = uploaded.json().await.unwrap();
    let sha256 = uploaded["documents"][0]["sha256"].as_str().unwrap();
    serving.stop();

    assert_eq!(mode(&data), 0o700, "the data folder");
    assert_eq!(mode(&data.join("secret.key")), 0o600, "the key");
    assert_eq!(mode(&data.join("blobs")), 0o700, "the blob folder");
    assert_eq!(mode(&data.join("blobs/sha256")), 0o700, "the blobs' folder");
    assert_eq!(
        mode(&data.join(format!("blobs/sha256/{sha256}"))),
        0o600,
        "an uploaded file"
    );
    if sqlite {
        assert_eq!(mode(&data.join("lodge.db")), 0o600, "the database");
        let journal = data.join("lodge.db-wal");
        if journal.exists() {
            assert_eq!(mode(&journal), 0o600, "the database's journal");
        }
    }
}

/// The values of the cookies a response sets.
fn cookie_values(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok()?.split(';').next()?.split_once('='))
        .map(|(_, value)| value.to_owned())
        .collect()
}

/// Every secret a session used must be absent from the server's diagnostics, even at `trace`.
async fn no_secret_reaches_the_log_at_any_level(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let token = staff_token(&db, folder.path());
    let mut command = lodge(&db, folder.path());
    command.env("LODGE_LOG", "trace");
    let serving = Serving::start(command);
    let password = "correct horse battery staple";
    let sent = send(&serving, &token, &invite(Some(password))).await;
    let invite_id = &sent.id.to_string();
    let contact_id = &sent.contacts[0].id.to_string();
    let link = sent.contacts[0].portal_url.as_str().to_owned();
    let link_token = link.rsplit("/p/").next().unwrap().to_owned();

    // The contact follows the link in a browser and gives the password, wrongly then rightly.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let opened = browser.get(&link).send().await.unwrap();
    let mut cookies = cookie_values(&opened);
    for guess in ["not the password", password] {
        let answer = browser
            .post(serving.url("/portal/password"))
            .form(&[("password", guess)])
            .send()
            .await
            .unwrap();
        cookies.extend(cookie_values(&answer));
    }
    assert_eq!(
        browser.get(serving.url("/portal")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // Staff open the contact's portal through a view link.
    let view = reqwest::Client::new()
        .post(serving.url(&format!("/api/invites/{invite_id}/portal/{contact_id}/view-link")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let view: Value = view.json().await.unwrap();
    let view_url = view["url"].as_str().unwrap().to_owned();
    let viewer = reqwest::Client::builder().cookie_store(true).build().unwrap();
    assert_eq!(viewer.get(&view_url).send().await.unwrap().status(), StatusCode::OK);
    let view_token = view_url.rsplit("/v/").next().unwrap().to_owned();
    // And a wrong link, and a wrong token.
    let _ = browser.get(serving.url(&format!("/p/{}", "f".repeat(64)))).send().await;
    let said = serving.stop();

    assert!(said.contains("request"), "the log has request lines to look at");
    let cookies: Vec<String> = cookies.into_iter().filter(|c| !c.is_empty()).collect();
    assert!(cookies.len() >= 2, "the sessions' cookies: {cookies:?}");
    let mut secrets = vec![
        token.clone(),
        link_token,
        view_token,
        password.to_owned(),
        "f".repeat(64),
    ];
    secrets.extend(cookies);
    for secret in secrets {
        assert!(!said.contains(&secret), "a secret is in the log: {secret}");
    }
}

/// With `LODGE_OPS_LISTEN`, metrics and readiness in full are on that address, without a token; the
/// public address keeps them to itself.
async fn metrics_are_served_on_the_operators_own_address(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let mut command = lodge(&db, folder.path());
    command.env("LODGE_OPS_LISTEN", "127.0.0.1:0");
    let serving = Serving::start(command);
    let said_where = || {
        serving
            .said()
            .lines()
            .find_map(|line| line.split("operations   ").nth(1)?.split(' ').next().map(str::to_owned))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let operations = loop {
        if let Some(address) = said_where() {
            break address;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lodge says where operators read metrics"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let operations = operations.trim_end_matches("/metrics").to_owned();
    let client = reqwest::Client::new();
    let metrics = client.get(format!("{operations}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(metrics.text().await.unwrap().contains("lodge_log_head_position"));
    let ready = json_at(&client, &format!("{operations}/readyz")).await;
    assert!(ready["projectors"].is_array(), "{ready}");
    let public = client.get(serving.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::UNAUTHORIZED);
    let public = json_at(&client, &serving.url("/readyz")).await;
    assert!(public.get("projectors").is_none(), "{public}");
    // The operators' address serves nothing else.
    let elsewhere = client.get(format!("{operations}/api/invites")).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    serving.stop();
}

/// A read model gone from under a running server: the staff's list answers 500 with a
/// detail that names nothing inside, and the log has the cause, once.
async fn a_failure_on_our_side_is_logged_with_its_cause_and_not_told(db: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let token = staff_token(&db, folder.path());
    let serving = Serving::start(lodge(&db, folder.path()));
    let store = lodge_projections::ReadStore::connect(db.url()).await.unwrap();
    lodge_store::on!(store.store(), |c| sqlx::query("DROP VIEW staff_invites")
        .execute(c)
        .await
        .map(|_| ()))
    .unwrap();

    let response = reqwest::Client::new()
        .get(serving.url("/api/invites"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "internal");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("something went wrong on our side"), "{detail}");
    assert!(!detail.contains("staff_invites"), "{detail}");

    let said = serving.stop();
    let failures: Vec<&str> = said.lines().filter(|line| line.contains("request failed")).collect();
    assert_eq!(failures.len(), 1, "{said}");
    assert!(
        failures[0].contains("staff_invites"),
        "the cause is logged: {}",
        failures[0]
    );
}
