//! Sign-in links by email, on both engines, through a real SMTP server on loopback and the real
//! notifier: an owner adds a colleague, who finds their link in their mailbox; a member who forgot
//! their password asks for a link, chooses a new password, and every earlier session ends; asking
//! is answered the same for an unknown address, and limited; an email that cannot be sent is on the
//! record as such.

use std::time::{Duration, Instant};

use lodge_domain::team::{Role, SignInEvent};
use lodge_eventlog::testing::TestDatabase;
use mail_parser::MessageParser;
use reqwest::StatusCode;

use crate::console::{
    PASSWORD, client, location, member_with_link, post_with, sign_in, sign_in_events, signed_in, signed_in_member,
};
use crate::notifier::{received, settings, smtp_server, start_notifier};
use crate::support::{PATIENCE, TestApp, expect_page};

lodge_eventlog::test_on_both_engines!(
    an_owner_adds_a_colleague_who_finds_their_link_in_their_mailbox,
    a_member_who_forgot_their_password_chooses_a_new_one_from_an_email,
    asking_for_a_link_is_answered_alike_for_anyone_and_limited,
    a_link_that_cannot_be_emailed_is_on_the_record,
);

/// The emails in `maildir` once there are `count`, read as MIME: (to, subject, text).
async fn mails(maildir: &std::path::Path, count: usize) -> Vec<(String, String, String)> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = received(maildir);
        if found.len() >= count {
            return found
                .iter()
                .map(|path| {
                    let raw = std::fs::read(path).unwrap();
                    let message = MessageParser::default().parse(&raw).unwrap();
                    let to = message.to().unwrap().first().unwrap().address().unwrap().to_owned();
                    let text = message.body_text(0).unwrap().into_owned();
                    (to, message.subject().unwrap().to_owned(), text)
                })
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{} emails never came ({} did)",
            count,
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sign-in link an email carries.
fn link_in(text: &str) -> String {
    text.split_whitespace()
        .find(|word| word.contains("/staff/welcome/"))
        .expect("a sign-in link")
        .to_owned()
}

async fn an_owner_adds_a_colleague_who_finds_their_link_in_their_mailbox(db: TestDatabase) {
    let smtp = smtp_server().await;
    let app = TestApp::start(db).await;
    let (stop, notifier) = start_notifier(&app, settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port))));
    let (_, owner) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;

    let added = post_with(
        &app,
        "/staff/team",
        &owner,
        &[("name", "Sam Staff"), ("email", "sam@firm.example"), ("role", "staff")],
    )
    .await;
    let page = expect_page(added, StatusCode::OK).await;
    assert!(
        page.contains("We emailed Sam Staff their one-time sign-in link at sam@firm.example"),
        "{page}"
    );
    let shown = page
        .split(r#"id="new-link" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#x2f;", "/");

    let mail = mails(smtp.maildir.path(), 1).await;
    let (to, subject, text) = &mail[0];
    assert_eq!(to, "sam@firm.example");
    assert_eq!(subject, "Alves & Co: your account on its document portal");
    let emailed = link_in(text);
    assert_eq!(emailed, shown, "the email carries the link the owner saw");

    // The link from the email works: Sam chooses a password and is signed in.
    let chosen = client()
        .post(&emailed)
        .form(&[("password", PASSWORD), ("again", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&chosen), "/staff/");

    let deadline = Instant::now() + PATIENCE;
    let emailed_event = loop {
        let found = sign_in_events(&app)
            .await
            .into_iter()
            .find_map(|(event, _)| match event {
                SignInEvent::SignInLinkEmailed(emailed) => Some(emailed),
                _ => None,
            });
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "the email was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(emailed_event.message_id.contains('@'));
    // Sent once: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(received(smtp.maildir.path()).len(), 1);
    stop.cancel();
    notifier.await.unwrap();
}

async fn a_member_who_forgot_their_password_chooses_a_new_one_from_an_email(db: TestDatabase) {
    let smtp = smtp_server().await;
    let app = TestApp::start(db).await;
    let (stop, notifier) = start_notifier(&app, settings(&app, Some(format!("smtp://127.0.0.1:{}", smtp.port))));
    member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (_, old_session) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;

    let sign_in_page = expect_page(
        client().get(app.url("/staff/sign-in")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(sign_in_page.contains(r#"href="/staff/forgot""#));
    let asked = client()
        .post(app.url("/staff/forgot"))
        .form(&[("email", " SAM@firm.example ")])
        .send()
        .await
        .unwrap();
    let page = expect_page(asked, StatusCode::OK).await;
    assert!(
        page.contains("If SAM@firm.example has an account here, a link to choose a new password is on its way"),
        "{page}"
    );

    let mail = mails(smtp.maildir.path(), 1).await;
    let (to, subject, text) = &mail[0];
    assert_eq!(
        (to.as_str(), subject.as_str()),
        ("sam@firm.example", "Alves & Co: choose a new password")
    );
    assert!(text.contains("Did not ask? Ignore this email"), "{text}");
    let link = link_in(text);
    let new_password = "a brand new passphrase";
    let chosen = client()
        .post(&link)
        .form(&[("password", new_password), ("again", new_password)])
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    assert!(
        !signed_in(&app, &old_session).await,
        "the session from before the reset ended"
    );
    assert_eq!(
        sign_in(&app, "sam@firm.example", PASSWORD, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, "sam@firm.example", new_password, None).await.status(),
        StatusCode::SEE_OTHER
    );
    // The link worked once.
    let again = client().get(&link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    stop.cancel();
    notifier.await.unwrap();
}

async fn asking_for_a_link_is_answered_alike_for_anyone_and_limited(db: TestDatabase) {
    let app = TestApp::start(db).await;
    member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let ask = |email: &'static str| {
        let url = app.url("/staff/forgot");
        async move { client().post(url).form(&[("email", email)]).send().await.unwrap() }
    };
    let known = expect_page(ask("olive@firm.example").await, StatusCode::OK).await;
    let unknown = expect_page(ask("nobody@firm.example").await, StatusCode::OK).await;
    assert_eq!(
        known.replace("olive@firm.example", "ADDRESS"),
        unknown.replace("nobody@firm.example", "ADDRESS"),
        "the same answer whether there is an account or not"
    );
    let made = |events: &[(SignInEvent, lodge_domain::Actor)]| {
        events
            .iter()
            .filter(|(event, _)| matches!(event, SignInEvent::SignInLinkMade(_)))
            .count()
    };
    assert_eq!(made(&sign_in_events(&app).await), 1, "a link only for the account");

    let bad = expect_page(ask("not an address").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(bad.contains("that is not an email address"), "{bad}");
    // Three asks per email an hour: the fourth waits.
    ask("olive@firm.example").await;
    ask("olive@firm.example").await;
    let limited = ask("olive@firm.example").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(made(&sign_in_events(&app).await), 3);
}

async fn a_link_that_cannot_be_emailed_is_on_the_record(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (stop, notifier) = start_notifier(&app, settings(&app, None));
    member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    client()
        .post(app.url("/staff/forgot"))
        .form(&[("email", "olive@firm.example")])
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = sign_in_events(&app)
            .await
            .into_iter()
            .find_map(|(event, _)| match event {
                SignInEvent::SignInLinkNotEmailed(failed) => Some(failed.reason),
                _ => None,
            });
        if let Some(reason) = found {
            assert!(reason.contains("LODGE_SMTP_URL"), "{reason}");
            break;
        }
        assert!(Instant::now() < deadline, "the failure was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    notifier.await.unwrap();
}
