//! Changing a sent invite from its page, over real HTTP on both engines: the due date (set, removed,
//! refused in the past), the reminders (the invite's own, refused when not whole days), a new
//! portal link that ends the old one, another contact with a link that opens their portal, another
//! file request for every contact; a viewer sees no form and is refused.

use lodge_domain::invite::InviteEvent;
use lodge_domain::team::Role;
use lodge_eventlog::StreamId;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::json;

use crate::console::{client, get_with, location, post_with, signed_in_member, staff_session};
use crate::console_invites::invite_page_showing;
use crate::support::{TestApp, expect_page, two_contact_invite};

lodge_eventlog::test_on_both_engines!(
    staff_change_the_due_date_from_the_invite_page,
    staff_give_an_invite_its_own_reminders,
    a_new_link_for_a_contact_ends_the_old_one,
    staff_add_a_contact_who_opens_their_own_link,
    staff_ask_for_more_files_from_every_contact,
    a_viewer_sees_no_change_form_and_is_refused,
);

async fn invite_events(app: &TestApp, invite: &str) -> Vec<InviteEvent> {
    let stream = StreamId::parse(&format!("invite-{invite}")).unwrap();
    app.log
        .read_stream(&stream)
        .await
        .unwrap()
        .iter()
        .map(|event| event.decode::<InviteEvent>().unwrap())
        .collect()
}

async fn staff_change_the_due_date_from_the_invite_page(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = sent.id.to_string();
    let page = invite_page_showing(&app, &invite, &cookie, "Tax return 2026").await;
    assert!(
        page.contains(&format!(r#"action="/staff/invites/{invite}/due-date""#)),
        "{page}"
    );

    let later = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
    let changed = post_with(
        &app,
        &format!("/staff/invites/{invite}/due-date"),
        &cookie,
        &[("due_date", later.as_str())],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&changed), format!("/staff/invites/{invite}"));
    let page = expect_page(
        get_with(&app, &format!("/staff/invites/{invite}"), &cookie).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains(&format!(r#"name="due_date" type="date" value="{later}""#)),
        "read at once: {page}"
    );

    // A day already gone is refused with a page saying so, and changes nothing.
    let events = app.event_count().await;
    let past = (chrono::Utc::now().date_naive() - chrono::Days::new(3)).to_string();
    let refused = post_with(
        &app,
        &format!("/staff/invites/{invite}/due-date"),
        &cookie,
        &[("due_date", past.as_str())],
    )
    .await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let said = refused.text().await.unwrap();
    assert!(
        said.contains("<!doctype html>") && said.to_lowercase().contains("past"),
        "{said}"
    );
    let garbage = post_with(
        &app,
        &format!("/staff/invites/{invite}/due-date"),
        &cookie,
        &[("due_date", "next tuesday")],
    )
    .await;
    let said = expect_page(garbage, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(said.contains("is not a date"), "{said}");
    assert_eq!(app.event_count().await, events);

    // Empty removes it.
    let removed = post_with(
        &app,
        &format!("/staff/invites/{invite}/due-date"),
        &cookie,
        &[("due_date", "")],
    )
    .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let page = expect_page(
        get_with(&app, &format!("/staff/invites/{invite}"), &cookie).await,
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("no due date"), "{page}");
}

async fn staff_give_an_invite_its_own_reminders(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = sent.id.to_string();
    let path = format!("/staff/invites/{invite}/reminders");
    let events = app.event_count().await;
    let refused = post_with(
        &app,
        &path,
        &cookie,
        &[
            ("reminder_days_before", "soon"),
            ("reminder_overdue_every_days", ""),
            ("reminders_at_most", ""),
        ],
    )
    .await;
    let said = expect_page(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(said.contains("give reminders as whole days"), "{said}");
    assert_eq!(app.event_count().await, events);

    let own = post_with(
        &app,
        &path,
        &cookie,
        &[
            ("reminder_days_before", "5, 2"),
            ("reminder_overdue_every_days", "7"),
            ("reminders_at_most", "3"),
        ],
    )
    .await;
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
    let firms = post_with(
        &app,
        &path,
        &cookie,
        &[
            ("reminder_days_before", ""),
            ("reminder_overdue_every_days", ""),
            ("reminders_at_most", ""),
        ],
    )
    .await;
    assert_eq!(firms.status(), StatusCode::SEE_OTHER);
    let plans: Vec<_> = invite_events(&app, &invite)
        .await
        .into_iter()
        .filter_map(|event| match event {
            InviteEvent::RemindersChanged(changed) => Some(
                changed
                    .reminders
                    .map(|plan| (plan.days_before, plan.overdue_every_days, plan.at_most)),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(plans, vec![Some((vec![5, 2], 7, 3)), None]);
}

/// The portal link a page shows in its copy field.
fn shown_link(page: &str) -> String {
    page.split(r#"id="new-portal-link" value=""#)
        .nth(1)
        .expect("a link shown")
        .split('"')
        .next()
        .unwrap()
        .replace("&#x2f;", "/")
}

async fn opens(app: &TestApp, portal_url: &str) -> StatusCode {
    let token = portal_url.rsplit("/p/").next().unwrap();
    client()
        .post(app.url("/api/portal/session"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
        .status()
}

async fn a_new_link_for_a_contact_ends_the_old_one(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let (invite, ana) = (sent.id.to_string(), &sent.contacts[0]);
    let page = invite_page_showing(&app, &invite, &cookie, "Tax return 2026").await;
    let button = format!(r#"action="/staff/invites/{invite}/contacts/{}/link""#, ana.id);
    assert!(page.contains(&button), "{page}");
    let made = post_with(
        &app,
        &format!("/staff/invites/{invite}/contacts/{}/link", ana.id),
        &cookie,
        &[],
    )
    .await;
    let page = expect_page(made, StatusCode::OK).await;
    assert!(page.contains("Ana Alves has a new portal link"), "{page}");
    let new = shown_link(&page);
    assert_ne!(new, ana.portal_url.as_str());
    assert_eq!(
        opens(&app, ana.portal_url.as_str()).await,
        StatusCode::NOT_FOUND,
        "the old link is dead"
    );
    assert_eq!(opens(&app, &new).await, StatusCode::OK);
}

async fn staff_add_a_contact_who_opens_their_own_link(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = sent.id.to_string();
    let added = post_with(
        &app,
        &format!("/staff/invites/{invite}/contacts"),
        &cookie,
        &[("name", " Cai Alves "), ("email", "cai@example.com"), ("phone", "")],
    )
    .await;
    let page = expect_page(added, StatusCode::OK).await;
    assert!(page.contains("Cai Alves has a new portal link"), "{page}");
    let cai = app.contact(&shown_link(&page)).await;
    let portal: serde_json::Value = cai.get("/api/portal").await.json().await.unwrap();
    let titles: Vec<&str> = portal["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Payslips"],
        "what all contacts are asked for, not Ana's own form"
    );
    let page = expect_page(
        get_with(&app, &format!("/staff/invites/{invite}"), &cookie).await,
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("Cai Alves"), "{page}");

    // A contact with neither email nor phone is refused, and nothing changes.
    let events = app.event_count().await;
    let refused = post_with(
        &app,
        &format!("/staff/invites/{invite}/contacts"),
        &cookie,
        &[("name", "Dee"), ("email", ""), ("phone", "")],
    )
    .await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    assert_eq!(app.event_count().await, events);
}

async fn staff_ask_for_more_files_from_every_contact(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = sent.id.to_string();
    let added = post_with(
        &app,
        &format!("/staff/invites/{invite}/requests"),
        &cookie,
        &[("title", "Bank statements"), ("description", "The last three months")],
    )
    .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&added), format!("/staff/invites/{invite}#requests"));
    let page = expect_page(
        get_with(&app, &format!("/staff/invites/{invite}"), &cookie).await,
        StatusCode::OK,
    )
    .await;
    let row = page
        .split("<th scope=\"row\">Bank statements</th>")
        .nth(1)
        .expect("a row in the grid")
        .split("</tr>")
        .next()
        .unwrap();
    assert_eq!(row.matches("status-open").count(), 2, "asked of both contacts: {row}");
    let events = app.event_count().await;
    let refused = post_with(
        &app,
        &format!("/staff/invites/{invite}/requests"),
        &cookie,
        &[("title", "  "), ("description", "")],
    )
    .await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    assert_eq!(app.event_count().await, events);
}

async fn a_viewer_sees_no_change_form_and_is_refused(db: TestDatabase) {
    let app = TestApp::start(db).await;
    staff_session(&app).await;
    let (_, viewer) = signed_in_member(&app, "val@firm.example", "Val Viewer", Role::Viewer).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = sent.id.to_string();
    let page = invite_page_showing(&app, &invite, &viewer, "Tax return 2026").await;
    assert!(
        !page.contains("/due-date") && !page.contains("/reminders") && !page.contains("/link\""),
        "{page}"
    );
    let events = app.event_count().await;
    for path in ["due-date", "reminders", "contacts", "requests"] {
        let refused = post_with(
            &app,
            &format!("/staff/invites/{invite}/{path}"),
            &viewer,
            &[("due_date", ""), ("name", "X"), ("title", "X")],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.event_count().await, events);
}
