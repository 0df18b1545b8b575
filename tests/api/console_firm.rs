//! The firm's settings over real HTTP, on both engines: an owner saves the firm's name, contact
//! details, time zone and reminders; the console, the portal and the emails the notifier writes
//! follow at once; a mistake is shown beside the form and changes nothing; only owners may.

use std::time::{Duration, Instant};

use lodge_domain::firm::FirmEvent;
use lodge_domain::team::Role;
use lodge_eventlog::StreamId;
use lodge_eventlog::testing::TestDatabase;
use mail_parser::MessageParser;
use reqwest::StatusCode;

use crate::console::{get_with, location, post_with, signed_in_member};
use crate::notifier::{received, settings, smtp_server, start_notifier};
use crate::support::{PATIENCE, TestApp, expect_page, two_contact_invite};

lodge_eventlog::test_on_both_engines!(
    an_owner_changes_the_firms_details_and_portals_and_emails_follow,
    a_mistake_in_the_firms_details_is_shown_and_changes_nothing,
);

const FORM: [(&str, &str); 8] = [
    ("name", "Alves & Daughters"),
    ("email", "hello@alves.example"),
    ("phone", "+61299990000"),
    ("address", "1 George St\nSydney NSW 2000"),
    ("time_zone", "Australia/Sydney"),
    ("reminder_days_before", "5, 1"),
    ("reminder_overdue_every_days", "2"),
    ("reminders_at_most", "4"),
];

fn form_with(field: &str, value: &'static str) -> Vec<(&'static str, &'static str)> {
    FORM.iter()
        .map(|(k, v)| if *k == field { (*k, value) } else { (*k, *v) })
        .collect()
}

async fn firm_events(app: &TestApp) -> Vec<FirmEvent> {
    match app.log.read_stream(&StreamId::firm()).await {
        Ok(events) => events.iter().map(|e| e.decode::<FirmEvent>().unwrap()).collect(),
        Err(lodge_eventlog::LogError::UnknownStream(_)) => Vec::new(),
        Err(other) => panic!("{other}"),
    }
}

async fn an_owner_changes_the_firms_details_and_portals_and_emails_follow(db: TestDatabase) {
    let smtp = smtp_server().await;
    let app = TestApp::start_with(db, |settings| settings.firm.name = "Alves & Co".into()).await;
    let (stop, notifier) = start_notifier(&app, settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port))));
    let (_, owner) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;

    let page = expect_page(get_with(&app, "/staff/settings", &owner).await, StatusCode::OK).await;
    assert!(
        page.contains(r#"name="name" value="Alves &amp; Co""#),
        "the configuration's, to start: {page}"
    );
    assert!(page.contains("<option selected>UTC</option>"), "{page}");

    let saved = post_with(&app, "/staff/settings", &owner, &FORM).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/staff/settings?saved=true");
    let page = expect_page(
        get_with(&app, "/staff/settings?saved=true", &owner).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains("<title>The firm · Alves &amp; Daughters</title>"),
        "{page}"
    );
    assert!(page.contains("<option selected>Australia&#x2f;Sydney</option>"));
    assert!(page.contains(r#"value="5, 1""#) && page.contains("Saved."), "{page}");
    let events = firm_events(&app).await;
    assert_eq!(events.len(), 1);
    let FirmEvent::FirmDetailsChanged(details) = &events[0];
    assert_eq!(details.reminders.days_before, vec![5, 1]);
    assert_eq!(details.address.as_deref(), Some("1 George St\nSydney NSW 2000"));
    let record = expect_page(
        get_with(&app, "/staff/team/record?part=team", &owner).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        record.contains("The firm&#x27;s details were saved (its name: Alves &amp; Daughters)"),
        "{record}"
    );
    // Saving it again unchanged records nothing.
    post_with(&app, "/staff/settings", &owner, &FORM).await;
    assert_eq!(firm_events(&app).await.len(), 1);

    // The portal and the notifier's emails use the new details.
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let portal: serde_json::Value = ana.get("/api/portal").await.json().await.unwrap();
    assert_eq!(portal["firm"]["name"], "Alves & Daughters");
    assert_eq!(portal["firm"]["time_zone"], "Australia/Sydney");
    let contact_tab = ana.get("/portal/contact").await.text().await.unwrap();
    assert!(contact_tab.contains("1 George St<br>"), "{contact_tab}");
    let deadline = Instant::now() + PATIENCE;
    let subject = loop {
        if let Some(path) = received(smtp.maildir.path()).first() {
            let raw = std::fs::read(path).unwrap();
            break MessageParser::default()
                .parse(&raw)
                .unwrap()
                .subject()
                .unwrap()
                .to_owned();
        }
        assert!(Instant::now() < deadline, "no invitation came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(subject.starts_with("Alves & Daughters: "), "{subject}");
    stop.cancel();
    notifier.await.unwrap();
}

async fn a_mistake_in_the_firms_details_is_shown_and_changes_nothing(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, owner) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (_, staff) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;
    for (field, value, said) in [
        ("time_zone", "Mars/Olympus_Mons", "is not a time zone"),
        ("email", "hello at alves", "is not a valid email address"),
        ("name", "  ", "must not be empty"),
        ("reminders_at_most", "lots", "give reminders as whole days"),
    ] {
        let refused = post_with(&app, "/staff/settings", &owner, &form_with(field, value)).await;
        let page = expect_page(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(page.contains(said), "{field}: {page}");
        assert!(page.contains("1 George St"), "the form keeps what was typed");
    }
    assert!(firm_events(&app).await.is_empty());
    assert_eq!(
        get_with(&app, "/staff/settings", &staff).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_with(&app, "/staff/settings", &staff, &FORM).await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(firm_events(&app).await.is_empty());
}
