//! The portal's pages in a real browser: headless Chromium driven over WebDriver (chromedriver,
//! installed with Debian's `chromium-driver` by `.ci/run`), against the real server, on a phone
//! (390x844) and on a desktop. With `LODGE_SAVE_SCREENSHOTS=1` each tab is saved under
//! `docs/screenshots/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::browser::{Screen, browser};
use crate::support::*;
use fantoccini::Locator;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

lodge_eventlog::test_on_both_engines!(
    a_contact_gets_everything_in_on_a_phone,
    a_contact_gets_everything_in_on_a_desktop,
    staff_open_a_contacts_portal_read_only,
    an_upload_survives_a_dropped_network,
);

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
    browser.assert_accessible("the password page").await;
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
    browser.assert_accessible("the Requests tab").await;

    // Two files at once: each shows its progress, then both wait for review.
    browser.click(".request a").await;
    browser.wait_for_text("#request-title", "Payslips").await;
    browser.choose_files("#files", &[&july, &august]).await;
    browser.wait_for_text(".documents", "payslip-august.pdf").await;
    assert_eq!(browser.count(".document .status-waiting_for_review").await, 2);
    browser.screenshot("upload").await;
    browser.assert_accessible("a request's page").await;

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
    browser.assert_accessible("the Contact tab").await;
    browser.click("nav.tabs a[href='/portal/help']").await;
    browser.wait_for_text("article", "How to send your documents").await;
    browser.click("a[href='/portal/help/troubleshooting']").await;
    browser.wait_for_text("article", "clear your browser's cache").await;
    browser.screenshot("help").await;
    browser.assert_accessible("the Help tab").await;
    browser.click("nav.tabs a[href='/portal/video']").await;
    browser.wait_for_text("h1", "How the portal works").await;
    browser.screenshot("video").await;
    browser.assert_accessible("the Video tab").await;
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
    browser.assert_accessible("a contact's portal as staff see it").await;
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
