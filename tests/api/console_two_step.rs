//! Two-step sign-in over real HTTP, on both engines: a member turns it on from their account by
//! scanning (here: reading) the setup key and confirming a code; from then on their password alone
//! does not sign them in; a code from the app, or a recovery code, does, each once; wrong codes are
//! on the record and limited; turning it off asks for a code. The codes are computed as an
//! authenticator app computes them, from the key the page shows.

use lodge_domain::team::{RefusalReason, Role, SecondStep, SignInEvent};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Response, StatusCode};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::console::{
    PASSWORD, client, get_with, location, post_with, session_cookie, sign_in, sign_in_events, signed_in,
    signed_in_member,
};
use crate::support::{TestApp, expect_page};
use lodge_eventlog::testing::TestDatabase;

lodge_eventlog::test_on_both_engines!(
    turning_it_on_needs_a_right_code_and_then_a_password_alone_signs_in_no_more,
    a_code_signs_in_once,
    a_recovery_code_signs_in_once,
    wrong_codes_are_on_the_record_and_limited,
    turning_it_off_needs_a_code,
    an_owner_turns_it_off_for_a_colleague_who_lost_their_phone,
);

const EMAIL: &str = "olive@firm.example";

/// The code an authenticator app holding `key` shows `steps_ahead` steps of 30 seconds from now.
pub fn code(key: &str, steps_ahead: u64) -> String {
    let bytes = Secret::Encoded(key.to_owned()).to_bytes().unwrap();
    let totp = TOTP::new(Algorithm::SHA1, 6, 0, 30, bytes, None, "member".into()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now + 30 * steps_ahead)
}

/// The setup key the page shows beside the picture.
fn setup_key(page: &str) -> String {
    const AT: &str = r#"<code id="setup-key" class="setup-key">"#;
    let at = page.find(AT).expect("a setup key") + AT.len();
    page[at..].split('<').next().unwrap().to_owned()
}

/// The recovery codes a page shows, in order.
fn recovery_codes(page: &str) -> Vec<String> {
    page.match_indices("<li><code>")
        .map(|(at, found)| page[at + found.len()..].split('<').next().unwrap().to_owned())
        .collect()
}

/// A signed-in member who turned two-step sign-in on with the current code: their session, the
/// setup key their app holds, and their recovery codes; with their id first.
async fn member_with_two_step(app: &TestApp) -> (lodge_domain::StaffId, String, String, Vec<String>) {
    let (staff_id, session) = signed_in_member(app, EMAIL, "Olive Owner", Role::Owner).await;
    let setup = expect_page(get_with(app, "/staff/account/two-step", &session).await, StatusCode::OK).await;
    assert!(setup.contains("<svg"), "a picture to scan: {setup}");
    let key = setup_key(&setup);
    let on = post_with(
        app,
        "/staff/account/two-step",
        &session,
        &[("secret", key.as_str()), ("code", code(&key, 0).as_str())],
    )
    .await;
    let page = expect_page(on, StatusCode::OK).await;
    let codes = recovery_codes(&page);
    assert_eq!(codes.len(), 10, "{page}");
    (staff_id, session, key, codes)
}

/// The half-done sign-in a response sets, if it sets one.
fn step_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("lodge_staff_step="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .filter(|value| !value.is_empty())
}

/// Signs in with the password: the half-done sign-in, after checking it signed no one in yet.
async fn password_step(app: &TestApp) -> String {
    let response = sign_in(app, EMAIL, PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/staff/sign-in/code");
    assert_eq!(session_cookie(&response), None, "no session before the code");
    step_cookie(&response).expect("a half-done sign-in")
}

async fn post_code(app: &TestApp, step: &str, code: &str) -> Response {
    client()
        .post(app.url("/staff/sign-in/code"))
        .header(COOKIE, format!("lodge_staff_step={step}"))
        .form(&[("code", code)])
        .send()
        .await
        .unwrap()
}

async fn turning_it_on_needs_a_right_code_and_then_a_password_alone_signs_in_no_more(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, session) = signed_in_member(&app, EMAIL, "Olive Owner", Role::Owner).await;
    let account = expect_page(get_with(&app, "/staff/account", &session).await, StatusCode::OK).await;
    assert!(account.contains(r#"href="/staff/account/two-step""#), "{account}");
    let setup = expect_page(
        get_with(&app, "/staff/account/two-step", &session).await,
        StatusCode::OK,
    )
    .await;
    let key = setup_key(&setup);
    assert_eq!(key.len(), 32);

    // A wrong code turns nothing on, and says so beside the field.
    let wrong = format!("{:06}", (code(&key, 0).parse::<u32>().unwrap() + 500_000) % 1_000_000);
    let refused = post_with(
        &app,
        "/staff/account/two-step",
        &session,
        &[("secret", key.as_str()), ("code", wrong.as_str())],
    )
    .await;
    let page = expect_page(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        page.contains("that code is not right") && setup_key(&page) == key,
        "{page}"
    );
    assert!(signed_in_with_password_alone(&app).await, "still off");

    let on = post_with(
        &app,
        "/staff/account/two-step",
        &session,
        &[("secret", key.as_str()), ("code", code(&key, 0).as_str())],
    )
    .await;
    assert_eq!(recovery_codes(&expect_page(on, StatusCode::OK).await).len(), 10);
    let account = expect_page(get_with(&app, "/staff/account", &session).await, StatusCode::OK).await;
    assert!(account.contains("You have 10 recovery codes left"), "{account}");
    assert!(
        sign_in_events(&app)
            .await
            .iter()
            .any(|(event, _)| matches!(event, SignInEvent::TwoStepTurnedOn(_))),
        "on the record"
    );

    let step = password_step(&app).await;
    let page = expect_page(
        client()
            .get(app.url("/staff/sign-in/code"))
            .header(COOKIE, format!("lodge_staff_step={step}"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(page.contains(r#"autocomplete="one-time-code""#), "{page}");
    // The half-done sign-in is no session: the console still sends it to sign in.
    assert!(!signed_in(&app, &step).await);
}

async fn signed_in_with_password_alone(app: &TestApp) -> bool {
    let response = sign_in(app, EMAIL, PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    session_cookie(&response).is_some()
}

async fn a_code_signs_in_once(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, _, key, _) = member_with_two_step(&app).await;
    // The code of the step after the one that turned it on: a phone a little ahead.
    let next = code(&key, 1);
    let step = password_step(&app).await;
    let signed = post_code(&app, &step, &next).await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed), "/staff/");
    let session = session_cookie(&signed).expect("a session");
    assert!(signed_in(&app, &session).await);
    let events = sign_in_events(&app).await;
    let last = &events.last().unwrap().0;
    assert!(
        matches!(last, SignInEvent::SignedIn(s) if s.second_step == Some(SecondStep::Code)),
        "{last:?}"
    );

    // The half-done sign-in is spent, and the same code does not work twice.
    assert_eq!(post_code(&app, &step, &next).await.status(), StatusCode::UNAUTHORIZED);
    let again = password_step(&app).await;
    let replayed = post_code(&app, &again, &next).await;
    let page = expect_page(replayed, StatusCode::UNAUTHORIZED).await;
    assert!(page.contains("that code is not right"), "{page}");
}

async fn a_recovery_code_signs_in_once(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, _, _, codes) = member_with_two_step(&app).await;
    let step = password_step(&app).await;
    // Typed as people type what they read from paper.
    let typed = codes[3].to_lowercase().replace('-', " ");
    let signed = post_code(&app, &step, &typed).await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let session = session_cookie(&signed).expect("a session");
    let account = expect_page(get_with(&app, "/staff/account", &session).await, StatusCode::OK).await;
    assert!(account.contains("You have 9 recovery codes left"), "{account}");
    let last = sign_in_events(&app).await.last().unwrap().0.clone();
    assert!(matches!(last, SignInEvent::SignedIn(s) if s.second_step == Some(SecondStep::RecoveryCode)));

    let again = password_step(&app).await;
    assert_eq!(
        post_code(&app, &again, &codes[3]).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn wrong_codes_are_on_the_record_and_limited(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, _, key, _) = member_with_two_step(&app).await;
    let step = password_step(&app).await;
    let wrong = format!("{:06}", (code(&key, 0).parse::<u32>().unwrap() + 500_000) % 1_000_000);
    for left in (0..5).rev() {
        let page = expect_page(post_code(&app, &step, &wrong).await, StatusCode::UNAUTHORIZED).await;
        let told = if left == 0 {
            "that was the last try for now".to_owned()
        } else {
            format!("{left} more tries")
        };
        assert!(page.contains(&told), "{told}: {page}");
    }
    // Even the right code waits now.
    let waited = post_code(&app, &step, &code(&key, 1)).await;
    assert_eq!(waited.status(), StatusCode::TOO_MANY_REQUESTS);
    let refusals = sign_in_events(&app)
        .await
        .into_iter()
        .filter(|(event, _)| matches!(event, SignInEvent::SignInRefused(r) if r.reason == RefusalReason::WrongCode))
        .count();
    assert_eq!(refusals, 5);
}

async fn turning_it_off_needs_a_code(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, session, key, _) = member_with_two_step(&app).await;
    let refused = post_with(
        &app,
        "/staff/account/two-step/change",
        &session,
        &[("code", "000000"), ("change", "turn_off")],
    )
    .await;
    let page = expect_page(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(page.contains("that code is not right"), "{page}");
    assert!(password_step(&app).await.len() > 10, "still on");

    let off = post_with(
        &app,
        "/staff/account/two-step/change",
        &session,
        &[("code", code(&key, 1).as_str()), ("change", "turn_off")],
    )
    .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_with_password_alone(&app).await);
    assert!(
        sign_in_events(&app)
            .await
            .iter()
            .any(|(event, _)| matches!(event, SignInEvent::TwoStepTurnedOff(_)))
    );
}

async fn an_owner_turns_it_off_for_a_colleague_who_lost_their_phone(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (olive, olive_session, _, _) = member_with_two_step(&app).await;
    let (_, sam_session) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;
    // Only an owner may.
    let refused = post_with(&app, &format!("/staff/team/{olive}/two-step/off"), &sam_session, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(password_step(&app).await.len() > 10, "still on");

    // Olive lost her phone; a second owner turns it off for her.
    let (_, otto) = signed_in_member(&app, "otto@firm.example", "Otto Owner", Role::Owner).await;
    let team = expect_page(get_with(&app, "/staff/team", &otto).await, StatusCode::OK).await;
    let button = format!(r#"action="/staff/team/{olive}/two-step/off""#);
    assert!(team.contains(&button), "{team}");
    let off = post_with(&app, &format!("/staff/team/{olive}/two-step/off"), &otto, &[]).await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in(&app, &olive_session).await, "her sessions ended");
    assert!(signed_in_with_password_alone(&app).await);
    let team = expect_page(get_with(&app, "/staff/team", &otto).await, StatusCode::OK).await;
    assert!(!team.contains(&button));
    let (event, by) = sign_in_events(&app)
        .await
        .into_iter()
        .rfind(|(event, _)| matches!(event, SignInEvent::TwoStepTurnedOff(_)))
        .unwrap();
    assert!(matches!(event, SignInEvent::TwoStepTurnedOff(off) if off.staff_id == olive));
    assert!(matches!(by, lodge_domain::Actor::Staff { name, .. } if name == "Otto Owner"));
}
