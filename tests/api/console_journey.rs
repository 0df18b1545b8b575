//! The whole journey in real browsers (headless Chromium), on both engines, with the real notifier
//! and an SMTP server on loopback: the owner signs in with two-step sign-in and invites a colleague,
//! who sets a password from the email; the colleague sends an invite with a file request and a form
//! request from the New invite page; the contact, in a browser of their own, uploads a file; the
//! colleague sees it arrive without reloading and rejects it with a reason; the contact reads it and
//! uploads again; the colleague accepts from the review queue with the keyboard; the contact fills
//! in the form; the dashboard shows the invite completed; a viewer sees everything and changes
//! nothing; the record says who did each step.

use std::time::Duration;

use fantoccini::key::Key;
use lodge_domain::team::Role;
use lodge_eventlog::testing::TestDatabase;
use mail_parser::MessageParser;
use reqwest::StatusCode;

use crate::console::{PASSWORD, get_with, member_with_link, post_with, signed_in_member};
use crate::console_browser::sign_in_with_link;
use crate::console_two_step::code;
use crate::notifier::{received, settings, smtp_server, start_notifier};
use crate::support::browser::{Browser, Screen, browser};
use crate::support::{PATIENCE, TestApp, expect_page, pdf};

lodge_eventlog::test_on_both_engines!(the_whole_journey_from_an_owners_first_sign_in_to_a_completed_invite);

/// Presses Enter in the field `css`.
async fn enter(browser: &Browser, css: &str) {
    browser
        .element(css)
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
}

/// The sign-in link in the email to `to`, once it has come.
async fn emailed_link(maildir: &std::path::Path, to: &str) -> String {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        for path in received(maildir) {
            let raw = std::fs::read(&path).unwrap();
            let message = MessageParser::default().parse(&raw).unwrap();
            let addressed = message
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default();
            let text = message.body_text(0).unwrap_or_default();
            if addressed == to
                && let Some(link) = text.split_whitespace().find(|w| w.contains("/staff/welcome/"))
            {
                return link.to_owned();
            }
        }
        assert!(std::time::Instant::now() < deadline, "no sign-in link came for {to}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_whole_journey_from_an_owners_first_sign_in_to_a_completed_invite(db: TestDatabase) {
    let smtp = smtp_server().await;
    let app = TestApp::start(db).await;
    let (stop, notifier) = start_notifier(&app, settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port))));
    let files = tempfile::tempdir().unwrap();
    let (cut_off, whole) = (
        files.path().join("payslip-july.pdf"),
        files.path().join("payslip-july-whole.pdf"),
    );
    std::fs::write(&cut_off, pdf("july, cut off")).unwrap();
    std::fs::write(&whole, pdf("july, whole")).unwrap();

    // The owner: first sign-in from the link `lodge staff add` printed, then two-step sign-in.
    let (_, owner_link) = member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let owner = browser(Screen::Desktop).await;
    sign_in_with_link(&owner, &owner_link).await;
    owner.goto(&app.url("/staff/account/two-step")).await;
    let key = owner.text("#setup-key").await;
    owner.type_into("#code", &code(&key, 0)).await;
    enter(&owner, "#code").await;
    owner.wait_for_text("h1", "Two-step sign-in is on").await;
    owner.click("header .sign-out button").await;
    owner.wait_for_text("h1", "Sign in").await;
    owner.type_into("#email", "olive@firm.example").await;
    owner.type_into("#password", PASSWORD).await;
    enter(&owner, "#password").await;
    owner.wait_for_text("h1", "Your sign-in code").await;
    owner.type_into("#code", &code(&key, 1)).await;
    enter(&owner, "#code").await;
    owner.wait_for_text("h1", "Invites").await;

    // The owner invites a colleague, who sets a password from the email.
    owner.click("nav.tabs a[href='/staff/team']").await;
    owner.type_into("#member-name", "Sam Staff").await;
    owner.type_into("#member-email", "sam@firm.example").await;
    owner.click("form.account button").await;
    owner.wait_for_text("#sign-in-link", "We emailed Sam Staff").await;
    let sam_link = emailed_link(smtp.maildir.path(), "sam@firm.example").await;
    let sam = browser(Screen::Desktop).await;
    sign_in_with_link(&sam, &sam_link).await;

    // Sam sends an invite with a file request and a form request.
    sam.click("a.button[href='/staff/invites/new']").await;
    sam.wait_for_text("h1", "New invite").await;
    sam.type_into("#title", "Tax return 2026").await;
    sam.type_into("#contact_name_0", "Ana Alves").await;
    sam.type_into("#contact_email_0", "ana@example.com").await;
    sam.type_into("#request_title_0", "Payslips").await;
    sam.click("button[value=add_request]").await;
    sam.wait_for_text("main", "Request").await;
    sam.element("#request_kind_1")
        .await
        .select_by_value("form")
        .await
        .unwrap();
    sam.type_into("#request_title_1", "Your details").await;
    sam.type_into("#field_label_1_0", "Tax file number").await;
    sam.click("button[value=send]").await;
    sam.wait_for_text("h1", "Invite sent").await;
    let portal_link = sam
        .element(".copy-row input")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    sam.click("main a[href^='/staff/invites/']:not([href='/staff/invites/new'])")
        .await;
    sam.wait_for_text("h1", "Tax return 2026").await;
    let invite_path = sam.client.current_url().await.unwrap().path().to_owned();
    sam.wait_for_text("#review", "Waiting for review (0)").await;

    // Ana, in a browser of her own, uploads a file; Sam's page shows it without a reload.
    let ana = browser(Screen::Phone).await;
    ana.goto(&portal_link).await;
    ana.wait_for_text("#invite-title", "Tax return 2026").await;
    ana.click(".request a").await;
    ana.wait_for_text("#request-title", "Payslips").await;
    ana.choose_files("#files", &[&cut_off]).await;
    ana.wait_for_text(".documents", "payslip-july.pdf").await;
    sam.wait_for_text("#review", "Waiting for review (1)").await;

    // Sam rejects it with a reason; Ana reads it and sends the whole page.
    let reason = sam.element(".review-actions form.reject input[name=reason]").await;
    reason.send_keys("The bottom of the page is cut off").await.unwrap();
    reason.send_keys(&Key::Enter.to_string()).await.unwrap();
    sam.wait_for_text("#review", "Waiting for review (0)").await;
    for _ in 0..100 {
        ana.client.refresh().await.unwrap();
        if ana
            .text(".documents")
            .await
            .contains("The bottom of the page is cut off")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ana.wait_for_text(".documents", "The bottom of the page is cut off")
        .await;
    ana.choose_files("#files", &[&whole]).await;
    ana.wait_for_text(".documents", "payslip-july-whole.pdf").await;

    // Sam accepts it from the review queue with the keyboard: j, then a.
    sam.click("nav.tabs a[href='/staff/review']").await;
    for _ in 0..100 {
        if sam.text("main").await.contains("payslip-july-whole.pdf") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        sam.client.refresh().await.unwrap();
    }
    sam.element("body").await.send_keys("j").await.unwrap();
    sam.client.active_element().await.unwrap().send_keys("a").await.unwrap();
    sam.wait_for_text("main", "Waiting for review: 0").await;

    // Ana fills in the form; the invite is then complete.
    ana.click(".back").await;
    ana.click(".request:nth-child(2) a").await;
    ana.wait_for_text("#request-title", "Your details").await;
    ana.type_into("#field-tax_file_number", "123 456 789").await;
    ana.click("form.form-request button").await;
    ana.wait_for_text(".notice.done", "Your answers were sent").await;
    sam.click("nav.tabs a[href='/staff/']").await;
    for _ in 0..100 {
        if sam.text("table.invites").await.contains("Completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        sam.client.refresh().await.unwrap();
    }
    sam.wait_for_text("table.invites", "Completed").await;
    sam.wait_for_text("table.invites", "2 of 2 done").await;
    sam.wait_for_text("dl.counts", "Completed this month\n1").await;

    // A viewer sees the invite, with no change button; their posts are refused.
    let (_, viewer) = signed_in_member(&app, "val@firm.example", "Val Viewer", Role::Viewer).await;
    let seen = expect_page(get_with(&app, &invite_path, &viewer).await, StatusCode::OK).await;
    assert!(
        seen.contains("payslip-july-whole.pdf") && seen.contains("Your details"),
        "{seen}"
    );
    for change in [
        "documents/",
        "messages\"",
        "cancel\"",
        "due-date\"",
        "reminders\"",
        "contacts\"",
        "requests\"",
    ] {
        let form = format!("action=\"{invite_path}/{change}");
        assert!(!seen.contains(&form), "a viewer has no `{form}` form: {seen}");
    }
    assert!(!seen.contains("/link\""), "nor a new link's: {seen}");
    let refused = post_with(&app, &format!("{invite_path}/cancel"), &viewer, &[("reason", "")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // The record: each step, with who did it.
    owner.goto(&app.url(&format!("{invite_path}/record"))).await;
    owner.wait_for_text("#chain", "Hash chain verified").await;
    let trail = owner.text("table.trail").await;
    for step in [
        "document_rejected",
        "document_accepted",
        "form_submitted",
        "document_uploaded",
        "invite_sent",
    ] {
        assert!(trail.contains(step), "`{step}` is not on the record: {trail}");
    }
    assert!(trail.contains("Sam Staff") && trail.contains("Ana Alves"), "{trail}");
    owner.goto(&app.url("/staff/team/record")).await;
    owner
        .wait_for_text(
            "main",
            "Olive Owner signed in with their password and a code from their app",
        )
        .await;
    owner
        .wait_for_text("main", "Sam Staff's sign-in link was emailed")
        .await;

    for (name, browser) in [("owner", &owner), ("sam", &sam), ("ana", &ana)] {
        let errors = browser.console_errors().await;
        assert!(errors.is_empty(), "{name}'s pages logged errors: {errors:?}");
    }
    owner.close().await;
    sam.close().await;
    ana.close().await;
    stop.cancel();
    notifier.await.unwrap();
}
