//! The notifier end to end: a real SMTP server on loopback (aiosmtpd, installed by `.ci/run`)
//! receives the invitations; the test reads them as MIME and follows the link to a working portal.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{RecordedEvent, StreamId};
use lodge_notifier::NotifierSettings;
use mail_parser::MessageParser;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

lodge_eventlog::test_on_both_engines!(
    invitations_arrive_by_email_with_a_working_link,
    unconfigured_and_unreachable_channels_are_recorded_as_failed,
    sms_goes_through_twilio_and_its_answers_decide_what_is_recorded,
    nothing_is_lost_while_the_mail_server_is_down,
    a_notification_that_keeps_failing_is_given_up_on_the_record,
    a_contact_is_told_of_a_rejection_and_of_a_message_from_staff,
    reminders_follow_the_due_date_on_a_simulated_clock,
    an_invite_with_its_own_reminders_follows_them,
    staff_hear_of_uploads_and_messages_in_one_digest_at_most_every_fifteen_minutes,
    a_crash_between_sending_and_recording_sends_again_and_records_once,
    reminders_count_days_in_the_firms_time_zone,
);

/// An SMTP server that keeps each message it receives as a file, stopped on drop.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub maildir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> String {
    std::env::var("LODGE_TEST_PYTHON").unwrap_or_else(|_| format!("{}/.ci/venv/bin/python", env!("CARGO_MANIFEST_DIR")))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn smtp_server() -> SmtpServer {
    smtp_server_on(free_port()).await
}

async fn smtp_server_on(port: u16) -> SmtpServer {
    smtp_server_with(port, &["aiosmtpd.handlers.Mailbox"], &[]).await
}

/// An SMTP server that keeps each message at once but answers the sender only after
/// `delay_seconds` (`tests/api/smtp/slow_mailbox.py`).
async fn slow_smtp_server(delay_seconds: u32) -> SmtpServer {
    smtp_server_with(
        free_port(),
        &["slow_mailbox.SlowMailbox"],
        &[&delay_seconds.to_string()],
    )
    .await
}

async fn smtp_server_with(port: u16, handler: &[&str], handler_args: &[&str]) -> SmtpServer {
    let maildir = tempfile::tempdir().unwrap();
    let program = python();
    let child = Command::new(&program)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c"])
        .args(handler)
        .arg(maildir.path().join("mail"))
        .args(handler_args)
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/smtp"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "this test needs an SMTP server on loopback: aiosmtpd, run by {program} ({error}).\n\
                 Install it with `python3 -m venv .ci/venv && .ci/venv/bin/pip install aiosmtpd` (.ci/run does),\n\
                 or point LODGE_TEST_PYTHON at a Python that has it."
            )
        });
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    SmtpServer { child, port, maildir }
}

pub fn received(maildir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(maildir.join("mail/new"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    files.sort();
    files
}

pub fn settings(app: &TestApp, smtp_url: Option<String>) -> NotifierSettings {
    NotifierSettings {
        smtp_url: smtp_url.map(Into::into),
        mail_from: "Alves & Co <office@alves.example>".into(),
        public_url: app.base.clone(),
        secret_key: app.secret_key.clone(),
        firm_name: "Alves & Co".into(),
        twilio: None,
        retry: lodge_notifier::RetrySettings {
            first: Duration::from_millis(200),
            longest: Duration::from_millis(400),
            give_up_after: Duration::from_secs(3600),
            check_every: Duration::from_millis(50),
        },
        reminders: lodge_domain::reminder::ReminderPlan::default(),
        reminder_check_every: Duration::from_millis(50),
        time_zone: chrono_tz::UTC,
        digest: lodge_notifier::DigestSettings {
            check_every: Duration::from_millis(50),
            ..lodge_notifier::DigestSettings::default()
        },
        templates: std::sync::Arc::new(lodge_notifier::Templates::built_in()),
        clock: lodge_notifier::system_clock(),
    }
}

pub fn start_notifier(app: &TestApp, settings: NotifierSettings) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(lodge_notifier::run(
        app.log.clone(),
        app.store.clone(),
        settings,
        shutdown.clone(),
    ));
    (
        shutdown.clone(),
        tokio::spawn(async move { task.await.unwrap().expect("the notifier runs") }),
    )
}

async fn events_of(app: &TestApp, invite: &str, event_type: &str, count: usize) -> Vec<RecordedEvent> {
    let stream = StreamId::parse(&format!("invite-{invite}")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found: Vec<RecordedEvent> = app
            .log
            .read_stream(&stream)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == event_type)
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} {event_type}, found {}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn invitations_arrive_by_email_with_a_working_link(db: TestDatabase) {
    let smtp = smtp_server().await;
    let app = TestApp::start(db).await;
    let (stop, notifier) = start_notifier(&app, settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port))));

    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let recorded = events_of(&app, invite, "NotificationSent", 2).await;
    let mails = received(smtp.maildir.path());
    assert_eq!(mails.len(), 2, "one email per contact");

    let raws: Vec<Vec<u8>> = mails.iter().map(|path| std::fs::read(path).unwrap()).collect();
    let texts = |raw: &[u8]| {
        let message = MessageParser::default().parse(raw).expect("a MIME message");
        message.body_text(0).map(|t| t.into_owned()).unwrap_or_default()
    };
    for (index, contact) in sent.contacts.iter().enumerate() {
        let url = contact.portal_url.as_str();
        let raw = raws
            .iter()
            .find(|raw| texts(raw).contains(url))
            .unwrap_or_else(|| panic!("no email carries {}'s link", contact.name));
        let message = MessageParser::default().parse(raw).expect("a MIME message");
        let requests = if index == 0 { 2 } else { 1 };
        assert_eq!(
            message.subject().unwrap(),
            format!("Alves & Co: \"Tax return 2026\" — please send {requests} items").replace("1 items", "1 item")
        );
        assert_eq!(
            message.from().unwrap().first().unwrap().address(),
            Some("office@alves.example")
        );
        let to = message.to().unwrap().first().unwrap().address().unwrap().to_owned();
        assert_eq!(Some(to.as_str()), contact_email(index));
        let text = message.body_text(0).expect("a plain-text part");
        let html = message.body_html(0).expect("an HTML part");
        assert!(text.contains(url) && html.contains(url), "both parts carry the link");
        assert!(text.contains("Sam Staff of Alves & Co asks you for"), "{text}");
        let message_id = format!("<{}>", message.message_id().unwrap());
        assert!(
            recorded
                .iter()
                .any(|e| e.data.contains(&message_id.replace('"', "\\\""))),
            "the event records the Message-ID {message_id}"
        );
    }
    // The link in the email opens the portal.
    let text = texts(&raws[0]);
    let link = text
        .split_whitespace()
        .find(|word| word.starts_with(&format!("{}/p/", app.base)))
        .expect("a link in the email")
        .to_owned();
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    assert_eq!(browser.get(&link).send().await.unwrap().status(), StatusCode::OK);
    let portal: Value = expect(
        browser.get(app.url("/api/portal")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(portal["invite"]["id"], json!(sent.id));

    // The audit trail shows who was told what.
    let last = recorded.last().unwrap().position.0;
    let trail = app.staff().audit(invite, last).await;
    let told: Vec<_> = trail
        .entries
        .iter()
        .filter(|e| e.action == "notification_sent")
        .collect();
    assert_eq!(told.len(), 2);
    assert_eq!(told[0].actor, Actor::System);
    assert!(
        told[0]
            .detail
            .as_deref()
            .unwrap()
            .starts_with("invitation by email to ")
    );

    // A restart sends nothing twice; a reissued link goes out.
    stop.cancel();
    notifier.await.unwrap();
    let (stop, notifier) = start_notifier(&app, settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port))));
    let ana = &sent.contacts[0].id.to_string();
    let reissued = expect(
        app.staff()
            .post(&format!("/api/invites/{invite}/contacts/{ana}/link"), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    events_of(&app, invite, "NotificationSent", 3).await;
    let mails = received(smtp.maildir.path());
    assert_eq!(mails.len(), 3, "the two invitations were not sent again");
    let newest = mails
        .iter()
        .map(|p| texts(&std::fs::read(p).unwrap()))
        .find(|m| m.contains(reissued["portal_url"].as_str().unwrap()))
        .expect("an email with the new link");
    assert!(newest.contains("The old link no longer works"));
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

fn contact_email(index: usize) -> Option<&'static str> {
    ["ana@example.com", "ben@example.com"].get(index).copied()
}

async fn unconfigured_and_unreachable_channels_are_recorded_as_failed(db: TestDatabase) {
    let app = TestApp::start(db).await;
    // Nothing listens on this port: the server is down.
    let down = format!("smtp://127.0.0.1:{}", free_port());
    let (stop, notifier) = start_notifier(&app, settings(&app, Some(down)));
    let mut body = two_contact_invite();
    body["channels"] = json!(["email", "sms"]);
    body["contacts"] = json!([{"name": "Ana Alves", "email": "ana@example.com", "phone": "+61400000001"}]);
    body["requests"] = json!([{"kind": "file", "title": "Payslips"}]);
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    let failed = events_of(&app, invite, "NotificationFailed", 2).await;
    let reasons: Vec<Value> = failed.iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect();
    let sms = reasons.iter().find(|r| r["channel"] == "sms").expect("the SMS failure");
    assert_eq!(sms["permanent"], true);
    assert!(sms["reason"].as_str().unwrap().contains("SMS is not configured"));
    assert_eq!(sms["to"], "+61400000001");
    let email = reasons
        .iter()
        .find(|r| r["channel"] == "email")
        .expect("the email failure");
    assert_eq!(email["permanent"], false, "a server that is down may come back");
    assert!(email["reason"].as_str().unwrap().contains("after 3 tries"), "{email}");
    stop.cancel();
    notifier.await.unwrap();

    // Without any SMTP configuration, the email is recorded as failed for good, saying why.
    let (stop, notifier) = start_notifier(&app, settings(&app, None));
    let second = app.staff().send_invite(&two_contact_invite()).await;
    let failed = events_of(&app, &second.id.to_string(), "NotificationFailed", 2).await;
    assert!(failed[0].data.contains("email is not configured"));
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

/// What the stand-in for Twilio was sent: (path, authorization header, form).
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, std::collections::HashMap<String, String>)>>>;

/// A Twilio-compatible Messages API on loopback. It answers by the number written to: a normal
/// number gets a message sid; +61400000429 is throttled once; +61400000500 always meets a server
/// error; +61400000211 is not a valid number (Twilio's code 21211).
async fn fake_twilio() -> (String, Received) {
    use axum::extract::{Form, State};
    use axum::http::{HeaderMap, StatusCode as Status, Uri};
    use axum::response::IntoResponse;

    let received: Received = Default::default();
    async fn messages(
        State(received): State<Received>,
        uri: Uri,
        headers: HeaderMap,
        Form(form): Form<std::collections::HashMap<String, String>>,
    ) -> axum::response::Response {
        let auth = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let to = form.get("To").cloned().unwrap_or_default();
        let earlier = {
            let mut all = received.lock().unwrap();
            let earlier = all.iter().filter(|(_, _, f)| f.get("To") == Some(&to)).count();
            all.push((uri.path().to_owned(), auth.clone(), form));
            earlier
        };
        // "AC123:secret"
        if auth != "Basic QUMxMjM6c2VjcmV0" {
            return (
                Status::UNAUTHORIZED,
                axum::Json(json!({"code": 20003, "message": "Authenticate"})),
            )
                .into_response();
        }
        match to.as_str() {
            "+61400000429" if earlier == 0 => (
                Status::TOO_MANY_REQUESTS,
                axum::Json(json!({"code": 20429, "message": "Too Many Requests"})),
            )
                .into_response(),
            "+61400000500" => (Status::INTERNAL_SERVER_ERROR, "oops").into_response(),
            "+61400000211" => (
                Status::BAD_REQUEST,
                axum::Json(
                    json!({"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}),
                ),
            )
                .into_response(),
            _ => (
                Status::CREATED,
                axum::Json(json!({"sid": format!("SM{to}"), "status": "queued"})),
            )
                .into_response(),
        }
    }
    let router = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            axum::routing::post(messages),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, received)
}

async fn sms_goes_through_twilio_and_its_answers_decide_what_is_recorded(db: TestDatabase) {
    let (base, received) = fake_twilio().await;
    let app = TestApp::start(db).await;
    let mut notifier_settings = settings(&app, None);
    notifier_settings.twilio = Some(lodge_notifier::TwilioSettings {
        account_sid: "AC123".into(),
        auth_token: "secret".into(),
        from: Some("+15005550006".into()),
        messaging_service_sid: None,
        base_url: base,
    });
    let (stop, notifier) = start_notifier(&app, notifier_settings);
    let mut body = two_contact_invite();
    body["channels"] = json!(["sms"]);
    body["contacts"] = json!([
        {"name": "Ana", "phone": "+61400000001"},
        {"name": "Ben", "phone": "+61400000429"},
        {"name": "Cleo", "phone": "+61400000500"},
        {"name": "Dev", "phone": "+61400000211"}
    ]);
    body["requests"] = json!([{"kind": "file", "title": "Payslips"}]);
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    let delivered = events_of(&app, invite, "NotificationSent", 2).await;
    let failed = events_of(&app, invite, "NotificationFailed", 2).await;
    let data = |events: &[RecordedEvent]| -> Vec<Value> {
        events.iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect()
    };
    let delivered = data(&delivered);
    let failed = data(&failed);
    let by = |list: &[Value], to: &str| {
        list.iter()
            .find(|e| e["to"] == to)
            .cloned()
            .unwrap_or_else(|| panic!("nothing for {to}"))
    };
    assert_eq!(by(&delivered, "+61400000001")["provider_message_id"], "SM+61400000001");
    assert_eq!(
        by(&delivered, "+61400000429")["provider_message_id"],
        "SM+61400000429",
        "a 429 is tried again"
    );
    let server_error = by(&failed, "+61400000500");
    assert_eq!(server_error["permanent"], false);
    assert!(
        server_error["reason"].as_str().unwrap().contains("Twilio 500"),
        "{server_error}"
    );
    let invalid = by(&failed, "+61400000211");
    assert_eq!(invalid["permanent"], true, "an invalid number is not tried again");
    assert!(invalid["reason"].as_str().unwrap().contains("21211"), "{invalid}");

    let requests = received.lock().unwrap().clone();
    assert_eq!(
        requests.iter().filter(|(_, _, f)| f["To"] == "+61400000500").count(),
        3,
        "three tries"
    );
    assert_eq!(
        requests.iter().filter(|(_, _, f)| f["To"] == "+61400000211").count(),
        1,
        "one try"
    );
    let (path, _, form) = requests.iter().find(|(_, _, f)| f["To"] == "+61400000001").unwrap();
    assert_eq!(path, "/2010-04-01/Accounts/AC123/Messages.json");
    assert_eq!(form["From"], "+15005550006");
    let text = &form["Body"];
    assert!(text.ends_with(sent.contacts[0].portal_url.as_str()), "{text}");
    assert!(text.chars().count() <= 160, "one SMS segment: {text}");
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

async fn nothing_is_lost_while_the_mail_server_is_down(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let port = free_port();
    let (stop, notifier) = start_notifier(&app, settings(&app, Some(format!("smtp://127.0.0.1:{port}"))));
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    // Down: the failures are recorded as passing ones.
    let failed = events_of(&app, invite, "NotificationFailed", 2).await;
    assert!(failed.iter().all(|e| e.data.contains("\"permanent\":false")));

    // Up again: the retries deliver each email once, and say so.
    let smtp = smtp_server_on(port).await;
    events_of(&app, invite, "NotificationSent", 2).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(received(smtp.maildir.path()).len(), 2, "each contact gets one email");
    let stream = StreamId::parse(&format!("invite-{invite}")).unwrap();
    let sent_events = app
        .log
        .read_stream(&stream)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "NotificationSent")
        .count();
    assert_eq!(sent_events, 2, "and it is recorded once");
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

async fn a_notification_that_keeps_failing_is_given_up_on_the_record(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let mut given_up_soon = settings(&app, Some(format!("smtp://127.0.0.1:{}", free_port())));
    given_up_soon.retry.give_up_after = Duration::from_millis(300);
    let (stop, notifier) = start_notifier(&app, given_up_soon);
    let mut body = two_contact_invite();
    body["contacts"] = json!([{"name": "Ana Alves", "email": "ana@example.com"}]);
    body["requests"] = json!([{"kind": "file", "title": "Payslips"}]);
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let final_failure = loop {
        let failures = events_of(&app, invite, "NotificationFailed", 1).await;
        if let Some(last) = failures.iter().find(|e| e.data.contains("\"permanent\":true")) {
            break last.data.clone();
        }
        assert!(Instant::now() < deadline, "never given up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(final_failure.contains("gave up after"), "{final_failure}");
    // Given up means no more tries.
    let count = app.event_count().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.event_count().await, count);
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

async fn a_contact_is_told_of_a_rejection_and_of_a_message_from_staff(db: TestDatabase) {
    let smtp = smtp_server().await;
    let app = TestApp::start(db).await;
    let (stop, notifier) = start_notifier(&app, settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port))));
    let mut body = two_contact_invite();
    body["contacts"] = json!([{"name": "Ana Alves", "email": "ana@example.com"}]);
    body["requests"] = json!([{"kind": "file", "title": "Payslips"}]);
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    let url = sent.contacts[0].portal_url.as_str();
    let ana = app.contact(url).await;
    let uploaded = expect(
        ana.upload(&json!(sent.requests[0].id), &[("payslip.pdf", pdf("blurred"))])
            .await,
        StatusCode::CREATED,
    )
    .await;
    let document = uploaded["documents"][0]["id"].as_str().unwrap();
    expect(
        app.staff()
            .post(
                &format!("/api/invites/{invite}/documents/{document}/review"),
                &json!({"decision": "reject", "reason": "The scan is cut off at the bottom"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    // Her own message tells nobody; staff's reply tells her.
    expect(
        ana.post("/api/portal/messages", &json!({"body": "Sending a better one tonight"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    app.staff()
        .write_to(invite, sent.contacts[0].id, "Thanks Ana, no rush.")
        .await;
    events_of(&app, invite, "NotificationSent", 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails: Vec<String> = received(smtp.maildir.path())
        .iter()
        .map(|path| {
            let raw = std::fs::read(path).unwrap();
            let message = MessageParser::default().parse(&raw).unwrap();
            format!(
                "{}\n{}",
                message.subject().unwrap_or(""),
                message.body_text(0).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(mails.len(), 3, "the invitation, the rejection, the reply: {mails:#?}");
    let rejection = mails
        .iter()
        .find(|m| m.contains("could not accept"))
        .expect("a rejection email");
    assert!(rejection.contains("\"payslip.pdf\" for \"Payslips\""), "{rejection}");
    assert!(
        rejection.contains("Why: The scan is cut off at the bottom"),
        "{rejection}"
    );
    assert!(rejection.contains(url), "the contact's own link");
    let reply = mails
        .iter()
        .find(|m| m.contains("wrote to you"))
        .expect("an email with staff's message");
    assert!(reply.contains("Thanks Ana, no rush.") && reply.contains(url), "{reply}");
    assert!(!mails.iter().any(|m| m.contains("Sending a better one tonight")));
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

/// The subject of every email received.
fn subjects(maildir: &Path) -> Vec<String> {
    received(maildir)
        .iter()
        .map(|p| {
            MessageParser::default()
                .parse(&std::fs::read(p).unwrap())
                .unwrap()
                .subject()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

fn reminders_sent(app: &TestApp, invite: &str) -> impl std::future::Future<Output = Vec<Value>> {
    let stream = StreamId::parse(&format!("invite-{invite}")).unwrap();
    let log = app.log.clone();
    async move {
        log.read_stream(&stream)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == "NotificationSent")
            .map(|e| serde_json::from_str::<Value>(&e.data).unwrap())
            .filter(|data| data["kind"] == "reminder")
            .collect()
    }
}

async fn reminders_follow_the_due_date_on_a_simulated_clock(db: TestDatabase) {
    let smtp = smtp_server().await;
    let app = TestApp::start(db).await;
    let start = chrono::Utc::now();
    let now = std::sync::Arc::new(std::sync::Mutex::new(start));
    let mut with_clock = settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port)));
    let clock = now.clone();
    with_clock.clock = std::sync::Arc::new(move || *clock.lock().unwrap());
    let (stop, notifier) = start_notifier(&app, with_clock);
    let set_clock = |days: i64| *now.lock().unwrap() = start + chrono::Duration::days(days);

    // Due in 10 days. Ben finishes at once; Ana does not.
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    let uploaded = expect(
        ben.upload(&json!(sent.requests[0].id), &[("payslip.pdf", pdf("ben"))])
            .await,
        StatusCode::CREATED,
    )
    .await;
    let document = uploaded["documents"][0]["id"].as_str().unwrap();
    let accepted = expect(
        app.staff()
            .post(
                &format!("/api/invites/{invite}/documents/{document}/review"),
                &json!({"decision": "accept"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    expect(
        app.staff()
            .get(&format!("/api/invites/{invite}?after={}", accepted["position"]))
            .await,
        StatusCode::OK,
    )
    .await;
    events_of(&app, invite, "NotificationSent", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(reminders_sent(&app, invite).await.is_empty(), "nothing is due yet");

    // Three days before the due date: Ana, who still owes, is reminded once.
    set_clock(7);
    let deadline = Instant::now() + Duration::from_secs(10);
    while reminders_sent(&app, invite).await.is_empty() {
        assert!(Instant::now() < deadline, "no reminder three days before");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reminders = reminders_sent(&app, invite).await;
    assert_eq!(reminders.len(), 1, "one reminder for the slot: {reminders:?}");
    assert_eq!(reminders[0]["to"], "ana@example.com", "Ben owes nothing");
    let texts = subjects(smtp.maildir.path());
    assert!(
        texts
            .iter()
            .any(|s| s == "Reminder from Alves & Co: \"Tax return 2026\" is due in 3 days"),
        "{texts:?}"
    );

    // After a gap, only the latest slot: the day after the due date, the due-day reminder.
    set_clock(11);
    let deadline = Instant::now() + Duration::from_secs(10);
    while reminders_sent(&app, invite).await.len() < 2 {
        assert!(Instant::now() < deadline, "no reminder once overdue");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        reminders_sent(&app, invite).await.len(),
        2,
        "the missed day-before slot is not sent late"
    );

    // Cancelled: no more reminders, whatever the date.
    expect(
        app.staff()
            .post(&format!("/api/invites/{invite}/cancel"), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect(
        app.staff()
            .get(&format!("/api/invites?status=cancelled&after={}", sent.position))
            .await,
        StatusCode::OK,
    )
    .await;
    set_clock(14);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reminders_sent(&app, invite).await.len(), 2);
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

/// Notifier settings on a clock the test moves: returns the settings and a way to set the time
/// to `start` plus some minutes.
fn on_test_clock(mut settings: NotifierSettings) -> (NotifierSettings, impl Fn(i64), chrono::DateTime<chrono::Utc>) {
    let start = chrono::Utc::now();
    let now = std::sync::Arc::new(std::sync::Mutex::new(start));
    let clock = now.clone();
    settings.clock = std::sync::Arc::new(move || *clock.lock().unwrap());
    let set = move |minutes: i64| *now.lock().unwrap() = start + chrono::Duration::minutes(minutes);
    (settings, set, start)
}

async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn an_invite_with_its_own_reminders_follows_them(db: TestDatabase) {
    let smtp = smtp_server().await;
    let app = TestApp::start(db).await;
    let (with_clock, set_minutes, _) = on_test_clock(settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port))));
    let set_day = |days: i64| set_minutes(days * 24 * 60);
    let (stop, notifier) = start_notifier(&app, with_clock);
    // Due in 10 days; one reminder, five days before (the firm's default would send none then).
    let mut body = two_contact_invite();
    body["reminders"] = json!({"days_before": [5], "overdue_every_days": 0, "at_most": 1});
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    events_of(&app, invite, "NotificationSent", 2).await;
    set_day(5);
    wait_until("no reminder five days before", || async {
        reminders_sent(&app, invite).await.len() == 2
    })
    .await;
    // Its only slot is spent: the firm's default days (3, 1, 0) do not apply to it.
    set_day(7);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        reminders_sent(&app, invite).await.len(),
        2,
        "both contacts once, then nothing"
    );
    // Back to the firm's default: the three-days-before slot is due again.
    expect(
        app.staff()
            .patch(&format!("/api/invites/{invite}"), json!({"reminders": null}))
            .await,
        StatusCode::OK,
    )
    .await;
    wait_until("the firm's default did not resume", || async {
        reminders_sent(&app, invite).await.len() == 4
    })
    .await;
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

fn mails(maildir: &Path) -> Vec<(String, String, String)> {
    received(maildir)
        .iter()
        .map(|path| {
            let raw = std::fs::read(path).unwrap();
            let message = MessageParser::default().parse(&raw).unwrap();
            let to = message
                .to()
                .and_then(|to| to.first())
                .and_then(|a| a.address())
                .unwrap_or("")
                .to_owned();
            (
                to,
                message.subject().unwrap_or("").to_owned(),
                message.body_text(0).unwrap_or_default().into_owned(),
            )
        })
        .collect()
}

async fn staff_hear_of_uploads_and_messages_in_one_digest_at_most_every_fifteen_minutes(db: TestDatabase) {
    let smtp = smtp_server().await;
    let app = TestApp::start(db).await;
    let (with_clock, set_minutes, _) = on_test_clock(settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port))));
    let (stop, notifier) = start_notifier(&app, with_clock);
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    expect(
        ana.upload(
            &json!(sent.requests[0].id),
            &[("payslip-july.pdf", pdf("july")), ("payslip-august.pdf", pdf("august"))],
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect(
        ana.post(
            "/api/portal/messages",
            &json!({"body": "Both payslips <attached>.\nMore soon."}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    // Staff's own message is no news to staff.
    app.staff().write_to(invite, sent.contacts[0].id, "Thank you!").await;
    let digests = |count: usize| {
        let log = app.log.clone();
        let stream = StreamId::parse(&format!("invite-{invite}")).unwrap();
        async move {
            let found = log
                .read_stream(&stream)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.event_type == "StaffDigestSent")
                .map(|e| serde_json::from_str::<Value>(&e.data).unwrap())
                .collect::<Vec<_>>();
            (found.len() == count, found)
        }
    };
    // The digest waits a little for more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(digests(0).await.0, "no digest before the gathering pause");
    set_minutes(3);
    wait_until("no digest", || async { digests(1).await.0 }).await;
    let (_, found) = digests(1).await;
    assert_eq!(found[0]["to"], "sam@firm.example");
    assert_eq!(
        found[0]["covers"].as_array().unwrap().len(),
        3,
        "two uploads and a message"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let to_staff: Vec<_> = mails(smtp.maildir.path())
        .into_iter()
        .filter(|(to, ..)| to == "sam@firm.example")
        .collect();
    assert_eq!(to_staff.len(), 1, "{to_staff:#?}");
    let (_, subject, text) = &to_staff[0];
    assert_eq!(subject, "Alves & Co: news on \"Tax return 2026\" (3 updates)");
    assert!(text.contains("Ana Alves uploaded payslip-july.pdf"), "{text}");
    assert!(text.contains("for \"Payslips\""), "{text}");
    assert!(
        text.contains("Ana Alves wrote:\n  Both payslips <attached>.\n  More soon."),
        "{text}"
    );
    assert!(!text.contains("Thank you!"), "{text}");
    assert!(text.contains("Progress: 0 of 3 done."), "{text}");

    // More news within fifteen minutes of the last digest waits for them to pass.
    expect(
        ana.post("/api/portal/messages", &json!({"body": "The form is next."}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    set_minutes(10);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(digests(1).await.0, "at most one digest per invite per fifteen minutes");
    set_minutes(20);
    wait_until("no second digest", || async { digests(2).await.0 }).await;
    let (_, found) = digests(2).await;
    assert_eq!(found[1]["covers"].as_array().unwrap().len(), 1, "only what is new");
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

async fn a_crash_between_sending_and_recording_sends_again_and_records_once(db: TestDatabase) {
    // The server keeps each email at once and answers 3 s later: long enough to crash the notifier
    // after the email has left and before it is recorded.
    let smtp = slow_smtp_server(3).await;
    let app = TestApp::start(db).await;
    let notifier_settings = settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port)));
    let mut body = two_contact_invite();
    body["contacts"] = json!([{"name": "Ana Alves", "email": "ana@example.com"}]);
    body["requests"] = json!([{"kind": "file", "title": "Payslips"}]);
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    let crashing = tokio::spawn(lodge_notifier::run(
        app.log.clone(),
        app.store.clone(),
        notifier_settings.clone(),
        CancellationToken::new(),
    ));
    let deadline = Instant::now() + Duration::from_secs(15);
    while received(smtp.maildir.path()).is_empty() {
        assert!(Instant::now() < deadline, "the email never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    crashing.abort();
    let _ = crashing.await;
    let recorded = |event_type: &'static str| {
        let log = app.log.clone();
        let stream = StreamId::parse(&format!("invite-{invite}")).unwrap();
        async move {
            log.read_stream(&stream)
                .await
                .unwrap()
                .iter()
                .filter(|e| e.event_type == event_type)
                .count()
        }
    };
    assert_eq!(
        recorded("NotificationSent").await,
        0,
        "the crash came before the record"
    );

    // After a restart the email goes again (delivery is at least once) and is recorded once.
    let (stop, notifier) = start_notifier(&app, notifier_settings);
    events_of(&app, invite, "NotificationSent", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recorded("NotificationSent").await, 1);
    assert_eq!(recorded("NotificationFailed").await, 0);
    assert_eq!(
        received(smtp.maildir.path()).len(),
        2,
        "sent again, as at-least-once says"
    );
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}

/// Two notifiers on one PostgreSQL database (as two servers run them): one leads, every email goes
/// once; when it stops, the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_notifier_at_a_time_across_servers() {
    let smtp = smtp_server().await;
    let app = TestApp::start(TestDatabase::postgres().await).await;
    let smtp_url = Some(format!("smtp://127.0.0.1:{}", smtp.port));
    let (stop_first, first) = start_notifier(&app, settings(&app, smtp_url.clone()));
    let (stop_second, second) = start_notifier(&app, settings(&app, smtp_url));
    let mut invites = Vec::new();
    for _ in 0..3 {
        invites.push(app.staff().send_invite(&two_contact_invite()).await);
    }
    for sent in &invites {
        events_of(&app, &sent.id.to_string(), "NotificationSent", 2).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(received(smtp.maildir.path()).len(), 6, "each email once");
    for sent in &invites {
        let stream = StreamId::parse(&format!("invite-{}", &sent.id.to_string())).unwrap();
        let outcomes = app.log.read_stream(&stream).await.unwrap();
        let sent_events = outcomes.iter().filter(|e| e.event_type == "NotificationSent").count();
        assert_eq!(sent_events, 2, "each outcome recorded once");
    }
    // Whichever led stops; the other takes over within a few seconds.
    stop_first.cancel();
    first.await.unwrap();
    let later = app.staff().send_invite(&two_contact_invite()).await;
    events_of(&app, &later.id.to_string(), "NotificationSent", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(received(smtp.maildir.path()).len(), 8);
    stop_second.cancel();
    second.await.unwrap();
    app.stop().await;
}

/// "Due in 3 days" is counted in the firm's time zone: at noon UTC it is already tomorrow in
/// Kiritimati (UTC+14), so an invite due four UTC days ahead is due in three days there, and its
/// three-days-before reminder goes; counted in UTC days it would not be due yet.
async fn reminders_count_days_in_the_firms_time_zone(db: TestDatabase) {
    let smtp = smtp_server().await;
    let firm = chrono_tz::Pacific::Kiritimati;
    let app = TestApp::start_with(db, |settings| settings.firm.time_zone = firm).await;
    let now = std::sync::Arc::new(std::sync::Mutex::new(chrono::Utc::now()));
    let mut with_clock = settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port)));
    with_clock.time_zone = firm;
    let clock = now.clone();
    with_clock.clock = std::sync::Arc::new(move || *clock.lock().unwrap());
    let (stop, notifier) = start_notifier(&app, with_clock);

    // Two days on, at noon UTC.
    let noon = (chrono::Utc::now().date_naive() + chrono::Days::new(2))
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let firm_today = noon.with_timezone(&firm).date_naive();
    assert_eq!(firm_today, noon.date_naive() + chrono::Days::new(1));
    let mut body = two_contact_invite();
    body["due_date"] = json!((firm_today + chrono::Days::new(3)).to_string());
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    events_of(&app, invite, "NotificationSent", 2).await;
    *now.lock().unwrap() = noon;
    wait_until("a reminder three days before, in the firm's days", || async {
        reminders_sent(&app, invite).await.len() == 2
    })
    .await;
    let subjects = subjects(smtp.maildir.path());
    assert!(
        subjects
            .iter()
            .any(|s| s == "Reminder from Alves & Co: \"Tax return 2026\" is due in 3 days"),
        "{subjects:?}"
    );
    stop.cancel();
    notifier.await.unwrap();
    app.stop().await;
}
