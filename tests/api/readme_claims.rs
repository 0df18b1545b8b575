//! What the README promises that no other test showed: Secure cookies behind https, a view link's
//! thirty minutes, due dates counted in the firm's time zone, and reads that go on through a rebuild.

use std::time::Duration;

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use lodge_projections::all::ALL;
use lodge_projections::rebuild::{self, RebuildOutcome};
use reqwest::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

lodge_eventlog::test_on_both_engines!(
    cookies_are_secure_when_the_public_url_is_https,
    a_view_link_lasts_thirty_minutes,
    days_until_due_are_counted_in_the_firms_time_zone,
    the_api_answers_while_a_rebuild_runs,
);

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

async fn cookies_are_secure_when_the_public_url_is_https(db: TestDatabase) {
    let app = TestApp::start_with(db, |settings| {
        settings.public_url = "https://portal.firm.example".into();
    })
    .await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let link = sent.contacts[0].portal_url.as_str();
    assert!(link.starts_with("https://portal.firm.example/p/"), "{link}");
    let token = link.rsplit("/p/").next().unwrap();
    let opened = open_session(&app.anonymous(), &app.base, token).await;
    let cookies = set_cookies(&opened);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("lodge_portal=") && c.contains("Secure") && c.contains("HttpOnly")),
        "{cookies:?}"
    );
    let invite = &sent.id.to_string();
    let contact = &sent.contacts[0].id.to_string();
    let view = app.staff().view_link(invite, contact).await;
    let view_token = view.url.rsplit("/v/").next().unwrap();
    let opened = app
        .anonymous()
        .get(app.url(&format!("/v/{view_token}")))
        .send()
        .await
        .unwrap();
    let cookies = set_cookies(&opened);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("lodge_staff_view=") && c.contains("Secure")),
        "{cookies:?}"
    );
    app.stop().await;
}

async fn a_view_link_lasts_thirty_minutes(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let contact = &sent.contacts[0].id.to_string();
    let view = app.staff().view_link(invite, contact).await;
    let lasts = view.expires_at - chrono::Utc::now();
    assert!(
        lasts > chrono::Duration::minutes(29) && lasts <= chrono::Duration::minutes(30),
        "{lasts}"
    );
    let url = view.url.as_str();
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let opened = browser.get(url).send().await.unwrap();
    assert!(
        set_cookies(&opened).iter().any(|c| c.contains("Max-Age=1800")),
        "the browser keeps the view for as long"
    );
    assert_eq!(
        browser.get(app.url("/portal")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // Thirty minutes on (the stored expiry moved back, as time would have moved on): closed.
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    lodge_store::on!(app.store.store(), |c| sqlx::query(
        "UPDATE lodge_staff_views SET expires_at = $1"
    )
    .bind(past)
    .execute(c)
    .await
    .map(|_| ()))
    .unwrap();
    assert_eq!(
        browser.get(app.url("/portal")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let again = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert!(again.text().await.unwrap().contains("expired"));
    app.stop().await;
}

/// Kiritimati (UTC+14) and Pago Pago (UTC-11) are never on the same date: the same invite is due in
/// a different number of days at each firm, each as counted there.
async fn days_until_due_are_counted_in_the_firms_time_zone(db: TestDatabase) {
    let engine = db.engine();
    let ahead = days_until_due_at(db, chrono_tz::Pacific::Kiritimati).await;
    let behind = days_until_due_at(TestDatabase::new(engine).await, chrono_tz::Pacific::Pago_Pago).await;
    assert_ne!(ahead, behind, "the two firms count different days");
}

/// Days until an invite due ten UTC days from now is due, at a firm in `zone`, as its portal says
/// (checked against the count in that zone).
async fn days_until_due_at(db: TestDatabase, zone: chrono_tz::Tz) -> i64 {
    let due = chrono::Utc::now().date_naive() + chrono::Days::new(10);
    let app = TestApp::start_with(db, |settings| settings.firm.time_zone = zone).await;
    let mut body = two_contact_invite();
    body["due_date"] = json!(due.to_string());
    let sent = app.staff().send_invite(&body).await;
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let portal = ana.portal(None).await;
    let firm_today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let days = portal.invite.days_until_due.unwrap();
    assert_eq!(days, (due - firm_today).num_days(), "{zone}");
    app.stop().await;
    days
}

async fn the_api_answers_while_a_rebuild_runs(db: TestDatabase) {
    let app = TestApp::start_with(db, |settings| settings.limits.enabled = false).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string().to_owned();
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let mut last = None;
    for n in 0..30 {
        let posted: PostedMessage = expect_as(
            ana.post("/api/portal/messages", &json!({"body": format!("message {n}")}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        last = posted.position;
        app.staff().send_invite(&two_contact_invite()).await;
    }
    let last = last.unwrap();
    eventually_ready(&app, last).await;

    // The rebuild and the reads run side by side on this task: each read goes while the rebuild
    // waits on the database, until it has switched.
    let done = std::sync::atomic::AtomicBool::new(false);
    let rebuilding = async {
        let outcome = rebuild::rebuild(&app.log, &app.store, &ALL, &CancellationToken::new(), |_| {})
            .await
            .unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        outcome
    };
    let reading = async {
        let (mut reads, mut during) = (0, 0);
        while !done.load(std::sync::atomic::Ordering::SeqCst) || reads < 5 {
            if !done.load(std::sync::atomic::Ordering::SeqCst) {
                during += 1;
            }
            let view: StaffInviteView =
                expect_as(app.staff().get(&format!("/api/invites/{invite}")).await, StatusCode::OK).await;
            assert_eq!(view.title, "Tax return 2026");
            let listed: InviteList = expect_as(app.staff().get("/api/invites?limit=500").await, StatusCode::OK).await;
            assert_eq!(listed.invites.len(), 31, "every invite, throughout");
            assert_eq!(ana.portal(Some(last)).await.messages.len(), 30);
            let audit = app.staff().audit(invite, last).await;
            assert!(audit.entries.len() >= 31);
            reads += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        during
    };
    let (outcome, during) = tokio::join!(rebuilding, reading);
    assert!(matches!(outcome, RebuildOutcome::Done(_)), "{outcome:?}");
    assert!(during >= 1, "reads went on while the rebuild ran");
    // And after the switch, a new write is read as before.
    let after: PostedMessage = expect_as(
        ana.post("/api/portal/messages", &json!({"body": "after the rebuild"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let portal = ana.portal(after.position).await;
    assert_eq!(portal.messages.len(), 31);
    app.stop().await;
}
