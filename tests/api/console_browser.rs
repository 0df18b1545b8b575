//! The staff console in a real browser (headless Chromium over WebDriver), against the real
//! server, on both engines: a new owner follows their sign-in link, chooses a password, lands on the
//! dashboard, signs out and in again, with the keyboard alone. With `LODGE_SAVE_SCREENSHOTS=1` each
//! page is saved under `docs/screenshots/`.

use std::time::Duration;

use fantoccini::key::Key;
use lodge_domain::team::Role;
use lodge_eventlog::testing::TestDatabase;

use crate::console::{PASSWORD, member_with_link};
use crate::support::browser::{Browser, Screen, browser};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;

lodge_eventlog::test_on_both_engines!(
    an_owner_signs_in_from_their_link_on_a_desktop,
    an_owner_signs_in_from_their_link_on_a_phone,
    staff_review_an_upload_with_the_keyboard,
    staff_send_an_invite_from_the_new_invite_page,
    an_owner_turns_on_two_step_sign_in_and_signs_in_with_a_code,
);

async fn an_owner_signs_in_from_their_link_on_a_desktop(db: TestDatabase) {
    an_owner_signs_in_from_their_link(db, Screen::Desktop).await;
}

async fn an_owner_signs_in_from_their_link_on_a_phone(db: TestDatabase) {
    an_owner_signs_in_from_their_link(db, Screen::Phone).await;
}

/// Types `text` and moves on with Tab, as a person at the keyboard does.
pub async fn type_and_tab(browser: &Browser, text: &str) {
    let active = browser.client.active_element().await.unwrap();
    active.send_keys(text).await.unwrap();
    active.send_keys(&Key::Tab.to_string()).await.unwrap();
}

async fn path(browser: &Browser) -> String {
    browser.client.current_url().await.unwrap().path().to_owned()
}

async fn an_owner_signs_in_from_their_link(db: TestDatabase, screen: Screen) {
    let app = TestApp::start_with(db, |settings| settings.firm.name = "Alves & Co".into()).await;
    let (_, link) = member_with_link(&app, "olive@alves.example", "Olive Owner", Role::Owner).await;
    app.staff().send_invite(&two_contact_invite()).await;
    let browser = browser(screen).await;

    // The link opens a page to choose a password, its field focused: the keyboard alone does it.
    browser.goto(&link).await;
    browser.wait_for_text("h1", "Welcome, Olive Owner").await;
    browser.screenshot("console-welcome").await;
    browser.assert_accessible("the page to choose a password").await;
    type_and_tab(&browser, PASSWORD).await;
    let again = browser.client.active_element().await.unwrap();
    assert_eq!(again.attr("id").await.unwrap().as_deref(), Some("again"));
    again.send_keys(PASSWORD).await.unwrap();
    again.send_keys(&Key::Enter.to_string()).await.unwrap();

    browser.wait_for_text("h1", "Invites").await;
    assert_eq!(path(&browser).await, "/staff/");
    browser.wait_for_text("main", "Tax return 2026").await;
    assert!(browser.text("main").await.contains("0 of 3 done"));
    browser.screenshot("console-dashboard").await;
    browser.assert_accessible("the dashboard").await;

    // Signing out lands on the sign-in page; signing in again returns to the dashboard.
    browser.click("header .sign-out button").await;
    browser.wait_for_text("h1", "Sign in").await;
    browser.screenshot("console-sign-in").await;
    browser.assert_accessible("the sign-in page").await;
    browser.type_into("#email", "olive@alves.example").await;
    browser.type_into("#password", "not it at all").await;
    browser.click("form.account button").await;
    browser.wait_for_text("#error", "do not match").await;
    browser.assert_accessible("the sign-in page with its error").await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .element("#password")
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    browser.wait_for_text("h1", "Invites").await;

    // The owner's other pages: the team (a colleague added, their link shown) and their account.
    browser.click("nav.tabs a[href='/staff/team']").await;
    browser.wait_for_text("h1", "Team").await;
    browser.type_into("#member-name", "Sam Staff").await;
    browser.type_into("#member-email", "sam@alves.example").await;
    browser.click("form.account button").await;
    browser.wait_for_text("#sign-in-link", "Sam Staff").await;
    browser.screenshot("console-team").await;
    browser.assert_accessible("the team page").await;
    browser.click("a[href='/staff/team/record']").await;
    browser.wait_for_text("h1", "The team's record").await;
    browser
        .wait_for_text("main", "Sam Staff joined the team as staff")
        .await;
    browser.screenshot("console-team-record").await;
    browser.assert_accessible("the team's record").await;
    browser.click("nav.tabs a[href='/staff/settings']").await;
    browser.wait_for_text("h1", "The firm").await;
    browser.screenshot("console-firm").await;
    browser.assert_accessible("the firm's settings").await;
    browser.click("nav.tabs a[href='/staff/account']").await;
    browser.wait_for_text("h1", "Your account").await;
    browser.screenshot("console-account").await;
    browser.assert_accessible("the account page").await;
    browser.click("nav.tabs a[href='/staff/']").await;
    browser.wait_for_text("h1", "Invites").await;

    // The search finds by contact; the dashboard's own address keeps the filter.
    browser.type_into("#q", "ben alves").await;
    browser
        .element("#q")
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    browser.wait_for_text("main", "Tax return 2026").await;
    assert!(
        browser
            .client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("q=ben+alves")
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    // The wrong password above was answered 401, as it should be; nothing else may fail.
    browser.assert_no_errors_but(&[("/staff/sign-in", "401")]).await;
    browser.close().await;
}

/// Signs a member in through their link, as the browser would, and waits for the dashboard.
pub async fn sign_in_with_link(browser: &Browser, link: &str) {
    browser.goto(link).await;
    browser.type_into("#password", PASSWORD).await;
    browser.type_into("#again", PASSWORD).await;
    browser.click("form.account button").await;
    browser.wait_for_text("h1", "Invites").await;
}

async fn staff_review_an_upload_with_the_keyboard(db: TestDatabase) {
    let app = TestApp::start(db).await;
    member_with_link(&app, "olive@alves.example", "Olive Owner", Role::Owner).await;
    let (_, link) = member_with_link(&app, "sam@alves.example", "Sam Staff", Role::Staff).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let payslips = json!(sent.requests[0].id);

    let browser = browser(Screen::Desktop).await;
    sign_in_with_link(&browser, &link).await;
    browser.wait_for_text("main", "Tax return 2026").await;
    browser.click("table.invites a").await;
    browser.wait_for_text("h1", "Tax return 2026").await;
    browser.wait_for_text("#review", "Waiting for review (0)").await;
    // The contact uploads while the page is open: it shows without a reload.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        ana.upload(&payslips, &[("payslip.pdf", pdf("july"))]).await.status(),
        StatusCode::CREATED
    );
    browser.wait_for_text("#review", "Waiting for review (1)").await;
    browser.screenshot("console-invite").await;
    browser.assert_accessible("the invite page").await;

    // Reject with a reason, from the keyboard: the reason's field, then Enter.
    let reason = browser.element(".review-actions form.reject input[name=reason]").await;
    reason.send_keys("The July payslip is cut off").await.unwrap();
    reason.send_keys(&Key::Enter.to_string()).await.unwrap();
    browser.wait_for_text("#review", "Waiting for review (0)").await;
    assert!(browser.text("main").await.contains("The July payslip is cut off"));
    assert_eq!(
        ana.portal(None).await.requests[0].reason.as_deref(),
        Some("The July payslip is cut off")
    );

    // Ana sends it again; from the review queue, j then a accepts it.
    assert_eq!(
        ana.upload(&payslips, &[("payslip-whole.pdf", pdf("july, whole"))])
            .await
            .status(),
        StatusCode::CREATED
    );
    browser.click("nav.tabs a[href='/staff/review']").await;
    browser.wait_for_text("h1", "Documents to review").await;
    for _ in 0..50 {
        if browser.text("main").await.contains("payslip-whole.pdf") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        browser.client.refresh().await.unwrap();
    }
    browser.assert_accessible("the review queue").await;
    browser.screenshot("console-review").await;
    let body = browser.element("body").await;
    body.send_keys("j").await.unwrap();
    browser
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys("a")
        .await
        .unwrap();
    browser.wait_for_text("main", "Waiting for review: 0").await;
    assert_eq!(ana.portal(None).await.requests[0].status, RequestStatus::Accepted);

    // The record: the trail with who did each step, and the chain verified.
    browser
        .goto(&app.url(&format!("/staff/invites/{}/record", sent.id)))
        .await;
    browser.wait_for_text("#chain", "Hash chain verified").await;
    browser.wait_for_text("main", "document_accepted").await;
    assert!(browser.text("main").await.contains("Sam Staff"));
    browser.screenshot("console-record").await;
    browser.assert_accessible("the record").await;

    browser.assert_no_errors_but(&[]).await;
    browser.close().await;
}

/// The accessibility check can fail: on a page with an image without words and a field without a
/// label, axe-core reports both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accessibility_check_finds_what_is_wrong() {
    let browser = browser(Screen::Desktop).await;
    browser
        .goto("data:text/html,<!doctype html><html lang=en><title>t</title><main><img src=x.png><input></main></html>")
        .await;
    let violations = browser.axe_violations().await;
    assert!(violations.iter().any(|v| v.starts_with("image-alt")), "{violations:?}");
    assert!(violations.iter().any(|v| v.starts_with("label")), "{violations:?}");
    browser.close().await;
}

async fn staff_send_an_invite_from_the_new_invite_page(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, link) = member_with_link(&app, "olive@alves.example", "Olive Owner", Role::Owner).await;
    let browser = browser(Screen::Desktop).await;
    sign_in_with_link(&browser, &link).await;
    browser.click("a.button[href='/staff/invites/new']").await;
    browser.wait_for_text("h1", "New invite").await;
    browser.assert_accessible("the New invite page").await;

    // Enter in a field previews; a mistake shows beside its field and in the summary.
    browser.type_into("#contact_name_0", "Ana Alves").await;
    browser
        .element("#contact_name_0")
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    browser.wait_for_text("#error-summary", "give the invite a title").await;
    browser.wait_for_text("#title-error", "give the invite a title").await;
    browser.assert_accessible("the New invite page with its mistakes").await;

    browser.type_into("#title", "Tax return 2026").await;
    browser.type_into("#contact_email_0", "ana@example.com").await;
    browser.type_into("#request_title_0", "Payslips").await;
    browser.click("button[value=add_request]").await;
    browser.wait_for_text("main", "Request").await;
    browser
        .element("#request_kind_1")
        .await
        .select_by_value("form")
        .await
        .unwrap();
    browser.type_into("#request_title_1", "Your details").await;
    browser.type_into("#field_label_1_0", "Tax file number").await;
    browser
        .element("#title")
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    browser.wait_for_text("#preview", "What the contact will see").await;
    assert!(browser.text("#preview").await.contains("Your details"));
    browser.screenshot("console-new-invite").await;

    browser.click("button[value=send]").await;
    browser.wait_for_text("h1", "Invite sent").await;
    browser.assert_accessible("the page after sending").await;
    let copy = browser.element("button[data-copy]").await;
    assert!(
        copy.is_displayed().await.unwrap(),
        "the copy button shows where a script runs"
    );
    let link = browser
        .element(".copy-row input")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(link.starts_with(&app.url("/p/")), "{link}");
    // The mistake above was answered 422, as it should be; nothing else may fail.
    browser.assert_no_errors_but(&[("/staff/invites/new", "422")]).await;
    browser.close().await;
}

/// Two-step sign-in from a phone: set up from the account page (the key read from the page, as a
/// person types it into their app), then a sign-in that asks for the code after the password.
async fn an_owner_turns_on_two_step_sign_in_and_signs_in_with_a_code(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, link) = member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let browser = browser(Screen::Phone).await;
    browser.goto(&link).await;
    browser.type_into("#password", PASSWORD).await;
    browser.type_into("#again", PASSWORD).await;
    browser.click("form.account button").await;
    browser.wait_for_text("h1", "Invites").await;

    browser.goto(&app.url("/staff/account")).await;
    browser.wait_for_text("#two-step ~ p", "Off.").await;
    browser.click("a[href='/staff/account/two-step']").await;
    browser.wait_for_text("h1", "Two-step sign-in").await;
    assert_eq!(browser.count(".qr svg").await, 1, "a picture to scan");
    browser.screenshot("console-two-step").await;
    browser.assert_accessible("the two-step setup page").await;
    let key = browser.text("#setup-key").await;
    browser
        .type_into("#code", &crate::console_two_step::code(&key, 0))
        .await;
    browser
        .element("#code")
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    browser.wait_for_text("h1", "Two-step sign-in is on").await;
    assert_eq!(browser.count(".recovery-codes li").await, 10);
    browser.assert_accessible("the recovery codes").await;

    browser.click("header .sign-out button").await;
    browser.wait_for_text("h1", "Sign in").await;
    // "Forgot your password?" answers the same for anyone.
    browser.click("a[href='/staff/forgot']").await;
    browser.wait_for_text("h1", "Forgot your password?").await;
    browser.assert_accessible("the page to ask for a new password").await;
    browser.type_into("#email", "olive@firm.example").await;
    browser
        .element("#email")
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    browser
        .wait_for_text("#sent", "If olive@firm.example has an account here")
        .await;
    browser.assert_accessible("the answer to a forgotten password").await;
    browser.click("a[href='/staff/sign-in']").await;
    browser.wait_for_text("h1", "Sign in").await;
    browser.type_into("#email", "olive@firm.example").await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .element("#password")
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    browser.wait_for_text("h1", "Your sign-in code").await;
    browser.screenshot("console-sign-in-code").await;
    browser.assert_accessible("the page asking for the code").await;
    // The code field has the focus: type and press Enter.
    let field = browser.client.active_element().await.unwrap();
    assert_eq!(field.attr("id").await.unwrap().as_deref(), Some("code"));
    field.send_keys(&crate::console_two_step::code(&key, 1)).await.unwrap();
    field.send_keys(&Key::Enter.to_string()).await.unwrap();
    browser.wait_for_text("h1", "Invites").await;
    browser.assert_no_errors_but(&[]).await;
    browser.close().await;
}
