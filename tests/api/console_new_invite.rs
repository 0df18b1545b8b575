//! The New invite page over real HTTP, on both engines: an invite sent from the form, its links
//! shown once and the same again for the same form; mistakes beside their fields, sending nothing;
//! rows added without JavaScript; the preview; and no form for a viewer.

use lodge_domain::team::Role;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;

use crate::console::{get_with, member_with_link, post_with, signed_in_member, staff_session};
use crate::support::*;

lodge_eventlog::test_on_both_engines!(
    staff_send_an_invite_from_the_page_and_get_each_contacts_link,
    mistakes_are_shown_beside_their_fields_and_nothing_is_sent,
    add_buttons_add_rows_and_keep_what_was_typed,
    the_preview_shows_what_the_contact_will_see,
    a_viewer_has_no_new_invite_page,
);

/// The page's own fields for an invite to Ana and Ben: payslips as PDFs, and a form of two questions.
fn filled_in(key: &str, action: &str) -> Vec<(&'static str, String)> {
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(14)).to_string();
    vec![
        ("key", key.to_owned()),
        ("title", "Tax return 2026".into()),
        ("message", "Please send these.".into()),
        ("due_date", due),
        ("channel_email", "on".into()),
        ("contacts", "2".into()),
        ("contact_name_0", "Ana Alves".into()),
        ("contact_email_0", "ana@example.com".into()),
        ("contact_phone_0", "".into()),
        ("contact_name_1", "Ben Alves".into()),
        ("contact_email_1", "ben@example.com".into()),
        ("requests", "2".into()),
        ("request_kind_0", "file".into()),
        ("request_title_0", "Payslips".into()),
        ("request_types_0", "pdf".into()),
        ("fields_0", "1".into()),
        ("request_kind_1", "form".into()),
        ("request_title_1", "Your details".into()),
        ("fields_1", "2".into()),
        ("field_label_1_0", "Tax file number".into()),
        ("field_type_1_0", "text".into()),
        ("field_required_1_0", "on".into()),
        ("field_label_1_1", "Private health cover".into()),
        ("field_type_1_1", "yes_no".into()),
        ("action", action.into()),
    ]
}

fn form<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Every portal link's token on a page (its slashes escaped, as in any attribute), in order.
fn portal_links(page: &str) -> Vec<String> {
    const PATH: &str = "&#x2f;p&#x2f;";
    page.match_indices(PATH)
        .map(|(at, _)| {
            page[at + PATH.len()..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit())
                .collect::<String>()
        })
        .filter(|token| token.len() == 64)
        .collect()
}

async fn staff_send_an_invite_from_the_page_and_get_each_contacts_link(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let page = expect_page(get_with(&app, "/staff/invites/new", &cookie).await, StatusCode::OK).await;
    let key_at = page.find(r#"name="key" value=""#).expect("the form's key") + r#"name="key" value=""#.len();
    let key = page[key_at..key_at + 36].to_owned();

    let fields = filled_in(&key, "send");
    let sent = expect_page(
        post_with(&app, "/staff/invites/new", &cookie, &form(&fields)).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        sent.contains("Invite sent") && sent.contains("Ana Alves&#x27;s portal link"),
        "{sent}"
    );
    let links = portal_links(&sent);
    assert_eq!(links.len(), 2, "a link per contact: {sent}");

    // The same form posted again (a refresh) sends nothing more, and shows the same links.
    let again = expect_page(
        post_with(&app, "/staff/invites/new", &cookie, &form(&fields)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(portal_links(&again), links);
    // Sent by the console, read through another member's token: once the list has caught up.
    let listed = || async {
        let list: serde_json::Value = expect(app.staff().get("/api/invites").await, StatusCode::OK).await;
        list
    };
    within_moments("the invite in the list", || async {
        !listed().await["invites"].as_array().unwrap().is_empty()
    })
    .await;
    let list = listed().await;
    assert_eq!(list["invites"].as_array().unwrap().len(), 1, "one invite: {list}");

    // What was sent is what the form said, and Ana's link opens her portal.
    let id = list["invites"][0]["id"].as_str().unwrap().to_owned();
    let view: StaffInviteView = expect_as(app.staff().get(&format!("/api/invites/{id}")).await, StatusCode::OK).await;
    assert_eq!(view.sender.name, "Sam Staff");
    let ana = &view.contacts[0];
    assert_eq!(
        (ana.name.as_str(), ana.email.as_deref()),
        ("Ana Alves", Some("ana@example.com"))
    );
    assert_eq!(ana.requests[0].allowed_types, ["application/pdf"]);
    let questions: Vec<_> = ana.requests[1]
        .fields
        .iter()
        .map(|f| (f.label.as_str(), f.required))
        .collect();
    assert_eq!(questions, [("Tax file number", true), ("Private health cover", false)]);
    let portal = app
        .contact(&app.url(&format!("/p/{}", links[0])))
        .await
        .portal(None)
        .await;
    assert_eq!(portal.contact.name, "Ana Alves");
}

async fn mistakes_are_shown_beside_their_fields_and_nothing_is_sent(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let mut fields = filled_in("k", "send");
    for (name, value) in fields.iter_mut() {
        match *name {
            "title" => *value = "  ".into(),
            "contact_email_1" => *value = "ben at example".into(),
            "due_date" => *value = "2020-01-01".into(),
            _ => {}
        }
    }
    let events = app.event_count().await;
    let page = expect_page(
        post_with(&app, "/staff/invites/new", &cookie, &form(&fields)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(app.event_count().await, events, "nothing sent");
    for (field, says) in [
        ("title", "give the invite a title"),
        ("due_date", "the due date is in the past"),
        ("contact_email_1", "this is not an email address"),
    ] {
        assert!(
            page.contains(&format!(r#"<p class="field-error" id="{field}-error">{says}"#)),
            "{field}: {page}"
        );
        assert!(
            page.contains(&format!(r##"<a href="#{field}">{says}"##)),
            "in the summary: {field}"
        );
    }
    assert!(page.contains(r#"aria-describedby="title-error" aria-invalid="true""#));
    assert!(page.contains(r#"value="Ben Alves""#), "what was typed is kept");
}

async fn add_buttons_add_rows_and_keep_what_was_typed(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let events = app.event_count().await;
    let fields = filled_in("k", "add_contact");
    let page = expect_page(
        post_with(&app, "/staff/invites/new", &cookie, &form(&fields)).await,
        StatusCode::OK,
    )
    .await;
    assert!(page.contains(r#"id="contact_name_2""#), "a third contact row");
    assert!(page.contains(r#"value="Tax file number""#), "everything typed is kept");
    assert!(!page.contains("field-error"), "no mistakes shown while adding rows");
    let fields = filled_in("k", "add_field_1");
    let page = expect_page(
        post_with(&app, "/staff/invites/new", &cookie, &form(&fields)).await,
        StatusCode::OK,
    )
    .await;
    assert!(page.contains(r#"id="field_label_1_2""#), "a third question");
    assert_eq!(app.event_count().await, events, "nothing sent");
}

async fn the_preview_shows_what_the_contact_will_see(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let cookie = staff_session(&app).await;
    let events = app.event_count().await;
    let fields = filled_in("k", "preview");
    let page = expect_page(
        post_with(&app, "/staff/invites/new", &cookie, &form(&fields)).await,
        StatusCode::OK,
    )
    .await;
    let at = page.find(r#"id="preview""#).expect("a preview");
    let preview = &page[at..];
    assert!(
        preview.contains("<h3>Tax return 2026</h3>") && preview.contains("From Sam Staff at Lodge"),
        "{preview}"
    );
    assert!(
        preview.contains("<strong>Payslips</strong> · Files to upload"),
        "{preview}"
    );
    assert_eq!(app.event_count().await, events, "nothing sent");
}

async fn a_viewer_has_no_new_invite_page(db: TestDatabase) {
    let app = TestApp::start(db).await;
    member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (_, viewer) = signed_in_member(&app, "val@firm.example", "Val Viewer", Role::Viewer).await;
    let events = app.event_count().await;
    let dashboard = expect_page(get_with(&app, "/staff/", &viewer).await, StatusCode::OK).await;
    assert!(!dashboard.contains("/staff/invites/new"), "no New invite for a viewer");
    let page = expect_page(
        get_with(&app, "/staff/invites/new", &viewer).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(page.contains("needs the staff or owner role"), "{page}");
    let fields = filled_in("k", "send");
    let refused = post_with(&app, "/staff/invites/new", &viewer, &form(&fields)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await, events);
}
