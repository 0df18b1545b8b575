//! The portal's pages in a real browser: headless Chromium driven over WebDriver (chromedriver,
//! installed with Debian's `chromium-driver` by `.ci/run`), against the real server, on a phone
//! (390x844) and on a desktop. With `LODGE_SAVE_SCREENSHOTS=1` each tab is saved under
//! `docs/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use fantoccini::{Client, ClientBuilder, Locator};
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

lodge_eventlog::test_on_both_engines!(
    a_contact_gets_everything_in_on_a_phone,
    a_contact_gets_everything_in_on_a_desktop,
    staff_open_a_contacts_portal_read_only,
    an_upload_survives_a_dropped_network,
);

#[derive(Clone, Copy, PartialEq)]
enum Screen {
    Phone,
    Desktop,
}

impl Screen {
    fn name(self) -> &'static str {
        match self {
            Screen::Phone => "phone",
            Screen::Desktop => "desktop",
        }
    }
}

/// chromedriver and a Chromium session through it, both ended on drop.
struct Browser {
    client: Client,
    driver: Child,
    driver_url: String,
    session: String,
    screen: Screen,
}

impl Drop for Browser {
    /// Ends the Chromium session and chromedriver, also when a test fails before closing its
    /// session (Chromium outlives a killed chromedriver): a plain blocking DELETE of the session.
    fn drop(&mut self) {
        let port = self.driver_url.rsplit(':').next().unwrap_or_default();
        if let Ok(mut stream) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn browser(screen: Screen) -> Browser {
    let port = free_port();
    let chromedriver = std::env::var("LODGE_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let driver = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "these tests drive Chromium through {chromedriver} ({e}). Install it with \
                 `apt-get install chromium chromium-driver` (.ci/run does), or set LODGE_TEST_CHROMEDRIVER"
            )
        });
    let driver_url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut args = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
    ];
    if screen == Screen::Desktop {
        args.push("--window-size=1280,900");
    }
    let mut options = json!({
        "binary": std::env::var("LODGE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        "args": args,
    });
    if screen == Screen::Phone {
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": true, "mobile": true},
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
        });
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver_url)
        .await
        .expect("a Chromium session");
    let session = client.session_id().await.unwrap().expect("a session");
    Browser {
        client,
        driver,
        driver_url,
        session,
        screen,
    }
}

impl Browser {
    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The element `css` finds, once the page has it.
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    /// Waits until the page's text (in `css`) contains `expected`.
    async fn wait_for_text(&self, css: &str, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if found.contains(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{expected}` never showed in {css}; it says: {found}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    async fn click(&self, css: &str) {
        self.element(css).await.click().await.unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap();
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    /// Chooses files in a file input, as the picker would.
    async fn choose_files(&self, css: &str, files: &[&Path]) {
        let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(&paths.join("\n"))
            .await
            .unwrap();
    }

    async fn screenshot(&self, tab: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot");
        if std::env::var_os("LODGE_SAVE_SCREENSHOTS").is_some() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{}-{tab}.png", self.screen.name())), png).unwrap();
        }
    }

    /// What the page wrote to its console at error level (scripts, the Content-Security-Policy,
    /// failed loads), through chromedriver's log endpoint.
    async fn console_errors(&self) -> Vec<String> {
        let session = &self.session;
        let logs: Value = reqwest::Client::new()
            .post(format!("{}/session/{session}/se/log", self.driver_url))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        logs["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Takes the browser off the network, or puts it back (chromedriver's network conditions).
    async fn offline(&self, offline: bool) {
        let session = &self.session;
        let answer = reqwest::Client::new()
            .post(format!(
                "{}/session/{session}/chromium/network_conditions",
                self.driver_url
            ))
            .json(&json!({"network_conditions": {
                "offline": offline, "latency": 0, "download_throughput": -1, "upload_throughput": -1
            }}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    }

    async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

fn files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let july = dir.join("payslip-july.pdf");
    let august = dir.join("payslip-august.pdf");
    let scan = dir.join("payslip-august-rescan.png");
    std::fs::write(&july, pdf("july")).unwrap();
    std::fs::write(&august, pdf("august")).unwrap();
    std::fs::write(&scan, png()).unwrap();
    (july, august, scan)
}

fn protected_invite() -> Value {
    let mut body = two_contact_invite();
    body["portal_password"] = json!("correct horse battery");
    body
}

async fn a_contact_gets_everything_in_on_a_phone(db: TestDatabase) {
    a_contact_gets_everything_in(db, Screen::Phone).await;
}

async fn a_contact_gets_everything_in_on_a_desktop(db: TestDatabase) {
    a_contact_gets_everything_in(db, Screen::Desktop).await;
}

async fn a_contact_gets_everything_in(db: TestDatabase, screen: Screen) {
    let app = TestApp::start_with(db, |settings| {
        settings.firm.name = "Alves & Co".into();
        settings.firm.email = Some("office@alves.example".into());
        settings.firm.phone = Some("+61 2 9999 0000".into());
        settings.firm.address = Some("1 George St\nSydney NSW 2000".into());
    })
    .await;
    let sent = app.staff().send_invite(&protected_invite()).await;
    let invite = &sent.id.to_string().to_owned();
    let ana_url = sent.contacts[0].portal_url.as_str();
    let dir = tempfile::tempdir().unwrap();
    let (july, august, scan) = files(dir.path());
    let browser = browser(screen).await;

    // The link opens the password page; a wrong password says so; the right one opens the portal.
    browser.goto(ana_url).await;
    assert_eq!(browser.text("h1").await, "This portal is protected");
    browser.screenshot("password").await;
    browser.type_into("#password", "wrong horse").await;
    browser.click("form.password button").await;
    browser.wait_for_text("#error", "That password is not right").await;
    browser.type_into("#password", "correct horse battery").await;
    browser.click("form.password button").await;
    browser.wait_for_text("#invite-title", "Tax return 2026").await;
    assert_eq!(browser.text("#total").await, "2");
    assert_eq!(browser.text("#done").await, "0");
    assert_eq!(browser.text("#due").await, "Due in 10 days");
    assert!(
        !browser.client.current_url().await.unwrap().as_str().contains("/p/"),
        "the token left the address bar"
    );
    browser.screenshot("requests").await;

    // Two files at once: each shows its progress, then both wait for review.
    browser.click(".request a").await;
    browser.wait_for_text("#request-title", "Payslips").await;
    browser.choose_files("#files", &[&july, &august]).await;
    browser.wait_for_text(".documents", "payslip-august.pdf").await;
    assert_eq!(browser.count(".document .status-waiting_for_review").await, 2);
    browser.screenshot("upload").await;

    // Staff reject one; the contact reads why, and sends another.
    let staff_view = expect(app.staff().get(&format!("/api/invites/{invite}")).await, StatusCode::OK).await;
    let august_id = staff_view["contacts"][0]["requests"][0]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file_name"] == "payslip-august.pdf")
        .unwrap()["id"]
        .clone();
    let reviewed = expect(
        app.staff()
            .post(
                &format!("/api/invites/{invite}/documents/{}/review", august_id.as_str().unwrap()),
                &json!({"decision": "reject", "reason": "The bottom of the page is cut off"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let request_url = browser.client.current_url().await.unwrap();
    browser
        .goto(&format!(
            "{}{}?after={}",
            app.base,
            request_url.path(),
            reviewed["position"]
        ))
        .await;
    browser
        .wait_for_text(".documents", "The bottom of the page is cut off")
        .await;
    browser.choose_files("#camera", &[&scan]).await;
    browser.wait_for_text(".documents", "payslip-august-rescan.png").await;
    assert_eq!(browser.count(".document .status-waiting_for_review").await, 2);

    // The form: a required field left empty is refused by the browser; filled in, it is sent.
    browser.click(".back").await;
    browser.click(".request:nth-child(2) a").await;
    browser.wait_for_text("#request-title", "Your details").await;
    browser.type_into("#field-tfn", "123 456 789").await;
    browser.click("input[name=health][value=yes]").await;
    browser.click("form.form-request button").await;
    browser.wait_for_text(".notice.done", "Your answers were sent").await;
    assert_eq!(
        browser
            .client
            .find(Locator::Css("#field-tfn"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("123 456 789")
    );

    // A message to the firm, and staff's reply in the thread.
    browser.click(".back").await;
    browser
        .type_into("#message-body", "Is a scan of the payslip fine?")
        .await;
    browser.click("form.write button").await;
    browser.wait_for_text(".thread", "Is a scan of the payslip fine?").await;
    let reply = app
        .staff()
        .write_to(invite, sent.contacts[0].id, "Yes, a clear scan is fine.")
        .await;
    browser
        .goto(&format!(
            "{}/portal?after={}",
            app.base,
            reply.position.expect("recorded")
        ))
        .await;
    browser.wait_for_text(".thread", "Yes, a clear scan is fine.").await;
    browser.wait_for_text("#done", "1").await;

    // The other tabs.
    browser.click("nav.tabs a[href='/portal/contact']").await;
    browser.wait_for_text("h1", "Who asked").await;
    let mail = browser
        .client
        .find(Locator::Css("a[href^='mailto:']"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(mail.as_deref(), Some("mailto:sam@firm.example"));
    browser.wait_for_text(".cards", "1 George St").await;
    browser.screenshot("contact").await;
    browser.click("nav.tabs a[href='/portal/help']").await;
    browser.wait_for_text("article", "How to send your documents").await;
    browser.click("a[href='/portal/help/troubleshooting']").await;
    browser.wait_for_text("article", "clear your browser's cache").await;
    browser.screenshot("help").await;
    browser.click("nav.tabs a[href='/portal/video']").await;
    browser.wait_for_text("h1", "How the portal works").await;
    browser.screenshot("video").await;
    let current = browser
        .client
        .find(Locator::Css("nav.tabs a[aria-current='page']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(current, "Video");

    // Keyboard: the first Tab reaches the skip link, which leads to the page's content.
    browser.goto(&format!("{}/portal", app.base)).await;
    browser
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys(fantoccini::key::Key::Tab.to_string().as_str())
        .await
        .unwrap();
    let focused = browser.client.active_element().await.unwrap().text().await.unwrap();
    assert_eq!(focused, "Skip to content");

    // Readable at 320 px wide: nothing runs off the side.
    if screen == Screen::Desktop {
        browser.client.set_window_size(320, 800).await.unwrap();
        let width = browser
            .client
            .execute("return window.innerWidth", vec![])
            .await
            .unwrap();
        assert!(width.as_i64().unwrap() <= 320, "the window is {width} px wide");
        for page in ["/portal", "/portal/contact", "/portal/help"] {
            browser.goto(&format!("{}{page}", app.base)).await;
            let overflow = browser
                .client
                .execute(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                    vec![],
                )
                .await
                .unwrap();
            assert!(
                overflow.as_i64().unwrap() <= 0,
                "{page} is wider than 320 px by {overflow}"
            );
        }
    }

    // Nothing went wrong in the page: no script errors, no blocked content, no failed loads.
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await;
    app.stop().await;
}

async fn staff_open_a_contacts_portal_read_only(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&protected_invite()).await;
    let invite = &sent.id.to_string();
    let ana = &sent.contacts[0].id.to_string();
    let link = expect(
        app.staff()
            .post(&format!("/api/invites/{invite}/portal/{ana}/view-link"), &json!({}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/v/", app.base)), "{url}");
    expect_problem(
        app.anonymous()
            .post(app.url(&format!("/api/invites/{invite}/portal/{ana}/view-link")))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "",
    )
    .await;

    let browser = browser(Screen::Desktop).await;
    browser.goto(url).await;
    // No password for staff; a banner says whose portal it is, and nothing can be sent from it.
    browser.wait_for_text("#invite-title", "Tax return 2026").await;
    browser
        .wait_for_text(".banner", "You are viewing Ana Alves's portal as Sam Staff")
        .await;
    assert_eq!(browser.count("form.write").await, 0);
    browser.click(".request a").await;
    browser.wait_for_text("#request-title", "Payslips").await;
    assert_eq!(browser.count("form.upload").await, 0);
    browser.wait_for_text("main", "Read-only view").await;
    // With the view's own cookie, as the browser holds it, nothing can be sent either: not a
    // message, an upload or a form, by the pages or by the portal API.
    let before = app.event_count().await;
    let cookie = format!("lodge_staff_view={}", url.rsplit("/v/").next().unwrap());
    let request = &sent.requests[0].id.to_string();
    let form_request = &sent.requests[1].id.to_string();
    let view = reqwest::Client::new();
    let same_site = |request: reqwest::RequestBuilder| {
        request
            .header("cookie", &cookie)
            .header("sec-fetch-site", "same-origin")
            .header("origin", &app.base)
    };
    let page = same_site(view.get(app.url("/portal"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the cookie opens the view");
    let attempts = [
        same_site(view.post(app.url("/portal/messages"))).form(&[("body", "from staff's view")]),
        same_site(view.post(app.url("/api/portal/messages"))).json(&json!({"body": "from staff's view"})),
        same_site(view.post(app.url(&format!("/portal/requests/{form_request}/form")))).form(&[("tfn", "1")]),
        same_site(view.post(app.url(&format!("/api/portal/requests/{request}/documents")))).multipart(
            reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(pdf("x")).file_name("x.pdf")),
        ),
    ];
    for attempt in attempts {
        let refused = attempt.send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{}", refused.url());
    }
    assert_eq!(app.event_count().await, before);
    browser.goto(&format!("{}/v/not-a-link", app.base)).await;
    browser.wait_for_text("main", "expired or is not one").await;
    browser.close().await;
    app.stop().await;
}

async fn an_upload_survives_a_dropped_network(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let dir = tempfile::tempdir().unwrap();
    let (july, _, _) = files(dir.path());
    let browser = browser(Screen::Phone).await;
    browser.goto(sent.contacts[0].portal_url.as_str()).await;
    browser.click(".request a").await;
    browser.wait_for_text("#request-title", "Payslips").await;
    // The network drops as the file is chosen; the page tries again by itself, and once the
    // network is back the file arrives, once.
    browser.offline(true).await;
    browser.choose_files("#files", &[&july]).await;
    browser.wait_for_text(".queue", "Waiting").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    browser.offline(false).await;
    browser.wait_for_text(".documents", "payslip-july.pdf").await;
    assert_eq!(browser.count(".document").await, 1);
    let view = expect(
        app.staff().get(&format!("/api/invites/{}", &sent.id.to_string())).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        view["contacts"][0]["requests"][0]["documents"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    browser.close().await;
    app.stop().await;
}
