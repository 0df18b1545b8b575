//! The staff API and the portal API end to end: the real server on a random port, a fresh database
//! on each engine, driven over HTTP.

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

lodge_eventlog::test_on_both_engines!(
    a_sent_invite_shows_on_each_contacts_portal,
    staff_and_contact_write_to_each_other,
    staff_list_and_read_invites,
    a_password_protects_the_portal_and_wrong_guesses_are_limited,
    a_cancelled_invite_closes_its_portals,
    bad_requests_get_problems_and_append_nothing,
    one_contact_never_sees_another,
    an_idempotency_key_makes_a_retry_append_nothing,
    health_and_readiness,
    staff_change_a_sent_invite,
    a_reissued_link_ends_the_old_one,
    a_contact_fills_in_a_form,
    the_record_serves_audit_history_and_files,
    a_portal_session_expires,
    a_portal_read_without_after_catches_up_by_itself,
    portal_links_can_be_made_again_from_the_log_with_the_secret,
    following_a_portal_link_signs_the_contact_in,
);

async fn a_sent_invite_shows_on_each_contacts_portal(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    assert_eq!(sent.contacts.len(), 2);
    assert_eq!(sent.requests[0].title, "Payslips");
    let ana_url = sent.contacts[0].portal_url.as_str();
    assert!(ana_url.starts_with(&format!("{}/p/", app.base)), "{ana_url}");
    // At least 128 random bits in the token.
    assert!(ana_url.rsplit('/').next().unwrap().len() >= 32);

    let ana = app.contact(ana_url).await;
    assert!(!ana.password_required);
    let portal = ana.portal(Some(sent.position)).await;
    assert_eq!(portal.invite.title, "Tax return 2026");
    assert_eq!(
        portal.invite.message.as_deref(),
        Some("Please send these by the due date.")
    );
    assert_eq!(portal.invite.days_until_due, Some(10));
    assert_eq!(portal.sender.name, "Sam Staff");
    assert_eq!(portal.sender.email, "sam@firm.example");
    assert_eq!(portal.firm["name"], "Lodge");
    assert_eq!(portal.contact.name, "Ana Alves");
    assert_eq!(
        portal.totals,
        Totals {
            total: 2,
            done: 0,
            outstanding: 2
        }
    );
    assert_eq!(portal.requests[0].status, RequestStatus::Open);
    assert_eq!(portal.requests[1].kind, RequestKind::Form);

    // Ben has the file request only: the form was for Ana.
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    let portal = ben.portal(Some(sent.position)).await;
    assert_eq!(portal.contact.name, "Ben Alves");
    assert_eq!(portal.totals.total, 1);

    // Staff see exactly what the contact sees.
    let (invite, ben_id) = (&sent.id.to_string(), &sent.contacts[1].id.to_string());
    let staff_view = expect(
        app.staff().get(&format!("/api/invites/{invite}/portal/{ben_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(staff_view, json!(portal));

    // Opening the portal is on the record.
    let audit = app
        .log
        .read_stream(&lodge_eventlog::StreamId::parse(&format!("invite-{invite}")).unwrap())
        .await
        .unwrap();
    assert_eq!(audit.iter().filter(|e| e.event_type == "PortalOpened").count(), 2);
    app.stop().await;
}

async fn staff_and_contact_write_to_each_other(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let ana_id = json!(sent.contacts[0].id);
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;

    let asked: PostedMessage = expect_as(
        ana.post("/api/portal/messages", &json!({"body": "Do you need last year's too?"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let answered: PostedMessage = expect_as(
        app.staff()
            .post(
                &format!("/api/invites/{invite}/messages"),
                &json!({"contact_id": ana_id, "body": "Just this year's, thanks."}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(answered.position > asked.position);

    let portal = ana.portal(answered.position).await;
    let thread: Vec<(MessageFrom, &str, &str)> = portal
        .messages
        .iter()
        .map(|m| (m.from, m.author.as_str(), m.body.as_str()))
        .collect();
    assert_eq!(
        thread,
        vec![
            (MessageFrom::Contact, "Ana Alves", "Do you need last year's too?"),
            (MessageFrom::Staff, "Sam Staff", "Just this year's, thanks."),
        ]
    );
    assert_eq!(portal.messages[0].id, asked.id);

    // Ben's thread is his own.
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    assert!(ben.portal(answered.position).await.messages.is_empty());
    app.stop().await;
}

async fn staff_list_and_read_invites(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let staff = app.staff();
    let first = staff.send_invite(&two_contact_invite()).await;
    let mut other = two_contact_invite();
    other["title"] = json!("Payroll onboarding");
    other["contacts"] = json!([{"name": "Chen Wu", "email": "chen@example.com"}]);
    other["requests"] = json!([{"kind": "file", "title": "Passport"}]);
    let second = staff.send_invite(&other).await;

    let all: InviteList = expect_as(
        staff.get(&format!("/api/invites?after={}", second.position)).await,
        StatusCode::OK,
    )
    .await;
    let titles: Vec<&str> = all.invites.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, vec!["Payroll onboarding", "Tax return 2026"], "newest first");

    let staff_ref = &staff;
    let list = |query: &'static str| async move {
        let list: InviteList = expect_as(staff_ref.get(&format!("/api/invites?{query}")).await, StatusCode::OK).await;
        list.invites
    };
    assert_eq!(list("q=payroll").await.len(), 1);
    assert_eq!(list("contact=ana%40example").await[0].id, first.id);
    assert!(list("status=cancelled").await.is_empty());
    assert!(list("overdue=true").await.is_empty());
    assert_eq!(list("limit=1&offset=1").await[0].id, first.id);

    let one: StaffInviteView = expect_as(
        staff.get(&format!("/api/invites/{}", &first.id.to_string())).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one.title, "Tax return 2026");
    assert_eq!(one.contacts.len(), 2);
    assert_eq!(one.progress, Progress { done: 0, total: 3 });

    expect_problem(
        staff.get("/api/invites?status=lost").await,
        StatusCode::BAD_REQUEST,
        "status",
    )
    .await;
    expect_problem(
        staff.get("/api/invites?limit=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit",
    )
    .await;
    app.stop().await;
}

async fn a_password_protects_the_portal_and_wrong_guesses_are_limited(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let mut body = two_contact_invite();
    body["portal_password"] = json!("correct horse battery");
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    // The password is nowhere in the log, only its argon2id hash.
    let events = app
        .log
        .read_stream(&lodge_eventlog::StreamId::parse(&format!("invite-{invite}")).unwrap())
        .await
        .unwrap();
    assert!(!events[0].data.contains("correct horse"));
    assert!(events[0].data.contains("$argon2id$"));

    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    assert!(ana.password_required);
    expect_problem(ana.get("/api/portal").await, StatusCode::UNAUTHORIZED, "password").await;
    expect_problem(
        ana.post("/api/portal/session/password", &json!({"password": "wrong one"}))
            .await,
        StatusCode::UNAUTHORIZED,
        "wrong password; 4 more tries",
    )
    .await;
    expect(
        ana.post(
            "/api/portal/session/password",
            &json!({"password": "correct horse battery"}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert!(ana.portal(Some(sent.position)).await.invite.password_protected);

    // Ben guesses: five wrong answers, then even the right one must wait.
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    for _ in 0..5 {
        expect_problem(
            ben.post("/api/portal/session/password", &json!({"password": "guess guess"}))
                .await,
            StatusCode::UNAUTHORIZED,
            "wrong password",
        )
        .await;
    }
    let locked = ben
        .post(
            "/api/portal/session/password",
            &json!({"password": "correct horse battery"}),
        )
        .await;
    let retry_after: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    expect_problem(locked, StatusCode::TOO_MANY_REQUESTS, "too many wrong passwords").await;
    expect_problem(ben.get("/api/portal").await, StatusCode::UNAUTHORIZED, "password").await;

    // Each refusal is an event; Ana's one wrong guess does not count against Ben.
    let events = app
        .log
        .read_stream(&lodge_eventlog::StreamId::parse(&format!("invite-{invite}")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "PortalPasswordRefused")
            .count(),
        6
    );
    app.stop().await;
}

async fn a_cancelled_invite_closes_its_portals(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let url = sent.contacts[0].portal_url.as_str();
    let ana = app.contact(url).await;
    let cancelled: Recorded = expect_as(
        app.staff()
            .post(
                &format!("/api/invites/{invite}/cancel"),
                &json!({"reason": "Sent by mistake"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    // Once the staff view shows it cancelled, the session is closed.
    let portal_position = cancelled.position.unwrap();
    let view: StaffInviteView = expect_as(
        app.staff()
            .get(&format!("/api/invites/{invite}?after={portal_position}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view.status, InviteStatus::Cancelled);
    expect(
        app.staff()
            .get(&format!(
                "/api/invites/{invite}/portal/{}?after={portal_position}",
                &sent.contacts[0].id.to_string()
            ))
            .await,
        StatusCode::OK,
    )
    .await;
    expect_problem(ana.get("/api/portal").await, StatusCode::UNAUTHORIZED, "cancelled").await;
    let reopen = app
        .anonymous()
        .post(app.url("/api/portal/session"))
        .json(&json!({"token": url.rsplit('/').next().unwrap()}))
        .send()
        .await
        .unwrap();
    expect_problem(reopen, StatusCode::UNAUTHORIZED, "cancelled").await;
    // Cancelling twice is a conflict, not a second event.
    let before = app.event_count().await;
    expect_problem(
        app.staff()
            .post(&format!("/api/invites/{invite}/cancel"), &json!({}))
            .await,
        StatusCode::CONFLICT,
        "cancelled",
    )
    .await;
    assert_eq!(app.event_count().await, before);
    app.stop().await;
}

async fn bad_requests_get_problems_and_append_nothing(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let staff = app.staff();
    let sent = staff.send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let before = app.event_count().await;

    // Authentication.
    let anonymous = app.anonymous().get(app.url("/api/invites")).send().await.unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "Authorization: Bearer").await;
    expect_problem(
        app.staff_with("lodge_staff_nope").get("/api/invites").await,
        StatusCode::UNAUTHORIZED,
        "unknown or was revoked",
    )
    .await;
    let created = lodge_api::staff::tokens::create(app.store.store(), "Temp", None)
        .await
        .unwrap();
    expect(app.staff_with(&created.token).get("/api/invites").await, StatusCode::OK).await;
    assert!(
        lodge_api::staff::tokens::revoke(app.store.store(), created.id)
            .await
            .unwrap()
    );
    expect_problem(
        app.staff_with(&created.token).get("/api/invites").await,
        StatusCode::UNAUTHORIZED,
        "revoked",
    )
    .await;

    // Malformed, unknown fields, wrong types, missing content type.
    let raw = app
        .anonymous()
        .post(app.url("/api/invites"))
        .bearer_auth(&app.staff_token)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    expect_problem(raw, StatusCode::BAD_REQUEST, "EOF").await;
    let mut unknown = two_contact_invite();
    unknown["colour"] = json!("blue");
    expect_problem(
        staff.post("/api/invites", &unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field `colour`",
    )
    .await;
    let mut wrong_type = two_contact_invite();
    wrong_type["due_date"] = json!("next tuesday");
    expect_problem(
        staff.post("/api/invites", &wrong_type).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "due_date",
    )
    .await;
    let no_type = app
        .anonymous()
        .post(app.url("/api/invites"))
        .bearer_auth(&app.staff_token)
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_problem(no_type, StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json").await;

    // The domain's rules.
    let mut no_contacts = two_contact_invite();
    no_contacts["contacts"] = json!([]);
    no_contacts["requests"] = json!([{"kind": "file", "title": "Payslips"}]);
    expect_problem(
        staff.post("/api/invites", &no_contacts).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "at least one contact",
    )
    .await;
    let mut past = two_contact_invite();
    past["due_date"] = json!("2020-01-01");
    expect_problem(
        staff.post("/api/invites", &past).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "in the past",
    )
    .await;
    let mut bad_email = two_contact_invite();
    bad_email["contacts"][1]["email"] = json!("ben at example");
    expect_problem(
        staff.post("/api/invites", &bad_email).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not a valid email",
    )
    .await;
    let mut stranger = two_contact_invite();
    stranger["requests"][1]["contact_ids"] = json!([uuid::Uuid::now_v7()]);
    expect_problem(
        staff.post("/api/invites", &stranger).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not one of this invite's contacts",
    )
    .await;
    let mut short_password = two_contact_invite();
    short_password["portal_password"] = json!("abc");
    expect_problem(
        staff.post("/api/invites", &short_password).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "8 to 1,024",
    )
    .await;
    let ana_id = json!(sent.contacts[0].id);
    expect_problem(
        staff
            .post(
                &format!("/api/invites/{invite}/messages"),
                &json!({"contact_id": ana_id, "body": "   "}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "",
    )
    .await;
    let document = uuid::Uuid::now_v7();
    expect_problem(
        staff
            .post(
                &format!("/api/invites/{invite}/documents/{document}/review"),
                &json!({"decision": "accept"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "no document",
    )
    .await;

    // What does not exist.
    let nobody = uuid::Uuid::now_v7();
    expect_problem(
        staff.get(&format!("/api/invites/{nobody}")).await,
        StatusCode::NOT_FOUND,
        "no invite",
    )
    .await;
    expect_problem(staff.get("/api/invites/not-a-uuid").await, StatusCode::BAD_REQUEST, "").await;
    expect_problem(
        staff
            .post(
                &format!("/api/invites/{nobody}/messages"),
                &json!({"contact_id": ana_id, "body": "Hello"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "",
    )
    .await;
    expect_problem(
        app.anonymous().get(app.url("/api/nothing")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "no endpoint",
    )
    .await;
    expect_problem(
        app.anonymous().delete(app.url("/api/invites")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "",
    )
    .await;
    let bad_link = app
        .anonymous()
        .post(app.url("/api/portal/session"))
        .json(&json!({"token": "0123456789abcdef"}))
        .send()
        .await
        .unwrap();
    expect_problem(bad_link, StatusCode::NOT_FOUND, "not valid").await;
    expect_problem(
        app.anonymous().get(app.url("/api/portal")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "portal link",
    )
    .await;

    assert_eq!(app.event_count().await, before, "no refused request appended anything");
    app.stop().await;
}

async fn one_contact_never_sees_another(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let first = app.staff().send_invite(&two_contact_invite()).await;
    let second = app.staff().send_invite(&two_contact_invite()).await;
    let ana = app.contact(first.contacts[0].portal_url.as_str()).await;
    let portal = ana.portal(Some(second.position)).await;
    assert_eq!(portal.invite.id, first.id);
    assert_eq!(portal.contact.id, first.contacts[0].id);
    // Staff asking for a contact of another invite get a 404.
    let (invite, other_contact) = (&first.id.to_string(), &second.contacts[0].id.to_string());
    expect_problem(
        app.staff()
            .get(&format!("/api/invites/{invite}/portal/{other_contact}"))
            .await,
        StatusCode::NOT_FOUND,
        "",
    )
    .await;
    // A staff message to a contact of another invite is refused and changes nothing.
    let before = app.event_count().await;
    expect_problem(
        app.staff()
            .post(
                &format!("/api/invites/{invite}/messages"),
                &json!({"contact_id": other_contact, "body": "Hello"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "no contact",
    )
    .await;
    assert_eq!(app.event_count().await, before);
    // A document of one invite cannot be reviewed through another.
    let bob = app.contact(second.contacts[0].portal_url.as_str()).await;
    let theirs: Uploaded = expect_as(
        bob.upload(&json!(second.requests[0].id), &[("p.pdf", pdf("theirs"))])
            .await,
        StatusCode::CREATED,
    )
    .await;
    let before = app.event_count().await;
    expect_problem(
        app.staff()
            .post(
                &format!("/api/invites/{invite}/documents/{}/review", theirs.documents[0].id),
                &json!({"decision": "accept"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "no document",
    )
    .await;
    assert_eq!(app.event_count().await, before);
    // A contact's message lands in their own thread only, whatever the body claims.
    let spoof = ana
        .post(
            "/api/portal/messages",
            &json!({"body": "hi", "contact_id": other_contact}),
        )
        .await;
    expect_problem(spoof, StatusCode::UNPROCESSABLE_ENTITY, "unknown field").await;
    app.stop().await;
}

async fn an_idempotency_key_makes_a_retry_append_nothing(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let body = json!({"contact_id": sent.contacts[0].id, "body": "Reminder: payslips please"});
    let post = || async {
        app.anonymous()
            .post(app.url(&format!("/api/invites/{invite}/messages")))
            .bearer_auth(&app.staff_token)
            .header("idempotency-key", "retry-me-1")
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let first = expect(post().await, StatusCode::CREATED).await;
    let count = app.event_count().await;
    let again = expect(post().await, StatusCode::CREATED).await;
    assert_eq!(again, first, "the retry returns the first response");
    assert_eq!(app.event_count().await, count, "and appends nothing");
    // The same key for a different request is a conflict.
    let other = app
        .anonymous()
        .post(app.url(&format!("/api/invites/{invite}/messages")))
        .bearer_auth(&app.staff_token)
        .header("idempotency-key", "retry-me-1")
        .json(&json!({"contact_id": sent.contacts[0].id, "body": "Something else"}))
        .send()
        .await
        .unwrap();
    expect_problem(other, StatusCode::CONFLICT, "Idempotency-Key").await;
    assert_eq!(app.event_count().await, count);

    // Sending an invite again under the same key answers with the same invite and the same links.
    let mut invite = two_contact_invite();
    invite["portal_password"] = json!("a long password");
    let send = || async {
        app.anonymous()
            .post(app.url("/api/invites"))
            .bearer_auth(&app.staff_token)
            .header("idempotency-key", "send-tax-2026")
            .json(&invite)
            .send()
            .await
            .unwrap()
    };
    let first: SentInvite = expect_as(send().await, StatusCode::CREATED).await;
    let count = app.event_count().await;
    let again: SentInvite = expect_as(send().await, StatusCode::CREATED).await;
    assert_eq!(again, first);
    assert_eq!(app.event_count().await, count);
    // And the link it gave works.
    let ben = app.contact(first.contacts[1].portal_url.as_str()).await;
    assert!(ben.password_required);
    app.stop().await;
}

async fn health_and_readiness(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let health = app.anonymous().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    expect(
        app.staff().get(&format!("/api/invites?after={}", sent.position)).await,
        StatusCode::OK,
    )
    .await;
    let ready: Value = crate::support::eventually_ready(&app, sent.position).await;
    assert_eq!(ready["ready"], true);
    let names: Vec<&str> = ready["projectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["portal", "staff", "audit"]);
    assert!(
        ready["projectors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["lag_events"] == 0 && p["error"].is_null())
    );

    // Anyone learns whether Lodge is ready; only operators learn more.
    let public = json_at(&app.anonymous(), &app.url("/readyz")).await;
    assert_eq!(public, json!({"ready": true}));
    expect_problem(
        app.anonymous().get(app.url("/metrics")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "operations token",
    )
    .await;
    let metrics = app
        .anonymous()
        .get(app.url("/metrics"))
        .bearer_auth(&app.ops_token)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text().await.unwrap();
    for expected in [
        r#"lodge_http_requests_total{method="POST",route="/api/invites",status="201"} 1"#,
        r#"lodge_commands_total{command="SendInvite",outcome="recorded"} 1"#,
        r#"lodge_projector_lag_events{projector="portal"} 0"#,
        r#"lodge_projector_stopped{projector="audit"} 0"#,
        "lodge_http_request_duration_seconds_bucket",
        "lodge_log_head_position",
    ] {
        assert!(text.contains(expected), "/metrics lacks {expected}:\n{text}");
    }
    app.stop().await;
}

async fn staff_change_a_sent_invite(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let staff = app.staff();
    let sent = staff.send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();

    let added: AddedContact = expect_as(
        staff
            .post(
                &format!("/api/invites/{invite}/contacts"),
                &json!({"name": "Cleo Alves", "email": "cleo@example.com"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let request: AddedRequest = expect_as(
        staff
            .post(
                &format!("/api/invites/{invite}/requests"),
                &json!({"kind": "file", "title": "Bank statements", "max_files": 5}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
    let path = format!("/api/invites/{invite}");
    let patch = |body: Value| staff.patch(&path, body);
    let moved: Recorded = expect_as(patch(json!({"due_date": due})).await, StatusCode::OK).await;
    assert!(moved.position > request.position);

    // Cleo's own link opens a portal with the requests for everyone, the new one included.
    let cleo = app.contact(added.portal_url.as_str()).await;
    let portal = cleo.portal(moved.position).await;
    assert_eq!(portal.contact.name, "Cleo Alves");
    let titles: Vec<&str> = portal.requests.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles, vec!["Payslips", "Bank statements"]);
    assert_eq!(portal.invite.days_until_due, Some(30));

    let removed: Recorded = expect_as(patch(json!({"due_date": null})).await, StatusCode::OK).await;
    assert_eq!(cleo.portal(removed.position).await.invite.days_until_due, None);

    let before = app.event_count().await;
    expect_problem(
        patch(json!({"title": "Renamed"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "title",
    )
    .await;
    expect_problem(
        patch(json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing to change",
    )
    .await;
    expect_problem(
        patch(json!({"due_date": "2020-01-01"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "in the past",
    )
    .await;
    expect_problem(
        patch(json!({"due_date": due, "reminders": {"days_before": [400], "overdue_every_days": 3, "at_most": 5}}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "at most 365 days before the due date",
    )
    .await;
    expect_problem(
        patch(json!({"reminders": {"days_before": [3]}})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing field",
    )
    .await;
    expect_problem(
        staff
            .post(
                &format!("/api/invites/{invite}/contacts"),
                &json!({"name": "Ana again", "email": "ana@example.com"}),
            )
            .await,
        StatusCode::CONFLICT,
        "already a contact",
    )
    .await;
    expect_problem(
        staff
            .post(
                &format!("/api/invites/{invite}/requests"),
                &json!({"kind": "file", "title": "X", "contact_ids": [uuid::Uuid::now_v7()]}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "no contact",
    )
    .await;
    assert_eq!(app.event_count().await, before);

    // Staff choose this invite's reminders, then hand them back to the firm's default; the record
    // shows both.
    let weekly = json!({"days_before": [7, 1], "overdue_every_days": 7, "at_most": 4});
    expect(patch(json!({"reminders": weekly})).await, StatusCode::OK).await;
    let unchanged: Recorded = expect_as(patch(json!({"reminders": weekly})).await, StatusCode::OK).await;
    let back: Recorded = expect_as(patch(json!({"reminders": null})).await, StatusCode::OK).await;
    assert!(back.position > unchanged.position);
    let audit = staff.audit(invite, back.position.unwrap()).await;
    let details: Vec<&str> = audit
        .entries
        .iter()
        .filter(|e| e.action == "reminders_changed")
        .map(|e| e.detail.as_deref().unwrap())
        .collect();
    assert_eq!(
        details,
        vec![
            "reminders 7, 1 days before the due date, every 7 days while overdue, 4 at most",
            "reminders as the firm's default"
        ]
    );
    app.stop().await;
}

async fn a_reissued_link_ends_the_old_one(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let (invite, ana_id) = (&sent.id.to_string(), &sent.contacts[0].id.to_string());
    let old_url = sent.contacts[0].portal_url.as_str();
    let old_session = app.contact(old_url).await;
    let reissued: ReissuedLink = expect_as(
        app.staff()
            .post(&format!("/api/invites/{invite}/contacts/{ana_id}/link"), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let new_url = reissued.portal_url.as_str();
    assert_ne!(new_url, old_url);
    let fresh = app.contact(new_url).await;
    assert_eq!(fresh.portal(reissued.position).await.contact.name, "Ana Alves");
    expect_problem(
        old_session.get("/api/portal").await,
        StatusCode::UNAUTHORIZED,
        "replaced",
    )
    .await;
    let old_token = old_url.rsplit('/').next().unwrap();
    let reopen = app
        .anonymous()
        .post(app.url("/api/portal/session"))
        .json(&json!({"token": old_token}))
        .send()
        .await
        .unwrap();
    expect_problem(reopen, StatusCode::NOT_FOUND, "not valid").await;
    let nobody = uuid::Uuid::now_v7();
    expect_problem(
        app.staff()
            .post(&format!("/api/invites/{invite}/contacts/{nobody}/link"), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "no contact",
    )
    .await;
    app.stop().await;
}

async fn a_contact_fills_in_a_form(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let (payslips, form) = (&sent.requests[0].id.to_string(), &sent.requests[1].id.to_string());
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let before = app.event_count().await;
    let submit = |body: Value, request: &str| {
        let path = format!("/api/portal/requests/{request}/form");
        let ana = &ana;
        async move { ana.post(&path, &body).await }
    };
    expect_problem(
        submit(json!({"answers": {"health": true}}), form).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "tax file number",
    )
    .await;
    expect_problem(
        submit(json!({"answers": {"tfn": "123", "health": "yes"}}), form).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "true or false",
    )
    .await;
    expect_problem(
        submit(json!({"answers": {"tfn": "123", "pets": 2}}), form).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no field `pets`",
    )
    .await;
    expect_problem(
        submit(json!({"answers": {"tfn": "123"}}), payslips).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "asks for files",
    )
    .await;
    assert_eq!(app.event_count().await, before);

    let done: Recorded = expect_as(
        submit(json!({"answers": {"tfn": "123 456 789", "health": false}}), form).await,
        StatusCode::CREATED,
    )
    .await;
    let portal = ana.portal(done.position).await;
    assert_eq!(portal.requests[1].status, RequestStatus::FormSubmitted);
    assert_eq!(
        json!(portal.requests[1].answers)["tfn"],
        json!({"type": "text", "value": "123 456 789"})
    );
    assert_eq!(portal.totals.done, 1);
    // The form is not Ben's.
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    expect_problem(
        ben.post(
            &format!("/api/portal/requests/{form}/form"),
            &json!({"answers": {"tfn": "1"}}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "no request",
    )
    .await;
    app.stop().await;
}

async fn the_record_serves_audit_history_and_files(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let file = pdf("payslip");
    let uploaded: Uploaded = expect_as(
        ana.upload(&json!(sent.requests[0].id), &[("payslip.pdf", file.clone())])
            .await,
        StatusCode::CREATED,
    )
    .await;
    let document = uploaded.documents[0].id;
    let position = uploaded.position.unwrap();

    let trail = app.staff().audit(invite, position).await;
    let actions: Vec<&str> = trail.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["invite_sent", "portal_opened", "document_uploaded"]);
    let upload = &trail.entries[2];
    assert!(
        matches!(&upload.actor, Actor::Contact { name, .. } if name == "Ana Alves"),
        "{:?}",
        upload.actor
    );
    assert_eq!(upload.document_id, Some(document));
    assert_eq!(upload.sha256.as_ref(), Some(&uploaded.documents[0].sha256));
    assert_eq!(upload.ip.as_deref(), Some("127.0.0.1"), "where it came from");

    let csv = app
        .staff()
        .get(&format!("/api/invites/{invite}/audit?format=csv"))
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("position,invite_id"));
    assert!(lines[3].contains(",document_uploaded,"));

    let history: InviteAsOf = expect_as(
        app.staff().get(&format!("/api/invites/{invite}/history")).await,
        StatusCode::OK,
    )
    .await;
    assert!(history.chain.intact);
    assert_eq!(history.invite.title, "Tax return 2026");
    let custody: Custody = expect_as(
        app.staff()
            .get(&format!("/api/invites/{invite}/history?document_id={document}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(custody.steps.len(), 1);
    expect_problem(
        app.staff()
            .get(&format!("/api/invites/{invite}/history?as_of=2020-01-01T00:00:00Z"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "did not exist yet",
    )
    .await;
    let nobody = uuid::Uuid::now_v7();
    expect_problem(
        app.staff().get(&format!("/api/invites/{nobody}/audit")).await,
        StatusCode::NOT_FOUND,
        "no invite",
    )
    .await;
    expect_problem(
        app.staff().get(&format!("/api/invites/{nobody}/history")).await,
        StatusCode::NOT_FOUND,
        "no invite",
    )
    .await;

    let download = app.staff().get(&format!("/api/documents/{document}")).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .split(';')
            .next(),
        Some("attachment")
    );
    assert_eq!(download.bytes().await.unwrap().as_ref(), file.as_slice());
    expect_problem(
        app.staff().get(&format!("/api/documents/{nobody}")).await,
        StatusCode::NOT_FOUND,
        "no document",
    )
    .await;
    let anonymous = app
        .anonymous()
        .get(app.url(&format!("/api/documents/{document}")))
        .send()
        .await
        .unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "").await;
    app.stop().await;
}

async fn a_portal_session_expires(db: TestDatabase) {
    let app = TestApp::start_with(db, |settings| {
        settings.session_lifetime = std::time::Duration::from_secs(1)
    })
    .await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let url = sent.contacts[0].portal_url.as_str();
    let opened = app
        .anonymous()
        .post(app.url("/api/portal/session"))
        .json(&json!({"token": url.rsplit('/').next().unwrap()}))
        .send()
        .await
        .unwrap();
    let set_cookie = opened.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict") && set_cookie.contains("Max-Age=1"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let portal = || {
        app.anonymous()
            .get(app.url("/api/portal"))
            .header("cookie", cookie.clone())
            .send()
    };
    assert_eq!(portal().await.unwrap().status(), StatusCode::OK);
    // A browser drops the cookie when it expires; a client that keeps sending it is refused.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    expect_problem(portal().await.unwrap(), StatusCode::UNAUTHORIZED, "expired").await;
    // The link still works: opening it again starts a new session.
    let again = app.contact(url).await;
    again.portal(Some(sent.position)).await;
    app.stop().await;
}

/// Portal reads are served from memory while nothing changes; a change must still show, soon,
/// without the client asking for a position.
async fn a_portal_read_without_after_catches_up_by_itself(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    ana.portal(Some(sent.position)).await;
    for _ in 0..3 {
        // Read repeatedly, so that the view is cached.
        expect(ana.get("/api/portal").await, StatusCode::OK).await;
    }
    for n in 1..=3 {
        let body = format!("Note {n} from the firm");
        expect(
            app.staff()
                .post(
                    &format!("/api/invites/{invite}/messages"),
                    &json!({"contact_id": sent.contacts[0].id, "body": body}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let portal: PortalResponse = expect_as(ana.get("/api/portal").await, StatusCode::OK).await;
            if portal.messages.len() == n {
                assert_eq!(portal.messages[n - 1].body, body);
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the portal still shows {portal:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    // A cancellation closes the portal for a cached session too.
    expect(
        app.staff()
            .post(&format!("/api/invites/{invite}/cancel"), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let response = ana.get("/api/portal").await;
        if response.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cancelled portal is still open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    app.stop().await;
}

/// The notifier puts each contact's link in their email from the log alone: the link is derived
/// from the command id in the event's metadata under the server's secret, never stored.
async fn portal_links_can_be_made_again_from_the_log_with_the_secret(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let stream = lodge_eventlog::StreamId::parse(&format!("invite-{invite}")).unwrap();
    let events = app.log.read_stream(&stream).await.unwrap();
    assert!(
        !events[0]
            .data
            .contains(sent.contacts[0].portal_url.rsplit('/').next().unwrap())
    );
    let data: Value = serde_json::from_str(&events[0].data).unwrap();
    for (index, contact) in sent.contacts.iter().enumerate() {
        let (token, hash) =
            lodge_api::secrets::portal_link_token(&app.secret_key, events[0].metadata.command_id, index);
        assert_eq!(contact.portal_url, format!("{}/p/{token}", app.base));
        assert_eq!(data["contacts"][index]["portal_link"], hash.as_str());
    }
    // Without the secret, the log gives nothing away: another key makes another link.
    let (other, _) = lodge_api::secrets::portal_link_token(
        &lodge_api::settings::random_secret_key(),
        events[0].metadata.command_id,
        0,
    );
    assert!(!sent.contacts[0].portal_url.as_str().ends_with(&other));
    app.stop().await;
}

async fn following_a_portal_link_signs_the_contact_in(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let url = sent.contacts[0].portal_url.as_str();
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    // A page that signs the contact in and goes on to the portal, so that the token leaves the
    // address bar (and a SameSite=Strict cookie is sent on the next, same-site, navigation).
    let followed = browser.get(url).send().await.unwrap();
    assert_eq!(followed.status(), StatusCode::OK);
    let policy = followed.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self'"),
        "{policy}"
    );
    assert_eq!(followed.headers()["referrer-policy"], "no-referrer");
    let opening = followed.text().await.unwrap();
    assert!(opening.contains("http-equiv=\"refresh\""), "{opening}");
    let page = browser.get(app.url("/portal")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1 id=\"invite-title\">Tax return 2026</h1>"), "{html}");
    let portal: PortalResponse = expect_as(
        browser.get(app.url("/api/portal")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(portal.contact.name, "Ana Alves");

    // A link that is none is a page saying so, not JSON.
    let unknown = app
        .anonymous()
        .get(app.url("/p/0123456789abcdef"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(
        unknown.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(unknown.text().await.unwrap().contains("not valid"));
    let signed_out = app.anonymous().get(app.url("/portal")).send().await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);
    assert!(signed_out.text().await.unwrap().contains("open your portal link again"));
    app.stop().await;
}
