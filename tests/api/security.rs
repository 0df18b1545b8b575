//! What an attacker tries, and a careless client: limits that hold under parallel requests and
//! across servers, sessions that cannot be planted or kept, posts from other sites, links that
//! outlive their maker, hostile names and ranges, exports a spreadsheet would run, and reads that
//! show the reader's own writes.

use std::time::{Duration, Instant};

use crate::support::*;
use lodge_api::limits::{ActionLimits, Rate};
use lodge_eventlog::StreamId;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

lodge_eventlog::test_on_both_engines!(
    parallel_password_guesses_are_limited_across_sessions_and_servers,
    argon2_runs_only_for_the_guesses_the_limit_lets_through,
    every_sign_in_step_makes_a_new_session,
    signing_out_ends_the_session,
    a_post_from_another_site_is_refused,
    a_link_to_another_portal_asks_before_switching,
    a_view_link_dies_with_the_token_that_made_it,
    opening_links_and_posting_are_limited_per_contact_and_per_address,
    an_unknown_link_is_refused_at_once,
    every_response_carries_the_baseline_headers,
    audit_exports_stream_whole_under_every_encoding,
    csv_cells_never_start_a_formula,
    a_file_part_without_a_name_is_refused_at_its_first_byte,
    direction_overrides_leave_file_names_and_archive_paths,
    a_range_to_the_end_of_u64_gets_the_file_s_real_end,
    a_position_the_log_never_had_is_refused_at_once,
    a_contact_reads_their_own_writes_at_once,
    staff_read_their_own_writes_at_once,
    slow_and_idle_connections_are_closed_and_too_many_are_refused,
    slots_older_than_any_window_are_swept,
);

fn password_invite() -> Value {
    let mut body = two_contact_invite();
    body["portal_password"] = json!("correct horse battery");
    body
}

fn refusals(events: &[lodge_eventlog::RecordedEvent]) -> usize {
    events
        .iter()
        .filter(|e| e.event_type == "PortalPasswordRefused")
        .count()
}

async fn invite_events(app: &TestApp, invite: &str) -> Vec<lodge_eventlog::RecordedEvent> {
    app.log
        .read_stream(&StreamId::parse(&format!("invite-{invite}")).unwrap())
        .await
        .unwrap()
}

/// A client that keeps cookies, opened on a portal link at `base` (this server or another).
async fn session_at(base: &str, portal_url: &str) -> reqwest::Client {
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let response = open_session(&client, base, link_token(portal_url)).await;
    assert_eq!(response.status(), StatusCode::OK);
    client
}

async fn parallel_password_guesses_are_limited_across_sessions_and_servers(db: TestDatabase) {
    // Sixty links opened at once from one address would meet the limits on opening links first:
    // lifted here (the one on passwords stays, whatever the setting).
    let app = TestApp::start_with(db, |settings| settings.limits.enabled = false).await;
    let (other, second) = app.another_server().await;
    let sent = app.staff().send_invite(&password_invite()).await;
    let invite = &sent.id.to_string().to_owned();
    let url = sent.contacts[1].portal_url.as_str().to_owned();
    // 60 guesses at once, each on a session of its own, half of them through the second server;
    // the right password is guess 50.
    let mut guesses = Vec::new();
    for n in 0..60 {
        let base = if n % 2 == 0 { app.base.clone() } else { other.clone() };
        let url = url.clone();
        guesses.push(tokio::spawn(async move {
            let client = session_at(&base, &url).await;
            let password = if n == 50 {
                "correct horse battery"
            } else {
                "a wrong guess"
            };
            let response = client
                .post(format!("{base}/api/portal/session/password"))
                .json(&json!({ "password": password }))
                .send()
                .await
                .unwrap();
            let retry_after = response.headers().get("retry-after").cloned();
            (response.status(), retry_after)
        }));
    }
    let mut answers = Vec::new();
    for guess in guesses {
        answers.push(guess.await.unwrap());
    }
    let checked = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED || *status == StatusCode::NO_CONTENT)
        .count();
    let limited: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(checked <= 5, "at most 5 guesses are checked: {answers:?}");
    assert_eq!(checked + limited.len(), 60, "every other one is refused: {answers:?}");
    assert!(
        limited.iter().all(|(_, retry)| retry.is_some()),
        "429s say when to retry"
    );
    let wrong_checked = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        refusals(&invite_events(&app, invite).await),
        wrong_checked,
        "each wrong guess checked is on the record, and no other"
    );
    // Ana, another contact of the invite, is not held back by Ben's guesses.
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    expect(
        ana.post(
            "/api/portal/session/password",
            &json!({"password": "correct horse battery"}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    second.stop().await.unwrap();
    app.stop().await;
}

async fn argon2_runs_only_for_the_guesses_the_limit_lets_through(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&password_invite()).await;
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    for left in (0..5).rev() {
        let response = ben
            .post("/api/portal/session/password", &json!({"password": "guess"}))
            .await;
        let detail = if left == 0 {
            "last try".to_owned()
        } else {
            format!("{left} more tries")
        };
        expect_problem(response, StatusCode::UNAUTHORIZED, &detail).await;
    }
    // A right password past the limit is refused too, before it is checked: the right one may
    // be guessed, so it must not be told apart.
    let refused = ben
        .post(
            "/api/portal/session/password",
            &json!({"password": "correct horse battery"}),
        )
        .await;
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "too many wrong passwords").await;
    app.stop().await;
}

fn cookie_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("lodge_portal="))
        .map(|value| value.split(';').next().unwrap().to_owned())
}

async fn every_sign_in_step_makes_a_new_session(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&password_invite()).await;
    let token = link_token(sent.contacts[0].portal_url.as_str()).to_owned();
    let plain = app.anonymous();
    // An attacker's session, planted in the victim's browser before they sign in.
    let planted = open_session(&plain, &app.base, &token).await;
    let planted = cookie_of(&planted).unwrap();
    // The victim opens the link with that cookie: a new session, and the planted one ends.
    let opened = plain
        .post(app.url("/api/portal/session"))
        .header("cookie", format!("lodge_portal={planted}"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let first = cookie_of(&opened).unwrap();
    assert_ne!(first, planted);
    let with = |cookie: &str| {
        plain
            .get(app.url("/api/portal"))
            .header("cookie", format!("lodge_portal={cookie}"))
            .send()
    };
    assert_eq!(with(&planted).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // The password step makes another, and the one before it ends.
    let unlocked = plain
        .post(app.url("/api/portal/session/password"))
        .header("cookie", format!("lodge_portal={first}"))
        .json(&json!({"password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    let second = cookie_of(&unlocked).expect("a new session cookie");
    assert_ne!(second, first);
    assert_eq!(with(&first).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(with(&second).await.unwrap().status(), StatusCode::OK);
    app.stop().await;
}

async fn signing_out_ends_the_session(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    expect(ana.get("/api/portal").await, StatusCode::OK).await;
    let signed_out = ana.client.delete(app.url("/api/portal/session")).send().await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::NO_CONTENT);
    let removal = signed_out.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(removal.starts_with("lodge_portal=;"), "{removal}");
    expect_problem(ana.get("/api/portal").await, StatusCode::UNAUTHORIZED, "sign in").await;

    // The same from the pages: the button posts, the page says so, and the session is gone.
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    let page = ben.get("/portal").await.text().await.unwrap();
    assert!(page.contains("action=\"/portal/sign-out\""), "a Sign out button");
    let response = ben.client.post(app.url("/portal/sign-out")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("You are signed out"));
    assert_eq!(ben.get("/portal").await.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn a_post_from_another_site_is_refused(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let before = app.event_count().await;
    let from_elsewhere = ana
        .client
        .post(app.url("/api/portal/messages"))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"body": "sent by another site"}))
        .send()
        .await
        .unwrap();
    expect_problem(from_elsewhere, StatusCode::FORBIDDEN, "another site").await;
    // A browser form on another site, to the page that takes messages: an error page.
    let form = ana
        .client
        .post(app.url("/portal/messages"))
        .header("origin", "https://attacker.example")
        .form(&[("body", "sent by another site")])
        .send()
        .await
        .unwrap();
    assert!(expect_page(form, StatusCode::FORBIDDEN).await.contains("another site"));
    assert_eq!(app.event_count().await, before, "nothing was recorded");
    // From the portal's own page, or from a program, it goes through.
    let own = ana
        .client
        .post(app.url("/portal/messages"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.base)
        .form(&[("body", "from the portal")])
        .send()
        .await
        .unwrap();
    assert!(own.status().is_success(), "{}", own.status());
    let program = ana
        .post("/api/portal/messages", &json!({"body": "from a script"}))
        .await;
    expect(program, StatusCode::CREATED).await;
    app.stop().await;
}

async fn a_link_to_another_portal_asks_before_switching(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let ana_link = sent.contacts[0].portal_url.as_str();
    let ben_link = sent.contacts[1].portal_url.as_str();
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let opened = browser.get(ana_link).send().await.unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    let portal = page_text(&browser, &app.url("/portal")).await;
    assert!(portal.contains("Ana Alves"));
    // A link to Ben's portal, sent to Ana by someone: Lodge asks, and Ana stays signed in.
    let asked = browser
        .get(ben_link)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(asked.headers().get("set-cookie").is_none(), "no new session yet");
    let page = asked.text().await.unwrap();
    assert!(
        page.contains("Open another portal?") && page.contains("Ana Alves"),
        "{page}"
    );
    let portal = page_text(&browser, &app.url("/portal")).await;
    assert!(portal.contains("Ana Alves"), "still Ana's portal");
    // Choosing to switch (a post from the page itself) opens Ben's.
    let switched = browser
        .post(ben_link)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), StatusCode::OK);
    let portal = page_text(&browser, &app.url("/portal")).await;
    assert!(portal.contains("Ben Alves"), "now Ben's portal");
    // Opening one's own link again asks nothing.
    let again = browser.get(ben_link).send().await.unwrap();
    assert!(again.headers().get("set-cookie").is_some());
    app.stop().await;
}

async fn a_view_link_dies_with_the_token_that_made_it(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let contact = &sent.contacts[0].id.to_string();
    let made = lodge_api::staff::tokens::create(app.store.store(), "Val Viewer", Some("val@firm.example"))
        .await
        .unwrap();
    let link = expect(
        app.staff_with(&made.token)
            .post(&format!("/api/invites/{invite}/portal/{contact}/view-link"), &json!({}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let url = link["url"].as_str().unwrap();
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    assert_eq!(browser.get(url).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        browser.get(app.url("/portal")).send().await.unwrap().status(),
        StatusCode::OK
    );
    lodge_api::staff::tokens::revoke(app.store.store(), made.id)
        .await
        .unwrap();
    // The view already open closes, and the link opens nothing more.
    assert_eq!(
        browser.get(app.url("/portal")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let fresh = reqwest::Client::builder().cookie_store(true).build().unwrap();
    assert_eq!(fresh.get(url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// Small limits, so that a test reaches them quickly.
fn small_limits(settings: &mut lodge_api::Settings) {
    let per = |contact, address| ActionLimits {
        per_contact: Rate::per_minute(contact),
        per_address: Rate::per_minute(address),
    };
    settings.limits.messages = per(3, 5);
    settings.limits.link_opens = per(3, 100);
    settings.limits.forms = per(2, 100);
    settings.limits.uploads = per(2, 100);
}

async fn opening_links_and_posting_are_limited_per_contact_and_per_address(db: TestDatabase) {
    let app = TestApp::start_with(db, small_limits).await;
    let (other, second) = app.another_server().await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;

    // Ana's messages: three, the third through the second server, then a wait.
    for _ in 0..2 {
        expect(
            ana.post("/api/portal/messages", &json!({"body": "hello"})).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let third = ana
        .client
        .post(format!("{other}/api/portal/messages"))
        .json(&json!({"body": "hello"}))
        .send()
        .await
        .unwrap();
    expect(third, StatusCode::CREATED).await;
    let before = app.event_count().await;
    let fourth = ana.post("/api/portal/messages", &json!({"body": "hello"})).await;
    let retry: u64 = fourth.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    expect_problem(fourth, StatusCode::TOO_MANY_REQUESTS, "too many messages").await;
    // Ben, from the same address, has two more before the address's limit of five (Ana's refused
    // try did not count against it).
    for _ in 0..2 {
        expect(
            ben.post("/api/portal/messages", &json!({"body": "hi"})).await,
            StatusCode::CREATED,
        )
        .await;
    }
    expect_problem(
        ben.post("/api/portal/messages", &json!({"body": "hi"})).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too many messages",
    )
    .await;
    assert_eq!(app.event_count().await, before + 2, "refused messages recorded nothing");

    // Forms and uploads likewise.
    let form = &sent.requests[1].id.to_string();
    for _ in 0..2 {
        let answer = ana
            .post(
                &format!("/api/portal/requests/{form}/form"),
                &json!({"answers": {"tfn": "123"}}),
            )
            .await;
        expect(answer, StatusCode::CREATED).await;
    }
    let third = ana
        .post(
            &format!("/api/portal/requests/{form}/form"),
            &json!({"answers": {"tfn": "123"}}),
        )
        .await;
    expect_problem(third, StatusCode::TOO_MANY_REQUESTS, "too many forms").await;
    let files = json!(sent.requests[0].id);
    for n in 0..2 {
        expect(
            ana.upload(&files, &[("p.pdf", pdf(&n.to_string()))]).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let third = ana.upload(&files, &[("p.pdf", pdf("third"))]).await;
    expect_problem(third, StatusCode::TOO_MANY_REQUESTS, "too many uploads").await;

    // Ana's link opened twice more (once by the helper above): then it waits.
    let url = sent.contacts[0].portal_url.as_str();
    for _ in 0..2 {
        session_at(&app.base, url).await;
    }
    let token = url.rsplit("/p/").next().unwrap();
    let fourth = open_session(&app.anonymous(), &app.base, token).await;
    expect_problem(fourth, StatusCode::TOO_MANY_REQUESTS, "portal links").await;
    second.stop().await.unwrap();
    app.stop().await;
}

async fn an_unknown_link_is_refused_at_once(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    eventually_ready(&app, sent.position).await;
    let started = Instant::now();
    let unknown = app
        .anonymous()
        .post(app.url("/api/portal/session"))
        .json(&json!({"token": "0".repeat(64)}))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    expect_problem(unknown, StatusCode::NOT_FOUND, "not valid").await;
    // With the links' read model caught up there is nothing to wait for (a link sent a moment ago
    // waits up to a second for it).
    assert!(took < Duration::from_millis(900), "refused after {took:?}");
    app.stop().await;
}

async fn every_response_carries_the_baseline_headers(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let responses = [
        ana.get("/api/portal").await,
        ana.get("/portal").await,
        app.staff().get("/api/invites").await,
        app.anonymous().get(app.url("/api/invites")).send().await.unwrap(),
        app.anonymous().get(app.url("/healthz")).send().await.unwrap(),
        app.anonymous().get(app.url("/nowhere")).send().await.unwrap(),
    ];
    for response in responses {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{}", response.url());
        assert_eq!(headers["cache-control"], "no-store", "{}", response.url());
    }
    app.stop().await;
}

/// A staff download asking for `encoding`: the encoding used, and the bytes as sent.
async fn fetch_encoded(app: &TestApp, path: &str, encoding: &str) -> (Option<String>, Vec<u8>) {
    let response = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap()
        .get(app.url(path))
        .bearer_auth(&app.staff_token)
        .header("accept-encoding", encoding)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let used = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    (used, response.bytes().await.expect("the whole body").to_vec())
}

async fn audit_exports_stream_whole_under_every_encoding(db: TestDatabase) {
    // Forty messages from one contact at once: more than the limits let a person send.
    let app = TestApp::start_with(db, |settings| settings.limits.enabled = false).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let mut last = None;
    for n in 0..40 {
        let posted: PostedMessage = expect_as(
            ana.post("/api/portal/messages", &json!({"body": format!("message {n}")}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        last = posted.position;
    }
    app.staff().audit(invite, last.unwrap()).await;
    for format in ["csv", "json"] {
        let path = format!("/api/invites/{invite}/audit?format={format}");
        let (none, plain) = fetch_encoded(&app, &path, "identity").await;
        assert_eq!(none, None);
        assert!(plain.len() > 4_000, "{} bytes", plain.len());
        let (gzip, zipped) = fetch_encoded(&app, &path, "gzip").await;
        assert_eq!(gzip.as_deref(), Some("gzip"));
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(zipped.as_slice()), &mut unzipped).unwrap();
        assert_eq!(unzipped, plain, "{format} under gzip");
        let (br, compressed) = fetch_encoded(&app, &path, "br").await;
        assert_eq!(br.as_deref(), Some("br"));
        let mut decompressed = Vec::new();
        brotli::BrotliDecompress(&mut compressed.as_slice(), &mut decompressed).unwrap();
        assert_eq!(decompressed, plain, "{format} under br");
    }
    app.stop().await;
}

async fn csv_cells_never_start_a_formula(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let token = link_token(sent.contacts[0].portal_url.as_str());
    let hostile = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent("=HYPERLINK(\"https://attacker.example\",\"open\")")
        .build()
        .unwrap();
    let opened = open_session(&hostile, &app.base, token).await;
    assert_eq!(opened.status(), StatusCode::OK);
    let part = reqwest::multipart::Part::bytes(pdf("x"))
        .file_name("@SUM(1+1)*cmd.pdf")
        .mime_str("application/pdf")
        .unwrap();
    let request = &sent.requests[0].id.to_string();
    let posted = hostile
        .post(app.url(&format!("/api/portal/requests/{request}/documents")))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    let posted: Uploaded = posted.json().await.unwrap();
    app.staff().audit(invite, posted.position.unwrap()).await;
    let csv = app
        .staff()
        .get(&format!("/api/invites/{invite}/audit?format=csv"))
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let mut cells = 0;
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            cells += 1;
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {cell:?}"
            );
        }
    }
    assert!(cells > 0);
    assert!(csv.contains("'=HYPERLINK("), "the user agent is kept, as text: {csv}");
    assert!(csv.contains("'@SUM(1+1)*cmd.pdf"), "the file name is kept, as text");
    app.stop().await;
}

async fn a_file_part_without_a_name_is_refused_at_its_first_byte(db: TestDatabase) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let request = &sent.requests[0].id.to_string();
    let token = link_token(sent.contacts[0].portal_url.as_str());
    let opened = open_session(&app.anonymous(), &app.base, token).await;
    let cookie = cookie_of(&opened).unwrap();
    // A part that says it is a file with an empty name, announced at 300 MiB; only 1 MiB is sent.
    let boundary = "lodgeboundary";
    let announced: u64 = 300 * 1024 * 1024;
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let request_head = format!(
        "POST /api/portal/requests/{request}/documents HTTP/1.1\r\nHost: {}\r\nCookie: lodge_portal={cookie}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        app.base.trim_start_matches("http://"),
        head.len() as u64 + announced
    );
    stream.write_all(request_head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'x'; 1024 * 1024]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer before the rest of the part is sent")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("without a file name"), "{answer}");
    app.stop().await;
}

async fn direction_overrides_leave_file_names_and_archive_paths(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let mut body = two_contact_invite();
    body["contacts"][0]["name"] = json!("Ana <Alves>");
    body["requests"][0]["title"] = json!("Pay|slips: \"July\"?");
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let uploaded: Uploaded = expect_as(
        ana.upload(&json!(sent.requests[0].id), &[("invoice\u{202e}fdp.exe", pdf("x"))])
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(uploaded.documents[0].file_name, "invoicefdp.exe");
    let view = expect(
        app.staff()
            .get(&format!("/api/invites/{invite}?after={}", uploaded.position.unwrap()))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(!view.to_string().contains('\u{202e}'));
    let zip = app.staff().get(&format!("/api/invites/{invite}/documents.zip")).await;
    let bytes = zip.bytes().await.unwrap();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let names: Vec<&str> = archive.file_names().collect();
    assert_eq!(names, ["Ana _Alves_/Pay_slips_ _July__/invoicefdp.exe"]);
    app.stop().await;
}

async fn a_range_to_the_end_of_u64_gets_the_file_s_real_end(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let file = pdf("a payslip");
    let uploaded: Uploaded = expect_as(
        ana.upload(&json!(sent.requests[0].id), &[("p.pdf", file.clone())])
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = uploaded.documents[0].id;
    let response = ana
        .client
        .get(app.url(&format!("/api/portal/documents/{id}")))
        .header("range", format!("bytes=3-{}", u64::MAX))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes 3-{}/{}", file.len() - 1, file.len()).as_str()
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), &file[3..]);
    app.stop().await;
}

async fn a_position_the_log_never_had_is_refused_at_once(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let contact = &sent.contacts[0].id.to_string();
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let beyond = 1_000_000_000;
    let started = Instant::now();
    for path in [
        format!("/api/invites?after={beyond}"),
        format!("/api/invites/{invite}?after={beyond}"),
        format!("/api/invites/{invite}/audit?after={beyond}"),
        format!("/api/invites/{invite}/portal/{contact}?after={beyond}"),
    ] {
        expect_problem(
            app.staff().get(&path).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "no event there",
        )
        .await;
        expect_problem(
            app.staff().get(&path.replace(&beyond.to_string(), "-1")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "positions start at 1",
        )
        .await;
    }
    expect_problem(
        ana.get(&format!("/api/portal?after={beyond}")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "its last is at",
    )
    .await;
    assert!(
        started.elapsed() < lodge_api::Settings::local(std::env::temp_dir()).read_wait,
        "no read waited for a position that will never come"
    );
    app.stop().await;
}

async fn a_contact_reads_their_own_writes_at_once(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    expect(ana.get("/api/portal").await, StatusCode::OK).await;
    for n in 0..10 {
        let body = format!("message number {n}");
        expect(
            ana.post("/api/portal/messages", &json!({ "body": body })).await,
            StatusCode::CREATED,
        )
        .await;
        // No ?after=: the session's own write is shown all the same.
        let portal = ana.portal(None).await;
        assert!(portal.messages.iter().any(|m| m.body == body), "message {n} missing");
    }
    let uploaded: Uploaded = expect_as(
        ana.upload(&json!(sent.requests[0].id), &[("p.pdf", pdf("just sent"))])
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = uploaded.documents[0].id;
    let download = ana.get(&format!("/api/portal/documents/{id}")).await;
    assert_eq!(
        download.status(),
        StatusCode::OK,
        "the file just sent can be downloaded at once"
    );
    app.stop().await;
}

async fn staff_read_their_own_writes_at_once(db: TestDatabase) {
    let app = TestApp::start(db).await;
    for _ in 0..5 {
        let sent = app.staff().send_invite(&two_contact_invite()).await;
        let invite = &sent.id.to_string();
        expect(app.staff().get(&format!("/api/invites/{invite}")).await, StatusCode::OK).await;
        let audit: AuditTrail = expect_as(
            app.staff().get(&format!("/api/invites/{invite}/audit")).await,
            StatusCode::OK,
        )
        .await;
        assert!(!audit.entries.is_empty());
        let contact = &sent.contacts[0].id.to_string();
        let message = json!({"contact_id": contact, "body": "Thanks!"});
        expect(
            app.staff()
                .post(&format!("/api/invites/{invite}/messages"), &message)
                .await,
            StatusCode::CREATED,
        )
        .await;
        let portal: PortalResponse = expect_as(
            app.staff()
                .get(&format!("/api/invites/{invite}/portal/{contact}"))
                .await,
            StatusCode::OK,
        )
        .await;
        assert!(portal.messages.iter().any(|m| m.body == "Thanks!"));
        let listed: InviteList = expect_as(app.staff().get("/api/invites?limit=500").await, StatusCode::OK).await;
        assert!(listed.invites.iter().any(|i| i.id == sent.id));
    }
    app.stop().await;
}

async fn slow_and_idle_connections_are_closed_and_too_many_are_refused(db: TestDatabase) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let timeout = Duration::from_millis(800);
    let app = TestApp::start_with(db, |settings| {
        settings.connections.header_timeout = timeout;
        settings.connections.max_open = 3;
    })
    .await;
    let address = app.base.trim_start_matches("http://").to_owned();
    /// Reads until the server closes the connection (or 10 s pass): what it sent, and when.
    async fn until_closed(stream: &mut tokio::net::TcpStream) -> (String, Instant) {
        let mut read = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => read.extend_from_slice(&buffer[..n]),
                Err(_) => panic!(
                    "the server kept the connection open: {}",
                    String::from_utf8_lossy(&read)
                ),
            }
        }
        (String::from_utf8_lossy(&read).into_owned(), Instant::now())
    }

    // Half a request line and a header, then nothing: closed once the headers are overdue.
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: lodge\r\n")
        .await
        .unwrap();
    let (_, closed) = until_closed(&mut slow).await;
    // (Not at once: after the timeout, give or take the timer's granularity.)
    assert!(closed - started >= timeout / 2, "closed after {:?}", closed - started);

    // A whole request is answered; the connection, left idle, is then closed too.
    let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: lodge\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Three connections held open: a fourth is told the server is busy, at once.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = tokio::net::TcpStream::connect(&address).await.unwrap();
    let asked = Instant::now();
    let (busy, answered) = until_closed(&mut extra).await;
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    assert!(
        busy.contains("application/problem+json") && busy.contains("Retry-After: 1"),
        "{busy}"
    );
    assert!(
        answered - asked < timeout,
        "answered before any held connection timed out"
    );
    // Once the held ones are closed for being slow, connections are served again.
    for mut stream in held {
        until_closed(&mut stream).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let served = app.anonymous().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    app.stop().await;
}

async fn slots_older_than_any_window_are_swept(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let rate = Rate::per_minute(5);
    lodge_api::limits::take(app.store.store(), "message:contact:fresh", rate)
        .await
        .unwrap()
        .unwrap();
    let two_hours_ago = chrono::Utc::now().timestamp_millis() - 2 * 60 * 60 * 1000;
    lodge_store::on!(app.store.store(), |c| sqlx::query(
        "INSERT INTO lodge_limits (id, key, taken_at) VALUES ('old', 'message:contact:gone', $1)"
    )
    .bind(two_hours_ago)
    .execute(c)
    .await
    .map(|_| ()))
    .unwrap();
    assert_eq!(lodge_api::limits::sweep(app.store.store()).await.unwrap(), 1);
    let keys: Vec<String> = lodge_store::on!(app.store.store(), |c| sqlx::query_scalar(
        "SELECT key FROM lodge_limits"
    )
    .fetch_all(c)
    .await)
    .unwrap();
    assert_eq!(keys, ["message:contact:fresh"]);
    app.stop().await;
}
