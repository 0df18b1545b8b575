//! The portal pages' firm-specific parts over plain HTTP: the firm's colour, its help articles, its
//! video (embedded or served), and the Content-Security-Policy that follows from them.

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;

lodge_eventlog::test_on_both_engines!(
    the_firms_colour_help_and_embedded_video,
    a_video_file_is_served_in_ranges,
    without_javascript_forms_post_and_come_back,
    wrong_passwords_are_told_and_then_locked_out,
);

/// The page at `path`, as text.
async fn page(browser: &reqwest::Client, app: &TestApp, path: &str) -> String {
    browser.get(app.url(path)).send().await.unwrap().text().await.unwrap()
}

/// Sends `invite` and follows the first contact's link in a client that keeps cookies and shows
/// redirects as they are.
async fn signed_in(app: &TestApp, invite: &serde_json::Value) -> (SentInvite, reqwest::Client) {
    let sent = app.staff().send_invite(invite).await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = sent.contacts[0].portal_url.as_str();
    assert_eq!(browser.get(url).send().await.unwrap().status(), StatusCode::OK);
    (sent, browser)
}

async fn the_firms_colour_help_and_embedded_video(db: TestDatabase) {
    let help = tempfile::tempdir().unwrap();
    std::fs::write(
        help.path().join("office-hours.md"),
        "# When we answer\n\nMonday to Friday, 9 to 5. <b>Not</b> weekends.\n",
    )
    .unwrap();
    let help_dir = help.path().to_owned();
    let app = TestApp::start_with(db, move |settings| {
        settings.pages.colour = "#ffd700".into();
        settings.pages.help_dir = Some(help_dir);
        settings.pages.video = Some("https://player.vimeo.com/video/76979871".into());
        settings.firm.logo_url = Some("https://cdn.firm.example/logo.png".into());
    })
    .await;
    let (_, browser) = signed_in(&app, &two_contact_invite()).await;
    let theme = browser.get(app.url("/assets/theme.css")).send().await.unwrap();
    let css = theme.text().await.unwrap();
    assert!(
        css.contains("--brand: #ffd700") && css.contains("--brand-text: #1a1a1a"),
        "{css}"
    );

    let help_page = browser.get(app.url("/portal/help/office-hours")).send().await.unwrap();
    assert_eq!(help_page.status(), StatusCode::OK);
    let html = help_page.text().await.unwrap();
    assert!(html.contains("Monday to Friday, 9 to 5."), "{html}");
    assert!(
        html.contains("&lt;b&gt;Not&lt;/b&gt;"),
        "the firm's raw HTML is shown as text"
    );
    assert!(
        html.contains("How to send your documents"),
        "Lodge's articles are listed too"
    );
    let missing = browser.get(app.url("/portal/help/nothing-here")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let video = browser.get(app.url("/portal/video")).send().await.unwrap();
    let policy = video.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("frame-src https://player.vimeo.com"), "{policy}");
    assert!(
        policy.contains("img-src 'self' data: https://cdn.firm.example"),
        "{policy}"
    );
    let html = video.text().await.unwrap();
    assert!(html.contains("<iframe src=\"https:"), "{html}");
    assert!(html.contains("<img class=\"logo\""), "the firm's logo");
    app.stop().await;
}

async fn a_video_file_is_served_in_ranges(db: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("explainer.mp4");
    let bytes: Vec<u8> = (0..10_000u32).map(|n| (n % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let app = TestApp::start_with(db, move |settings| {
        settings.pages.video = Some(file.display().to_string());
    })
    .await;
    let (_, browser) = signed_in(&app, &two_contact_invite()).await;
    let html = page(&browser, &app, "/portal/video").await;
    assert!(html.contains("<video class=\"video\" controls"), "{html}");
    let part = browser
        .get(app.url("/portal/video/file"))
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[100..200]);
    let anonymous = app.anonymous().get(app.url("/portal/video/file")).send().await.unwrap();
    assert_eq!(
        anonymous.status(),
        StatusCode::UNAUTHORIZED,
        "the video is for signed-in viewers"
    );
    app.stop().await;
}

async fn without_javascript_forms_post_and_come_back(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (sent, browser) = signed_in(&app, &two_contact_invite()).await;
    let request = &sent.requests[0].id.to_string();
    // The picker's file and the camera's input left empty, as a browser sends them.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(pdf("july")).file_name("payslip-july.pdf"),
        )
        .part("file", reqwest::multipart::Part::bytes(Vec::new()).file_name(""));
    let posted = browser
        .post(app.url(&format!("/portal/requests/{request}/documents")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let back = posted.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with(&format!("/portal/requests/{request}?after=")),
        "{back}"
    );
    let shown = page(&browser, &app, &back).await;
    // The contact can fetch what they sent.
    let link = shown
        .split("href=\"")
        .map(|rest| rest.split('"').next().unwrap())
        .find(|href| href.contains("/api/portal/documents/"))
        .expect("a link to the file")
        .replace("&#x2f;", "/");
    let file = browser.get(app.url(&link)).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.bytes().await.unwrap().as_ref(), pdf("july").as_slice());
    assert!(
        shown.contains("payslip-july.pdf") && shown.contains("status-waiting_for_review"),
        "{shown}"
    );

    let before = app.event_count().await;
    let empty = browser
        .post(app.url("/portal/messages"))
        .form(&[("body", "   ")])
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.text().await.unwrap().contains("the message"),
        "a page saying what is wrong"
    );
    assert_eq!(app.event_count().await, before, "nothing recorded");
    let written = browser
        .post(app.url("/portal/messages"))
        .form(&[("body", "Sent from a browser without scripts")])
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), StatusCode::SEE_OTHER);
    let back = written.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.ends_with("#messages"), "{back}");
    let shown = page(&browser, &app, &back).await;
    assert!(shown.contains("Sent from a browser without scripts"));
    app.stop().await;
}

async fn wrong_passwords_are_told_and_then_locked_out(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let mut body = two_contact_invite();
    body["portal_password"] = serde_json::json!("correct horse battery");
    let (_, browser) = signed_in(&app, &body).await;
    let shown = page(&browser, &app, "/portal").await;
    assert!(shown.contains("This portal is protected"), "{shown}");
    assert!(
        !shown.contains("Tax return 2026</h1>"),
        "nothing of the invite before the password"
    );
    for _ in 0..5 {
        let wrong = browser
            .post(app.url("/portal/password"))
            .form(&[("password", "wrong horse")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::OK);
        assert!(wrong.text().await.unwrap().contains("That password is not right"));
    }
    let locked = browser
        .post(app.url("/portal/password"))
        .form(&[("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = locked.text().await.unwrap();
    assert!(
        page.contains("Too many wrong passwords. Please wait 15 minutes"),
        "{page}"
    );
    assert!(page.contains("role=\"alert\""), "read out by screen readers");
    app.stop().await;
}
