//! The staff console's accounts over real HTTP, on both engines: a member's one-time sign-in link,
//! choosing a password, signing in and out, sessions that rotate and end, limits on wrong
//! passwords under parallel attempts, posts from other sites, every sign-in on the record; and the
//! dashboard of invites.

use lodge_api::console::links;
use lodge_domain::team::{
    AddMember, Authority, MemberChange, RefusalReason, Role, SignInEvent, SignInMethod, TeamCommand, TeamDecider,
};
use lodge_domain::{Actor, StaffId};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{LogError, Metadata, StreamId, command};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};

use crate::support::process::lodge_ok;
use crate::support::{TestApp, expect_page, two_contact_invite, within_moments};

lodge_eventlog::test_on_both_engines!(
    a_new_member_chooses_a_password_from_their_link_and_lands_on_the_dashboard,
    a_sign_in_link_opens_once,
    a_password_that_will_not_do_is_refused_beside_the_field_and_spends_nothing,
    signing_in_again_rotates_the_session_and_signing_out_ends_it,
    signing_out_everywhere_ends_every_session,
    wrong_passwords_are_limited_per_account_under_parallel_attempts,
    an_unknown_email_is_told_the_same_as_a_wrong_password,
    a_deactivated_members_sessions_end_and_they_cannot_sign_in,
    a_post_from_another_site_is_refused,
    a_visitor_is_sent_to_the_console_and_then_to_sign_in,
    the_dashboard_shows_each_invite_with_its_progress_and_the_counts,
    staff_add_prints_the_sign_in_link_alone_on_its_last_line,
    a_member_added_elsewhere_is_known_at_once,
    over_https_the_session_is_a_host_cookie,
);

/// The password every member chooses in these tests.
pub const PASSWORD: &str = "correct horse battery";

/// Adds a member to the team as the operator would, and makes their one-time sign-in link.
pub async fn member_with_link(app: &TestApp, email: &str, name: &str, role: Role) -> (StaffId, String) {
    let staff_id = StaffId::from_uuid(uuid::Uuid::now_v7());
    let add = TeamCommand::AddMember(AddMember {
        by: Authority::Operator,
        staff_id,
        email: email.into(),
        name: name.into(),
        role,
    });
    command::execute::<TeamDecider>(&app.log, &StreamId::team(), &add, &Metadata::new(Actor::System))
        .await
        .expect("the team takes the member");
    let link = links::create(app.store.store(), &app.settings, staff_id).await.unwrap();
    (staff_id, link)
}

/// A client that keeps cookies to itself (the tests pass them) and does not follow redirects.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The console session a response sets, if it sets one.
pub fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("lodge_staff="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .filter(|value| !value.is_empty())
}

pub fn location(response: &Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

async fn choose_password(link: &str, password: &str, again: &str) -> Response {
    client()
        .post(link)
        .form(&[("password", password), ("again", again)])
        .send()
        .await
        .unwrap()
}

pub async fn sign_in(app: &TestApp, email: &str, password: &str, cookie: Option<&str>) -> Response {
    let mut request = client()
        .post(app.url("/staff/sign-in"))
        .form(&[("email", email), ("password", password)]);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, format!("lodge_staff={cookie}"));
    }
    request.send().await.unwrap()
}

/// `path` of the console with a session cookie.
pub async fn get_with(app: &TestApp, path: &str, cookie: &str) -> Response {
    client()
        .get(app.url(path))
        .header(COOKIE, format!("lodge_staff={cookie}"))
        .send()
        .await
        .unwrap()
}

/// A console form posted with a session cookie, as the browser's page posts it.
pub async fn post_with(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> Response {
    client()
        .post(app.url(path))
        .header(COOKIE, format!("lodge_staff={cookie}"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Whether `cookie` is a live session: the dashboard answers, rather than sending it to sign in.
pub async fn signed_in(app: &TestApp, cookie: &str) -> bool {
    let response = get_with(app, "/staff/", cookie).await;
    match response.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            assert_eq!(location(&response), "/staff/sign-in");
            false
        }
        other => panic!("the dashboard answered {other}"),
    }
}

/// A member who has chosen their password, signed in: their id and session cookie.
pub async fn signed_in_member(app: &TestApp, email: &str, name: &str, role: Role) -> (StaffId, String) {
    let (staff_id, link) = member_with_link(app, email, name, role).await;
    let chosen = choose_password(&link, PASSWORD, PASSWORD).await;
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    (staff_id, session_cookie(&chosen).expect("a session"))
}

/// An owner on the team, and a staff member signed in: the staff member's session.
pub async fn staff_session(app: &TestApp) -> String {
    member_with_link(app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    signed_in_member(app, "sam@firm.example", "Sam Staff", Role::Staff)
        .await
        .1
}

/// What the `sign-ins` stream holds, read as the domain's own events, with who acted.
pub async fn sign_in_events(app: &TestApp) -> Vec<(SignInEvent, Actor)> {
    match app.log.read_stream(&StreamId::sign_ins()).await {
        Ok(events) => events
            .iter()
            .map(|event| (event.decode::<SignInEvent>().unwrap(), event.metadata.actor.clone()))
            .collect(),
        Err(LogError::UnknownStream(_)) => Vec::new(),
        Err(other) => panic!("{other}"),
    }
}

async fn a_new_member_chooses_a_password_from_their_link_and_lands_on_the_dashboard(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (olive, link) = member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    assert!(link.starts_with(&app.url("/staff/welcome/")), "{link}");

    let page = expect_page(client().get(&link).send().await.unwrap(), StatusCode::OK).await;
    assert!(
        page.contains(r#"type="password""#),
        "a page to choose a password: {page}"
    );
    assert!(page.contains("Welcome, Olive Owner") && page.contains("olive@firm.example"));

    let chosen = choose_password(&link, PASSWORD, PASSWORD).await;
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&chosen), "/staff/");
    let set = chosen.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );
    let cookie = session_cookie(&chosen).unwrap();

    let dashboard = expect_page(get_with(&app, "/staff/", &cookie).await, StatusCode::OK).await;
    assert!(dashboard.contains("<h1>Invites</h1>"), "{dashboard}");
    assert!(dashboard.contains("Signed in as Olive Owner (owner)"), "{dashboard}");

    let events = sign_in_events(&app).await;
    let [
        (SignInEvent::PasswordChosen(chosen), by),
        (SignInEvent::SignedIn(signed_in), _),
    ] = events.as_slice()
    else {
        panic!("a password chosen, then a sign-in: {events:?}");
    };
    assert_eq!((chosen.staff_id, signed_in.staff_id), (olive, olive));
    assert_eq!(signed_in.method, SignInMethod::Link);
    assert!(matches!(by, Actor::Staff { id, name } if *id == olive && name == "Olive Owner"));
    // The password is not in the log, in any form.
    let log: String = app
        .log
        .read_all(lodge_eventlog::Position::START, 1000)
        .await
        .unwrap()
        .iter()
        .map(|event| format!("{}{}", event.data, serde_json::to_string(&event.metadata).unwrap()))
        .collect();
    assert!(!log.contains(PASSWORD) && !log.contains("argon2"), "{log}");
}

async fn a_sign_in_link_opens_once(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, link) = member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    assert_eq!(
        choose_password(&link, PASSWORD, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    let again = choose_password(&link, "another good password", "another good password").await;
    let page = expect_page(again, StatusCode::NOT_FOUND).await;
    assert!(page.contains("used already"), "{page}");
    let opened = expect_page(client().get(&link).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    assert!(opened.contains("used already"), "{opened}");
    // The first password stands.
    assert_eq!(
        sign_in(&app, "olive@firm.example", PASSWORD, None).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        sign_in(&app, "olive@firm.example", "another good password", None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn a_password_that_will_not_do_is_refused_beside_the_field_and_spends_nothing(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, link) = member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    for (password, again, says) in [
        ("short", "short", "at least 10 characters"),
        (PASSWORD, "correct horse batter", "not the same"),
    ] {
        let refused = choose_password(&link, password, again).await;
        assert!(session_cookie(&refused).is_none());
        let page = expect_page(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(page.contains(r#"class="field-error" id="password-error""#), "{page}");
        assert!(page.contains(says), "{page}");
        assert!(page.contains(r#"aria-invalid="true""#), "{page}");
    }
    assert!(sign_in_events(&app).await.is_empty(), "nothing recorded");
    // The link still opens, and takes a good password.
    assert_eq!(
        choose_password(&link, PASSWORD, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

async fn signing_in_again_rotates_the_session_and_signing_out_ends_it(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, first) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    assert!(signed_in(&app, &first).await);

    let again = sign_in(&app, "Olive@Firm.example ", PASSWORD, Some(&first)).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let second = session_cookie(&again).unwrap();
    assert_ne!(second, first, "a new session id at sign-in");
    assert!(!signed_in(&app, &first).await, "the session it replaced ended");
    assert!(signed_in(&app, &second).await);

    // As the header's button posts it: a form with no fields.
    let out = client()
        .post(app.url("/staff/sign-out"))
        .header(COOKIE, format!("lodge_staff={second}"))
        .form(&[] as &[(&str, &str)])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/staff/sign-in");
    assert!(!signed_in(&app, &second).await, "dead after sign-out");
    let events = sign_in_events(&app).await;
    assert!(
        matches!(events.last(), Some((SignInEvent::SignedOut(out), _)) if !out.everywhere),
        "{events:?}"
    );
}

async fn signing_out_everywhere_ends_every_session(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, phone) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let desk = session_cookie(&sign_in(&app, "olive@firm.example", PASSWORD, None).await).unwrap();
    let account = expect_page(get_with(&app, "/staff/account", &desk).await, StatusCode::OK).await;
    assert_eq!(
        account.matches("Last used").count(),
        2,
        "both sessions listed: {account}"
    );
    assert!(account.contains("(this browser)"));

    let out = client()
        .post(app.url("/staff/sign-out"))
        .header(COOKIE, format!("lodge_staff={desk}"))
        .form(&[("everywhere", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in(&app, &phone).await && !signed_in(&app, &desk).await);
}

async fn wrong_passwords_are_limited_per_account_under_parallel_attempts(db: TestDatabase) {
    let app = TestApp::start(db).await;
    signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let tries = (0..12).map(|i| {
        let app = &app;
        async move {
            sign_in(app, "olive@firm.example", &format!("wrong password {i}"), None)
                .await
                .status()
        }
    });
    let statuses = futures_util::future::join_all(tries).await;
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(
        (count(StatusCode::UNAUTHORIZED), count(StatusCode::TOO_MANY_REQUESTS)),
        (5, 7),
        "{statuses:?}"
    );
    // Locked for now, even with the right password; and the page says for how long.
    let locked = sign_in(&app, "olive@firm.example", PASSWORD, None).await;
    assert!(locked.headers().contains_key("retry-after"));
    let page = expect_page(locked, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(page.contains("too many sign-in attempts"), "{page}");
    let refused: Vec<_> = sign_in_events(&app)
        .await
        .into_iter()
        .filter_map(|(event, _)| match event {
            SignInEvent::SignInRefused(refused) => Some(refused.reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        vec![RefusalReason::WrongPassword; 5],
        "each checked try on the record"
    );
}

async fn an_unknown_email_is_told_the_same_as_a_wrong_password(db: TestDatabase) {
    let app = TestApp::start(db).await;
    signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let unknown = expect_page(
        sign_in(&app, "nobody@firm.example", PASSWORD, None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let wrong = expect_page(
        sign_in(&app, "olive@firm.example", "not the password", None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let said = |page: &str| page.contains("that email address and password do not match an account here");
    assert!(said(&unknown) && said(&wrong), "{unknown}\n{wrong}");
    assert!(
        unknown.contains(r#"value="nobody@firm.example""#),
        "the email is kept in the form"
    );
    let events = sign_in_events(&app).await;
    let reasons: Vec<_> = events
        .iter()
        .filter_map(|(event, actor)| match event {
            SignInEvent::SignInRefused(refused) => Some((refused.email.as_str(), refused.reason, actor.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("nobody@firm.example", RefusalReason::UnknownAccount, Actor::System),
            ("olive@firm.example", RefusalReason::WrongPassword, Actor::System),
        ]
    );
}

async fn a_deactivated_members_sessions_end_and_they_cannot_sign_in(db: TestDatabase) {
    let app = TestApp::start(db).await;
    signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (sam, session) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;
    assert!(signed_in(&app, &session).await);
    let deactivate = TeamCommand::Deactivate(MemberChange {
        by: Authority::Operator,
        staff_id: sam,
    });
    command::execute::<TeamDecider>(&app.log, &StreamId::team(), &deactivate, &Metadata::new(Actor::System))
        .await
        .unwrap();
    // Made as the operator would, around the server: it takes the change up within moments.
    within_moments("the session ending with the member", || async {
        !signed_in(&app, &session).await
    })
    .await;

    let refused = expect_page(
        sign_in(&app, "sam@firm.example", PASSWORD, None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(refused.contains("deactivated"), "{refused}");
    let reactivate = TeamCommand::Reactivate(MemberChange {
        by: Authority::Operator,
        staff_id: sam,
    });
    command::execute::<TeamDecider>(&app.log, &StreamId::team(), &reactivate, &Metadata::new(Actor::System))
        .await
        .unwrap();
    tokio::time::sleep(lodge_api::console::cache::FRESH_FOR).await;
    assert!(
        !signed_in(&app, &session).await,
        "reactivation does not bring an old session back"
    );
    assert_eq!(
        sign_in(&app, "sam@firm.example", PASSWORD, None).await.status(),
        StatusCode::SEE_OTHER
    );
}

async fn a_post_from_another_site_is_refused(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, cookie) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let cross_site = |path: &str| {
        client()
            .post(app.url(path))
            .header("sec-fetch-site", "cross-site")
            .header(COOKIE, format!("lodge_staff={cookie}"))
    };
    let signing_in = cross_site("/staff/sign-in")
        .form(&[("email", "olive@firm.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(session_cookie(&signing_in).is_none());
    let page = expect_page(signing_in, StatusCode::FORBIDDEN).await;
    assert!(page.contains("another site"), "{page}");
    let signing_out = cross_site("/staff/sign-out")
        .form(&[("everywhere", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(signing_out.status(), StatusCode::FORBIDDEN);
    assert!(signed_in(&app, &cookie).await, "still signed in");
}

async fn a_visitor_is_sent_to_the_console_and_then_to_sign_in(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let root = client().get(app.url("/")).send().await.unwrap();
    assert_eq!(root.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&root), "/staff/");
    let console = client().get(app.url("/staff/")).send().await.unwrap();
    assert_eq!(console.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&console), "/staff/sign-in");
    let page = expect_page(
        client().get(app.url("/staff/sign-in")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains(r#"type="email""#) && page.contains(r#"type="password""#),
        "{page}"
    );
    // A made-up session is no session.
    assert!(!signed_in(&app, "0123456789abcdef").await);
}

async fn the_dashboard_shows_each_invite_with_its_progress_and_the_counts(db: TestDatabase) {
    let app = TestApp::start(db).await;
    member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (_, cookie) = signed_in_member(&app, "val@firm.example", "Val Viewer", Role::Viewer).await;
    app.staff().send_invite(&two_contact_invite()).await;
    let mut body = two_contact_invite();
    body["title"] = "Mortgage application".into();
    app.staff().send_invite(&body).await;

    // The read model catches up within moments; the page shows what it has.
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    let page = loop {
        let page = expect_page(get_with(&app, "/staff/", &cookie).await, StatusCode::OK).await;
        if page.contains("Mortgage application") && page.contains("Tax return 2026") {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "the invites never showed: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(page.contains("0 of 3 done"), "progress per invite: {page}");
    assert!(page.contains("Ana Alves, Ben Alves"), "its contacts: {page}");
    assert!(page.contains("in 10 days"), "days left: {page}");
    assert!(page.contains("<dt>Open</dt><dd>2</dd>"), "the counts: {page}");
    assert!(page.contains("<dt>Waiting for review</dt><dd>0</dd>"), "{page}");
    assert!(
        page.find("Mortgage application") < page.find("Tax return 2026"),
        "newest first"
    );

    let found = expect_page(get_with(&app, "/staff/?q=mortgage", &cookie).await, StatusCode::OK).await;
    assert!(
        found.contains("Mortgage application") && !found.contains("Tax return 2026"),
        "{found}"
    );
    let none = expect_page(get_with(&app, "/staff/?show=cancelled", &cookie).await, StatusCode::OK).await;
    assert!(none.contains("No invites match"), "{none}");
    let wrong = expect_page(
        get_with(&app, "/staff/?show=sideways", &cookie).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(wrong.contains("sideways"), "{wrong}");
}

async fn staff_add_prints_the_sign_in_link_alone_on_its_last_line(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let folder = tempfile::tempdir().unwrap();
    let printed = lodge_ok(
        &app.db,
        folder.path(),
        &[
            "staff",
            "add",
            "--email",
            "olive@firm.example",
            "--name",
            "Olive Owner",
            "--role",
            "owner",
        ],
    );
    let last = printed.lines().last().unwrap();
    let (origin, token) = last
        .split_once("/staff/welcome/")
        .expect("a sign-in link on the last line");
    assert!(origin.starts_with("http://"), "{printed}");
    assert_eq!(token.len(), 64, "{printed}");
    // Opened on this server (the command's public_url is its own default).
    let page = expect_page(
        client()
            .get(app.url(&format!("/staff/welcome/{token}")))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains(r#"type="password""#) && page.contains("Olive Owner"),
        "{page}"
    );

    // A new link replaces the first.
    let renewed = lodge_ok(
        &app.db,
        folder.path(),
        &["staff", "link", "--email", "olive@firm.example"],
    );
    let (_, new_token) = renewed.lines().last().unwrap().split_once("/staff/welcome/").unwrap();
    assert_ne!(new_token, token);
    let old = client()
        .get(app.url(&format!("/staff/welcome/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::NOT_FOUND);
}

async fn a_member_added_elsewhere_is_known_at_once(db: TestDatabase) {
    let app = TestApp::start(db).await;
    // The server has the team in memory…
    let (_, owner) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    assert!(signed_in(&app, &owner).await);
    // …when another process (lodge staff add, another server) adds a viewer, on a log of its own.
    let elsewhere = app.db.log().await;
    let val = StaffId::from_uuid(uuid::Uuid::now_v7());
    let add = TeamCommand::AddMember(AddMember {
        by: Authority::Operator,
        staff_id: val,
        email: "val@firm.example".into(),
        name: "Val Viewer".into(),
        role: Role::Viewer,
    });
    command::execute::<TeamDecider>(&elsewhere, &StreamId::team(), &add, &Metadata::new(Actor::System))
        .await
        .unwrap();
    // Their link opens at once, and their token has their role at once: never the staff role of a
    // token made by name alone.
    let link = links::create(app.store.store(), &app.settings, val).await.unwrap();
    expect_page(client().get(&link).send().await.unwrap(), StatusCode::OK).await;
    let token = lodge_api::staff::tokens::create_for_member(
        app.store.store(),
        val,
        "Val Viewer",
        "val@firm.example",
        Role::Viewer,
    )
    .await
    .unwrap()
    .token;
    let refused = app.staff_with(&token).post("/api/invites", &two_contact_invite()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

async fn over_https_the_session_is_a_host_cookie(db: TestDatabase) {
    let app = TestApp::start_with(db, |settings| {
        settings.public_url = "https://portal.firm.example".into()
    })
    .await;
    let (_, link) = member_with_link(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let token = link.rsplit("/staff/welcome/").next().unwrap();
    let chosen = client()
        .post(app.url(&format!("/staff/welcome/{token}")))
        .form(&[("password", PASSWORD), ("again", PASSWORD)])
        .send()
        .await
        .unwrap();
    let set = chosen.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set.starts_with("__Host-lodge_staff="), "{set}");
    assert!(
        set.contains("Secure") && set.contains("Path=/") && !set.contains("Domain"),
        "{set}"
    );
    let cookie = set["__Host-lodge_staff=".len()..].split(';').next().unwrap().to_owned();
    let out = client()
        .post(app.url("/staff/sign-out"))
        .header(COOKIE, format!("__Host-lodge_staff={cookie}"))
        .form(&[] as &[(&str, &str)])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let removal = out.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        removal.starts_with("__Host-lodge_staff=;") && removal.contains("Secure"),
        "{removal}"
    );
}
