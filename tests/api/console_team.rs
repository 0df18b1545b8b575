//! The team's page and one's own account in the console, over real HTTP on both engines: an owner
//! adds a colleague who signs in with the link shown, changes roles, deactivates (the team's rules
//! hold), gives a new sign-in link; no one else may; members make and revoke their own API tokens.

use lodge_domain::Actor;
use lodge_domain::team::{Role, TeamEvent};
use lodge_eventlog::StreamId;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;

use crate::console::{PASSWORD, client, get_with, location, post_with, session_cookie, signed_in_member};
use crate::support::*;

lodge_eventlog::test_on_both_engines!(
    an_owner_adds_a_colleague_who_signs_in_with_the_link_shown,
    an_owner_changes_roles_and_deactivates_within_the_teams_rules,
    a_new_sign_in_link_replaces_the_old_one_and_signs_them_out,
    only_owners_have_the_team_page,
    members_make_and_revoke_their_own_api_tokens,
);

/// The sign-in link a team page shows.
fn shown_link(page: &str) -> String {
    let at = page.find(r#"id="new-link" value=""#).expect("a sign-in link") + r#"id="new-link" value=""#.len();
    page[at..].split('"').next().unwrap().replace("&#x2f;", "/")
}

async fn team_events(app: &TestApp) -> Vec<(TeamEvent, Actor)> {
    app.log
        .read_stream(&StreamId::team())
        .await
        .unwrap()
        .iter()
        .map(|e| (e.decode::<TeamEvent>().unwrap(), e.metadata.actor.clone()))
        .collect()
}

async fn an_owner_adds_a_colleague_who_signs_in_with_the_link_shown(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (olive, owner) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let added = post_with(
        &app,
        "/staff/team",
        &owner,
        &[
            ("name", " Sam Staff "),
            ("email", "sam@firm.example"),
            ("role", "staff"),
        ],
    )
    .await;
    let page = expect_page(added, StatusCode::OK).await;
    assert!(
        page.contains("We emailed Sam Staff their one-time sign-in link"),
        "{page}"
    );
    let link = shown_link(&page);
    assert!(link.starts_with(&app.url("/staff/welcome/")), "{link}");

    let chosen = client()
        .post(&link)
        .form(&[("password", PASSWORD), ("again", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    let sam = session_cookie(&chosen).unwrap();
    let dashboard = expect_page(get_with(&app, "/staff/", &sam).await, StatusCode::OK).await;
    assert!(dashboard.contains("Signed in as Sam Staff (staff)"), "{dashboard}");

    let events = team_events(&app).await;
    let (TeamEvent::MemberJoined(joined), by) = events.last().unwrap() else {
        panic!("{events:?}")
    };
    assert_eq!((joined.name.as_str(), joined.role), ("Sam Staff", Role::Staff));
    assert!(
        matches!(by, Actor::Staff { id, .. } if *id == olive),
        "the owner's change: {by:?}"
    );

    // The same email again is refused on the page, and the team is as it was.
    let again = post_with(
        &app,
        "/staff/team",
        &owner,
        &[("name", "Sam"), ("email", "SAM@firm.example"), ("role", "viewer")],
    )
    .await;
    let page = expect_page(again, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(page.contains("sam@firm.example"), "{page}");
    assert_eq!(team_events(&app).await.len(), events.len());
}

async fn an_owner_changes_roles_and_deactivates_within_the_teams_rules(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (olive, owner) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (sam, sam_session) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;
    let changed = post_with(&app, &format!("/staff/team/{sam}"), &owner, &[("role", "viewer")]).await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&changed), "/staff/team");
    let seen = expect_page(get_with(&app, "/staff/", &sam_session).await, StatusCode::OK).await;
    assert!(
        seen.contains("Signed in as Sam Staff (viewer)"),
        "the new role at once: {seen}"
    );

    let deactivated = post_with(&app, &format!("/staff/team/{sam}"), &owner, &[("active", "false")]).await;
    assert_eq!(deactivated.status(), StatusCode::SEE_OTHER);
    let gone = get_with(&app, "/staff/", &sam_session).await;
    assert_eq!(location(&gone), "/staff/sign-in", "signed out with the deactivation");
    let team = expect_page(get_with(&app, "/staff/team", &owner).await, StatusCode::OK).await;
    assert!(team.contains("Deactivated") && team.contains("Reactivate"), "{team}");

    // The firm keeps an active owner: Olive cannot step down while she is the only one.
    let refused = post_with(&app, &format!("/staff/team/{olive}"), &owner, &[("role", "staff")]).await;
    let page = expect_page(refused, StatusCode::CONFLICT).await;
    assert!(page.contains("owner"), "{page}");
}

async fn a_new_sign_in_link_replaces_the_old_one_and_signs_them_out(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, owner) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (sam, sam_session) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;
    let page = expect_page(
        post_with(&app, &format!("/staff/team/{sam}/link"), &owner, &[]).await,
        StatusCode::OK,
    )
    .await;
    let link = shown_link(&page);
    let gone = get_with(&app, "/staff/", &sam_session).await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER, "their sessions ended");
    let chosen = client()
        .post(&link)
        .form(&[("password", "a brand new password"), ("again", "a brand new password")])
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    let old = client()
        .post(app.url("/staff/sign-in"))
        .form(&[("email", "sam@firm.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status(),
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
}

async fn only_owners_have_the_team_page(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (olive, owner) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (_, staff) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;
    assert!(
        expect_page(get_with(&app, "/staff/", &owner).await, StatusCode::OK)
            .await
            .contains(r#"href="/staff/team""#)
    );
    let dashboard = expect_page(get_with(&app, "/staff/", &staff).await, StatusCode::OK).await;
    assert!(!dashboard.contains(r#"href="/staff/team""#), "no Team for staff");
    let page = expect_page(get_with(&app, "/staff/team", &staff).await, StatusCode::FORBIDDEN).await;
    assert!(
        page.contains("this needs the owner role, and Sam Staff is a staff"),
        "{page}"
    );
    let events = app.event_count().await;
    for (path, form) in [
        (
            "/staff/team".to_owned(),
            vec![("name", "Eve"), ("email", "eve@firm.example"), ("role", "owner")],
        ),
        (format!("/staff/team/{olive}"), vec![("active", "false")]),
        (format!("/staff/team/{olive}/link"), vec![]),
    ] {
        assert_eq!(
            post_with(&app, &path, &staff, &form).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(app.event_count().await, events);
}

async fn members_make_and_revoke_their_own_api_tokens(db: TestDatabase) {
    let app = TestApp::start(db).await;
    signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (_, viewer) = signed_in_member(&app, "val@firm.example", "Val Viewer", Role::Viewer).await;
    let page = expect_page(
        post_with(&app, "/staff/account/tokens", &viewer, &[]).await,
        StatusCode::OK,
    )
    .await;
    let at = page.find(r#"id="new-token" value=""#).unwrap() + r#"id="new-token" value=""#.len();
    let token = page[at..].split('"').next().unwrap().to_owned();
    assert!(token.starts_with("lodge_staff_"), "{token}");

    let val = app.staff_with(&token);
    assert_eq!(
        val.get("/api/invites").await.status(),
        StatusCode::OK,
        "a viewer's token reads"
    );
    let refused = val.post("/api/invites", &two_contact_invite()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "and changes nothing");

    let account = expect_page(get_with(&app, "/staff/account", &viewer).await, StatusCode::OK).await;
    let at = account.find("/staff/account/tokens/").unwrap() + "/staff/account/tokens/".len();
    let id = account[at..at + 36].to_owned();
    // Another member cannot revoke it.
    let (_, other) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;
    let theirs = post_with(&app, &format!("/staff/account/tokens/{id}/revoke"), &other, &[]).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    assert_eq!(val.get("/api/invites").await.status(), StatusCode::OK);
    let revoked = post_with(&app, &format!("/staff/account/tokens/{id}/revoke"), &viewer, &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(val.get("/api/invites").await.status(), StatusCode::UNAUTHORIZED);
}
