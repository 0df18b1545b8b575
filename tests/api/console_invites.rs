//! An invite's page in the console over real HTTP, on both engines: review with a preview, accept
//! and reject with a reason (the contact reads it), a message to a contact, "view as contact",
//! cancelling; what a viewer sees and may not do; previews that never render what could run.

use lodge_domain::team::Role;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::json;

use crate::console::{get_with, location, member_with_link, post_with, signed_in_member, staff_session};
use crate::support::*;

lodge_eventlog::test_on_both_engines!(
    staff_review_documents_from_the_invite_page_and_the_contact_reads_the_reason,
    staff_write_to_a_contact_and_see_it_at_once,
    a_viewer_sees_everything_and_no_change_and_their_posts_are_refused,
    previews_are_sandboxed_images_and_nothing_else,
    view_as_contact_opens_their_portal_read_only,
    staff_cancel_an_invite_from_its_page,
    the_live_stream_tells_a_page_of_its_own_invites_changes,
    the_review_queue_holds_what_waits_across_invites_oldest_first,
    the_record_shows_the_trail_the_invite_as_it_stood_and_a_documents_custody,
);

async fn invite_page(app: &TestApp, invite: &str, cookie: &str) -> String {
    expect_page(
        get_with(app, &format!("/staff/invites/{invite}"), cookie).await,
        StatusCode::OK,
    )
    .await
}

/// The invite page once it shows `expected` (the read model catches up with the contact's upload).
pub async fn invite_page_showing(app: &TestApp, invite: &str, cookie: &str, expected: &str) -> String {
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    loop {
        // Sent through the API a moment ago: the page may not know the invite yet (404).
        let response = get_with(app, &format!("/staff/invites/{invite}"), cookie).await;
        let status = response.status();
        let page = response.text().await.unwrap();
        assert!(
            matches!(status, StatusCode::OK | StatusCode::NOT_FOUND),
            "{status}: {page}"
        );
        if status == StatusCode::OK && page.contains(expected) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "`{expected}` never showed: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// An invite sent to Ana and Ben, with Ana's payslip uploaded: the invite, and Ana's client.
async fn invite_with_ana_upload(app: &TestApp) -> (SentInvite, ContactClient<'_>) {
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let payslips = json!(sent.requests[0].id);
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    assert_eq!(
        ana.upload(&payslips, &[("payslip.png", png())]).await.status(),
        StatusCode::CREATED
    );
    (sent, ana)
}

/// The id of the only document in a page's review list.
fn waiting_document(page: &str) -> String {
    let at = page
        .find(r#"class="review-item" id="document-"#)
        .expect("a document waiting");
    page[at + r#"class="review-item" id="document-"#.len()..][..36].to_owned()
}

async fn staff_review_documents_from_the_invite_page_and_the_contact_reads_the_reason(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let (sent, ana) = invite_with_ana_upload(&app).await;
    let invite = sent.id.to_string();
    let payslips = json!(sent.requests[0].id);

    let page = invite_page_showing(&app, &invite, &cookie, "payslip.png").await;
    assert!(page.contains("Waiting for review (1)"), "{page}");
    assert!(page.contains("From Ana Alves, for “Payslips”"), "{page}");
    let document = waiting_document(&page);
    assert!(
        page.contains(&format!(r#"src="/staff/documents/{document}/preview""#)),
        "an inline preview"
    );
    let review = format!("/staff/invites/{invite}/documents/{document}/review");

    // A rejection needs a reason; refused, it changes nothing.
    let events = app.event_count().await;
    let refused = expect_page(
        post_with(&app, &review, &cookie, &[("decision", "reject")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(refused.contains("needs a reason"), "{refused}");
    assert_eq!(app.event_count().await, events);

    let rejected = post_with(
        &app,
        &review,
        &cookie,
        &[("decision", "reject"), ("reason", "This one is cut off at the bottom")],
    )
    .await;
    assert_eq!(rejected.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&rejected), format!("/staff/invites/{invite}#review"));
    // The member's own write shows on the very next page.
    let page = invite_page(&app, &invite, &cookie).await;
    assert!(
        page.contains("Waiting for review (0)") && page.contains("This one is cut off at the bottom"),
        "{page}"
    );
    let portal = ana.portal(None).await;
    assert_eq!(
        portal.requests[0].reason.as_deref(),
        Some("This one is cut off at the bottom")
    );

    assert_eq!(
        ana.upload(&payslips, &[("payslip.pdf", pdf("whole"))]).await.status(),
        StatusCode::CREATED
    );
    let page = invite_page_showing(&app, &invite, &cookie, "payslip.pdf").await;
    let document = waiting_document(&page);
    assert!(
        !page.contains(&format!("/staff/documents/{document}/preview")),
        "no preview for a PDF"
    );
    let accepted = post_with(
        &app,
        &format!("/staff/invites/{invite}/documents/{document}/review"),
        &cookie,
        &[("decision", "accept")],
    )
    .await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let page = invite_page(&app, &invite, &cookie).await;
    assert!(page.contains("Waiting for review (0)"), "{page}");
    assert!(
        page.contains(r#"<span class="status status-accepted">Accepted</span>"#),
        "{page}"
    );
}

async fn staff_write_to_a_contact_and_see_it_at_once(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = sent.id.to_string();
    let ben = sent.contacts[1].id.to_string();
    invite_page_showing(&app, &invite, &cookie, "Ben Alves").await;

    let posted = post_with(
        &app,
        &format!("/staff/invites/{invite}/messages"),
        &cookie,
        &[("contact_id", &ben), ("body", "Your July payslip is enough.\nThanks!")],
    )
    .await;
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&posted), format!("/staff/invites/{invite}#contact-{ben}"));
    let page = invite_page(&app, &invite, &cookie).await;
    assert!(page.contains("Your July payslip is enough.<br>\nThanks!"), "{page}");
    let ben_portal = app
        .contact(sent.contacts[1].portal_url.as_str())
        .await
        .portal(None)
        .await;
    assert_eq!(ben_portal.messages[0].body, "Your July payslip is enough.\nThanks!");
    assert_eq!(ben_portal.messages[0].author, "Sam Staff");

    let empty = post_with(
        &app,
        &format!("/staff/invites/{invite}/messages"),
        &cookie,
        &[("contact_id", &ben), ("body", "  ")],
    )
    .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_viewer_sees_everything_and_no_change_and_their_posts_are_refused(db: TestDatabase) {
    let app = TestApp::start(db).await;
    member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (_, viewer) = signed_in_member(&app, "val@firm.example", "Val Viewer", Role::Viewer).await;
    let (sent, _) = invite_with_ana_upload(&app).await;
    let invite = sent.id.to_string();

    let page = invite_page_showing(&app, &invite, &viewer, "payslip.png").await;
    let document = waiting_document(&page);
    let review = format!("/documents/{document}/review");
    for change in [review.as_str(), "/messages\"", "/cancel\"", "<textarea"] {
        assert!(!page.contains(change), "a viewer's page has no {change}: {page}");
    }
    assert!(page.contains("/staff/documents/"), "but they can download");
    let events = app.event_count().await;
    let ana_id = sent.contacts[0].id.to_string();
    for (path, form) in [
        (
            format!("/staff/invites/{invite}/documents/{document}/review"),
            vec![("decision", "accept")],
        ),
        (
            format!("/staff/invites/{invite}/messages"),
            vec![("contact_id", &ana_id), ("body", "hello")],
        ),
        (format!("/staff/invites/{invite}/cancel"), vec![]),
    ] {
        let refused = expect_page(post_with(&app, &path, &viewer, &form).await, StatusCode::FORBIDDEN).await;
        assert!(
            refused.contains("needs the staff or owner role, and Val Viewer is a viewer"),
            "{path}: {refused}"
        );
    }
    assert_eq!(app.event_count().await, events, "nothing recorded");
}

async fn previews_are_sandboxed_images_and_nothing_else(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let mut body = two_contact_invite();
    body["requests"] = json!([{"kind": "file", "title": "Anything", "max_files": 5}]);
    let sent = app.staff().send_invite(&body).await;
    let invite = sent.id.to_string();
    let anything = json!(sent.requests[0].id);
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"#.to_vec();
    let html = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>".to_vec();
    let uploaded = ana
        .upload(
            &anything,
            &[("photo.png", png()), ("page.html", html), ("drawing.svg", svg)],
        )
        .await;
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let page = invite_page_showing(&app, &invite, &cookie, "drawing.svg").await;
    let view = app.staff().get(&format!("/api/invites/{invite}")).await;
    let view: StaffInviteView = expect_as(view, StatusCode::OK).await;
    let documents = &view.contacts[0].requests[0].documents;
    let id_of = |name: &str| documents.iter().find(|d| d.file_name == name).unwrap().id.to_string();

    let photo = get_with(
        &app,
        &format!("/staff/documents/{}/preview", id_of("photo.png")),
        &cookie,
    )
    .await;
    assert_eq!(photo.status(), StatusCode::OK);
    let headers = photo.headers();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-disposition"], "inline");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox;"),
        "{headers:?}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    for name in ["page.html", "drawing.svg"] {
        assert!(
            !page.contains(&format!("/staff/documents/{}/preview", id_of(name))),
            "no preview offered for {name}"
        );
        let refused = get_with(&app, &format!("/staff/documents/{}/preview", id_of(name)), &cookie).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{name}");
        let download = get_with(&app, &format!("/staff/documents/{}", id_of(name)), &cookie).await;
        assert_eq!(download.status(), StatusCode::OK);
        let disposition = download.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.starts_with("attachment"), "{name}: {disposition}");
    }
    // Not signed in: no file.
    let anonymous = crate::console::client()
        .get(app.url(&format!("/staff/documents/{}", id_of("photo.png"))))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
}

async fn view_as_contact_opens_their_portal_read_only(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let (invite, ben) = (sent.id.to_string(), sent.contacts[1].id.to_string());
    let opened = post_with(
        &app,
        &format!("/staff/invites/{invite}/contacts/{ben}/view"),
        &cookie,
        &[],
    )
    .await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    let view_link = location(&opened).to_owned();
    assert!(view_link.starts_with(&app.url("/v/")), "{view_link}");
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    // The link's page sets the view's cookie and goes on to the portal.
    assert_eq!(browser.get(&view_link).send().await.unwrap().status(), StatusCode::OK);
    let requests = browser
        .get(app.url("/portal"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        requests.contains("You are viewing Ben Alves") && requests.contains("portal as Sam Staff"),
        "{requests}"
    );
}

async fn staff_cancel_an_invite_from_its_page(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = sent.id.to_string();
    invite_page_showing(&app, &invite, &cookie, "Cancel the invite").await;
    let cancelled = post_with(
        &app,
        &format!("/staff/invites/{invite}/cancel"),
        &cookie,
        &[("reason", "Sent twice")],
    )
    .await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    let page = invite_page(&app, &invite, &cookie).await;
    assert!(
        page.contains(r#"<span class="status status-cancelled">Cancelled</span>"#),
        "{page}"
    );
    assert!(!page.contains("Cancel the invite"), "{page}");
}

async fn the_live_stream_tells_a_page_of_its_own_invites_changes(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let watched = app.staff().send_invite(&two_contact_invite()).await;
    let other = app.staff().send_invite(&two_contact_invite()).await;
    let stream = get_with(&app, &format!("/staff/live?invite={}", watched.id), &cookie).await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut stream = stream.bytes_stream();

    // A change to another invite is not told; one to the page's invite is, with its position.
    let elsewhere = app
        .staff()
        .write_to(&other.id.to_string(), other.contacts[0].id, "Hello")
        .await;
    let here = app
        .staff()
        .write_to(&watched.id.to_string(), watched.contacts[0].id, "Hello")
        .await;
    let mut said = String::new();
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    while !said.contains("event: changed\ndata: ") || !said.ends_with("\n\n") {
        let chunk = tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut stream))
            .await
            .expect("a change within moments")
            .unwrap()
            .unwrap();
        said.push_str(&String::from_utf8_lossy(&chunk));
    }
    let position: i64 = said.split("data: ").nth(1).unwrap().trim().parse().unwrap();
    assert_eq!(Some(position), here.position, "{said}");
    assert!(Some(position) > elsewhere.position);

    // Signed out, no stream.
    let anonymous = crate::console::client()
        .get(app.url("/staff/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
}

async fn the_review_queue_holds_what_waits_across_invites_oldest_first(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let (first, _) = invite_with_ana_upload(&app).await;
    let (second, _) = invite_with_ana_upload(&app).await;
    let queue = within_page(&app, "/staff/review", &cookie, "Waiting for review: 2").await;
    // Each queued document's id, as its item names it.
    const ITEM: &str = r#"" tabindex="-1" data-queue-item"#;
    let ids: Vec<String> = queue
        .match_indices(ITEM)
        .map(|(at, _)| queue[at - 36..at].to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{queue}");
    assert!(
        queue.find(&first.id.to_string()) < queue.find(&second.id.to_string()),
        "oldest first"
    );
    let accepted = post_with(
        &app,
        &format!("/staff/invites/{}/documents/{}/review", first.id, ids[0]),
        &cookie,
        &[("decision", "accept"), ("back", "queue")],
    )
    .await;
    assert_eq!(location(&accepted), "/staff/review");
    let queue = expect_page(get_with(&app, "/staff/review", &cookie).await, StatusCode::OK).await;
    assert!(
        queue.contains("Waiting for review: 1") && !queue.contains(&ids[0]),
        "{queue}"
    );

    let (_, viewer) = signed_in_member(&app, "val@firm.example", "Val Viewer", Role::Viewer).await;
    let seen = expect_page(get_with(&app, "/staff/review", &viewer).await, StatusCode::OK).await;
    assert!(
        seen.contains(&ids[1]) && !seen.contains("data-accept") && !seen.contains("name=\"reason\""),
        "a viewer sees, and has no form"
    );
}

/// A console page once it says `expected` (the read model catches up with the contacts' uploads).
async fn within_page(app: &TestApp, path: &str, cookie: &str, expected: &str) -> String {
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let page = expect_page(get_with(app, path, cookie).await, StatusCode::OK).await;
        if page.contains(expected) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "`{expected}` never showed: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn the_record_shows_the_trail_the_invite_as_it_stood_and_a_documents_custody(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let (sent, _) = invite_with_ana_upload(&app).await;
    let invite = sent.id.to_string();
    let page = invite_page_showing(&app, &invite, &cookie, "payslip.png").await;
    let document = waiting_document(&page);
    let before_review = (chrono::Utc::now() + chrono::Duration::minutes(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let review = format!("/staff/invites/{invite}/documents/{document}/review");
    post_with(
        &app,
        &review,
        &cookie,
        &[("decision", "reject"), ("reason", "Too dark to read")],
    )
    .await;

    let record = within_page(
        &app,
        &format!("/staff/invites/{invite}/record"),
        &cookie,
        "document_rejected",
    )
    .await;
    assert!(record.contains("Hash chain verified:"), "{record}");
    for seen in [
        "invite_sent",
        "document_uploaded",
        "document_rejected",
        "Sam Staff",
        "Too dark to read",
    ] {
        assert!(record.contains(seen), "{seen}: {record}");
    }
    let only = expect_page(
        get_with(
            &app,
            &format!("/staff/invites/{invite}/record?action=document_uploaded"),
            &cookie,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let rows = |page: &str| page.matches("<th scope=\"row\">").count();
    assert_eq!(rows(&only), 1, "one upload: {only}");

    // As it stood a minute from now is as it is; the custody of the file shows its upload and rejection.
    let then = expect_page(
        get_with(
            &app,
            &format!("/staff/invites/{invite}/record?as_of={before_review}&document={document}"),
            &cookie,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(then.contains("As it stood at"), "{then}");
    let custody = &then[then.find(r#"id="custody""#).expect("the custody")..];
    assert!(
        custody.contains("uploaded") && custody.contains("rejected"),
        "{custody}"
    );

    let csv = get_with(&app, &format!("/staff/invites/{invite}/record.csv"), &cookie).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".csv\"")
    );
    assert!(
        csv.text().await.unwrap().lines().count() >= 4,
        "a header and the entries"
    );
    let jsonl = get_with(&app, &format!("/staff/invites/{invite}/record.jsonl"), &cookie).await;
    let text = jsonl.text().await.unwrap();
    for line in text.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(entry["invite_id"], invite.as_str());
    }
    let wrong = expect_page(
        get_with(
            &app,
            &format!("/staff/invites/{invite}/record?as_of=yesterday"),
            &cookie,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(wrong.contains("is not a moment"), "{wrong}");
}
