//! The staff console's pages (`/staff/`): thin handlers that read what a page shows, or hand a form
//! to one use case of `console` or `staff`, and answer with a page or a redirect. `GET /` sends a
//! visitor to the console.

mod account;
mod dashboard;
mod documents;
mod firm;
mod invite;
mod invite_changes;
mod live;
mod new_invite;
mod record;
mod review;
mod team;
mod team_record;
mod two_step;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};

use crate::console::extract::SIGN_IN;
use crate::console::{ConsoleMember, sessions};
use crate::pages::{assets, layer};
use crate::routes::pages::asset;
use crate::same_origin;
use crate::state::AppState;

/// The console's home: the dashboard.
const HOME: &str = "/staff/";

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to(HOME) }))
        .route("/staff", get(|| async { Redirect::to(HOME) }))
        .route(HOME, get(dashboard::dashboard))
        .route(
            "/staff/welcome/{token}",
            get(account::welcome).post(account::choose_password),
        )
        .route(SIGN_IN, get(account::sign_in_page).post(account::sign_in))
        .route("/staff/forgot", get(account::forgot_page).post(account::forgot))
        .route(two_step::CODE_PAGE, get(two_step::code_page).post(two_step::post_code))
        .route("/staff/account/two-step", get(two_step::setup).post(two_step::turn_on))
        .route("/staff/account/two-step/change", post(two_step::change))
        .route("/staff/sign-out", post(account::sign_out))
        .route("/staff/review", get(review::queue))
        .route("/staff/account", get(account::account))
        .route("/staff/account/tokens", post(account::create_token))
        .route("/staff/account/tokens/{token_id}/revoke", post(account::revoke_token))
        .route("/staff/team", get(team::team).post(team::add))
        .route("/staff/settings", get(firm::settings).post(firm::save))
        .route("/staff/team/record", get(team_record::record))
        .route("/staff/team/record.csv", get(team_record::csv))
        .route("/staff/team/{staff_id}", post(team::change))
        .route("/staff/team/{staff_id}/link", post(team::new_link))
        .route("/staff/team/{staff_id}/two-step/off", post(team::turn_off_two_step))
        .route(
            "/staff/invites/new",
            get(new_invite::new_invite).post(new_invite::post_new_invite),
        )
        .route("/staff/invites/{invite_id}", get(invite::invite))
        .route("/staff/invites/{invite_id}/record", get(record::record))
        .route(
            "/staff/invites/{invite_id}/documents/{document_id}/review",
            post(invite::review),
        )
        .route("/staff/invites/{invite_id}/messages", post(invite::post_message))
        .route("/staff/invites/{invite_id}/cancel", post(invite::cancel))
        .route("/staff/invites/{invite_id}/due-date", post(invite_changes::due_date))
        .route("/staff/invites/{invite_id}/reminders", post(invite_changes::reminders))
        .route("/staff/invites/{invite_id}/contacts", post(invite_changes::add_contact))
        .route("/staff/invites/{invite_id}/requests", post(invite_changes::add_request))
        .route(
            "/staff/invites/{invite_id}/contacts/{contact_id}/link",
            post(invite_changes::reissue_link),
        )
        .route(
            "/staff/invites/{invite_id}/contacts/{contact_id}/view",
            post(invite::view_as_contact),
        )
        .route(
            "/assets/console.css",
            get(|| async { asset("text/css", assets::CONSOLE_CSS) }),
        )
        .route(
            "/assets/console.js",
            get(|| async { asset("text/javascript", assets::CONSOLE_JS) }),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            same_origin::refuse_cross_site,
        ))
        .layer(middleware::from_fn_with_state(state, layer::pages))
}

/// Pages that move files or stay open (the live stream): outside the request timeout.
pub fn file_routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/staff/documents/{document_id}", get(documents::download))
        .route("/staff/live", get(live::live))
        .route("/staff/documents/{document_id}/preview", get(documents::preview))
        .route("/staff/invites/{invite_id}/documents.zip", get(documents::zip))
        .route("/staff/invites/{invite_id}/record.{format}", get(record::download))
        .layer(middleware::from_fn_with_state(state, layer::pages))
}

/// The values every console page has: its title, who is signed in, and which section it is in.
pub(super) fn page(state: &AppState, title_key: &str, member: Option<&ConsoleMember>, section: &str) -> Value {
    context! {
        page_title => state.pages.console_text(title_key),
        member => member.map(|m| context! {
            name => &m.staff.name,
            role => m.staff.role.as_str(),
            can_change => m.staff.role.includes(lodge_domain::team::Role::Staff),
            is_owner => m.staff.role == lodge_domain::team::Role::Owner,
        }),
        section,
    }
}

pub(super) fn html(status: StatusCode, page: String) -> Response {
    (status, Html(page)).into_response()
}

/// The browser's console session, if it has one: ended when it signs in again.
pub(super) fn current_cookie(state: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(sessions::cookie_name(&state.settings))
        .map(|cookie| cookie.value().to_owned())
}
