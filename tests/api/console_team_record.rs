//! The team's record over real HTTP, on both engines: joining, role changes, sign-ins and refusals,
//! newest first, filtered, and as CSV; owners and viewers read it, staff do not.

use lodge_domain::team::Role;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;

use crate::console::{get_with, post_with, sign_in, signed_in_member};
use crate::support::{TestApp, expect_page};

lodge_eventlog::test_on_both_engines!(
    the_team_record_says_who_joined_changed_and_signed_in_newest_first,
    owners_and_viewers_read_the_team_record_and_staff_do_not,
);

async fn the_team_record_says_who_joined_changed_and_signed_in_newest_first(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let (_, owner) = signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (sam, _) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;
    let refused = sign_in(&app, "sam@firm.example", "not the password", None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let changed = post_with(&app, &format!("/staff/team/{sam}"), &owner, &[("role", "viewer")]).await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);

    let page = expect_page(get_with(&app, "/staff/team/record", &owner).await, StatusCode::OK).await;
    let said = [
        "Sam Staff&#x27;s role changed: staff → viewer",
        "A sign-in as Sam Staff was refused: wrong password",
        "Sam Staff signed in from a sign-in link",
        "Sam Staff chose a password",
        "Sam Staff joined the team as staff",
        "Olive Owner joined the team as owner",
    ];
    let at: Vec<usize> = said
        .iter()
        .map(|words| {
            page.find(words)
                .unwrap_or_else(|| panic!("`{words}` is not on the page: {page}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "newest first: {at:?}");
    assert!(!page.contains("record_"), "every entry has its words");

    let team_only = expect_page(
        get_with(&app, "/staff/team/record?part=team", &owner).await,
        StatusCode::OK,
    )
    .await;
    assert!(team_only.contains("Sam Staff joined the team as staff"));
    assert!(!team_only.contains("signed in"), "{team_only}");

    let csv = get_with(&app, "/staff/team/record.csv", &owner).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("position,at,by,what,member,ip,user_agent"));
    let joined = text.find("Olive Owner joined the team as owner").expect("in the CSV");
    let changed = text
        .find("Sam Staff's role changed: staff → viewer")
        .expect("in the CSV");
    assert!(joined < changed, "oldest first in the CSV");
}

async fn owners_and_viewers_read_the_team_record_and_staff_do_not(db: TestDatabase) {
    let app = TestApp::start(db).await;
    signed_in_member(&app, "olive@firm.example", "Olive Owner", Role::Owner).await;
    let (_, staff) = signed_in_member(&app, "sam@firm.example", "Sam Staff", Role::Staff).await;
    let (_, viewer) = signed_in_member(&app, "val@firm.example", "Val Viewer", Role::Viewer).await;
    let refused = expect_page(
        get_with(&app, "/staff/team/record", &staff).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(refused.contains("for owners and viewers"), "{refused}");
    assert_eq!(
        get_with(&app, "/staff/team/record.csv", &staff).await.status(),
        StatusCode::FORBIDDEN
    );
    let page = expect_page(get_with(&app, "/staff/team/record", &viewer).await, StatusCode::OK).await;
    assert!(
        page.contains(r#"<a href="/staff/team/record" aria-current="page">Team record</a>"#),
        "{page}"
    );
    assert!(page.contains("Val Viewer joined the team as viewer"));
}
