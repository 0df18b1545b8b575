//! The staff console's pages (`/staff/`): thin handlers that read what a page shows, or hand a form
//! to one use case of `console` or `staff`, and answer with a page or a redirect. `GET /` sends a
//! visitor to the console.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use axum_extra::extract::CookieJar;
use chrono::NaiveDate;
use lodge_projections::portal::InviteStatus;
use lodge_projections::staff::{self, InviteSummary};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use crate::console::extract::SIGN_IN;
use crate::console::{ConsoleMember, sessions, sign_in};
use crate::error::ApiError;
use crate::extract::{FormBody, PathParams, QueryParams, RequestContext};
use crate::pages::templates::serialized;
use crate::pages::{assets, layer};
use crate::routes::pages::asset;
use crate::same_origin;
use crate::staff::invites::{self, ListQuery};
use crate::state::AppState;

/// The console's home: the dashboard.
const HOME: &str = "/staff/";
/// Invites per page of the dashboard.
const PAGE_SIZE: u32 = 50;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to(HOME) }))
        .route("/staff", get(|| async { Redirect::to(HOME) }))
        .route(HOME, get(dashboard))
        .route("/staff/welcome/{token}", get(welcome).post(choose_password))
        .route(SIGN_IN, get(sign_in_page).post(sign_in))
        .route("/staff/sign-out", post(sign_out))
        .route("/staff/account", get(account))
        .route(
            "/assets/console.css",
            get(|| async { asset("text/css", assets::CONSOLE_CSS) }),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            same_origin::refuse_cross_site,
        ))
        .layer(middleware::from_fn_with_state(state, layer::pages))
}

/// The values every console page has: its title, who is signed in, and which section it is in.
fn page(state: &AppState, title_key: &str, member: Option<&ConsoleMember>, section: &str) -> Value {
    context! {
        page_title => state.pages.console_text(title_key),
        member => member.map(|m| context! { name => &m.staff.name, role => m.staff.role.as_str() }),
        section,
    }
}

fn html(status: StatusCode, page: String) -> Response {
    (status, Html(page)).into_response()
}

/// The browser's console session, if it has one: ended when it signs in again.
fn current_cookie(state: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(sessions::cookie_name(&state.settings))
        .map(|cookie| cookie.value().to_owned())
}

async fn welcome(State(state): State<AppState>, PathParams(token): PathParams<String>) -> Result<Response, ApiError> {
    let (_, member) = sign_in::link_member(&state, &token).await?;
    welcome_page(&state, &token, &member, None, StatusCode::OK)
}

fn welcome_page(
    state: &AppState,
    token: &str,
    member: &lodge_domain::team::Member,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let values = context! {
        page_title => state.pages.console_text("welcome_heading").replace("{name}", &member.name),
        name => &member.name,
        email => &member.email,
        action => format!("{}{token}", crate::console::links::PATH),
        error,
        ..page(state, "welcome_heading", None, "")
    };
    Ok(html(status, state.pages.render("console/welcome.html", values)?))
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
    again: String,
}

async fn choose_password(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    PathParams(token): PathParams<String>,
    FormBody(form): FormBody<NewPassword>,
) -> Result<Response, ApiError> {
    let replacing = current_cookie(&state, &jar);
    match sign_in::choose_password(
        &state,
        &context,
        &token,
        form.password,
        &form.again,
        replacing.as_deref(),
    )
    .await
    {
        Ok(cookie) => Ok((jar.add(cookie), Redirect::to(HOME)).into_response()),
        // The form again, saying what is wrong beside the field.
        Err(ApiError::Invalid(why)) => {
            let (_, member) = sign_in::link_member(&state, &token).await?;
            welcome_page(&state, &token, &member, Some(why), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other),
    }
}

fn sign_in_form(
    state: &AppState,
    email: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let values = context! {
        email,
        error,
        ..page(state, "sign_in_heading", None, "")
    };
    Ok(html(status, state.pages.render("console/sign_in.html", values)?))
}

async fn sign_in_page(State(state): State<AppState>) -> Result<Response, ApiError> {
    sign_in_form(&state, "", None, StatusCode::OK)
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
}

async fn sign_in(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    FormBody(form): FormBody<SignInForm>,
) -> Result<Response, ApiError> {
    let replacing = current_cookie(&state, &jar);
    match sign_in::sign_in(&state, &context, &form.email, form.password, replacing.as_deref()).await {
        Ok(cookie) => Ok((jar.add(cookie), Redirect::to(HOME)).into_response()),
        Err(refused @ (ApiError::Unauthenticated(_) | ApiError::TooManyRequests { .. })) => {
            let status = match &refused {
                ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut page = sign_in_form(&state, form.email.trim(), Some(refused.to_string()), status)?;
            if let ApiError::TooManyRequests { retry_after, .. } = refused
                && let Ok(value) = retry_after.as_secs().to_string().parse()
            {
                page.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
            }
            Ok(page)
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
struct SignOutForm {
    #[serde(default)]
    everywhere: bool,
}

async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    member: ConsoleMember,
    FormBody(form): FormBody<SignOutForm>,
) -> Result<Response, ApiError> {
    sign_in::sign_out(&state, &context, &member, form.everywhere).await?;
    let name = sessions::cookie_name(&state.settings);
    let mut removal = axum_extra::extract::cookie::Cookie::build((name, "")).path("/").build();
    removal.make_removal();
    Ok((jar.add(removal), Redirect::to(SIGN_IN)).into_response())
}

/// Which invites the dashboard shows.
#[derive(Debug, Default, Deserialize)]
struct DashboardQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    show: Show,
    #[serde(default)]
    offset: u32,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Show {
    #[default]
    All,
    Open,
    Overdue,
    Completed,
    Cancelled,
}

/// An invite as a row of the dashboard: the summary, with its due date in words.
#[derive(Serialize)]
struct InviteRow {
    #[serde(flatten)]
    summary: InviteSummary,
    days_left: Option<i64>,
    due_words: String,
}

async fn dashboard(
    State(state): State<AppState>,
    member: ConsoleMember,
    QueryParams(query): QueryParams<DashboardQuery>,
) -> Result<Response, ApiError> {
    let (status, overdue) = match query.show {
        Show::All => (None, false),
        Show::Open => (Some(InviteStatus::Open), false),
        Show::Overdue => (None, true),
        Show::Completed => (Some(InviteStatus::Completed), false),
        Show::Cancelled => (Some(InviteStatus::Cancelled), false),
    };
    let q = query.q.trim().to_owned();
    if q.chars().count() > 200 {
        return Err(ApiError::Invalid("search for at most 200 characters".into()));
    }
    // One more than a page, to know whether there is an older page.
    let list = invites::list(
        &state,
        &member.staff.writer(),
        ListQuery {
            status,
            overdue,
            contact: None,
            q: Some(q.clone()),
            limit: Some(PAGE_SIZE + 1),
            offset: Some(query.offset),
            after: None,
        },
    )
    .await?;
    let today = state.settings.today();
    let counts = staff::counts(&state.read_models, today).await?;
    let more = list.invites.len() > PAGE_SIZE as usize;
    let rows: Vec<InviteRow> = list
        .invites
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(|summary| InviteRow {
            days_left: summary.due_on.map(|due| (due - today).num_days()),
            due_words: due_words(&state, summary.due_on, today),
            summary,
        })
        .collect();
    let link = |offset: u32| {
        let mut address = url::form_urlencoded::Serializer::new(String::new());
        if !q.is_empty() {
            address.append_pair("q", &q);
        }
        if query.show != Show::All {
            address.append_pair("show", show_name(query.show));
        }
        if offset > 0 {
            address.append_pair("offset", &offset.to_string());
        }
        let query = address.finish();
        if query.is_empty() {
            HOME.to_owned()
        } else {
            format!("{HOME}?{query}")
        }
    };
    let values = context! {
        counts => serialized(&counts),
        invites => serialized(&rows),
        q => &q,
        show => show_name(query.show),
        newer => (query.offset > 0).then(|| link(query.offset.saturating_sub(PAGE_SIZE))),
        older => more.then(|| link(query.offset + PAGE_SIZE)),
        ..page(&state, "dashboard_heading", Some(&member), "invites")
    };
    Ok(html(
        StatusCode::OK,
        state.pages.render("console/dashboard.html", values)?,
    ))
}

fn show_name(show: Show) -> &'static str {
    match show {
        Show::All => "all",
        Show::Open => "open",
        Show::Overdue => "overdue",
        Show::Completed => "completed",
        Show::Cancelled => "cancelled",
    }
}

/// "in 3 days", "today", "2 days overdue".
fn due_words(state: &AppState, due_on: Option<NaiveDate>, today: NaiveDate) -> String {
    let Some(due) = due_on else {
        return state.pages.console_text("no_due_date");
    };
    let days = (due - today).num_days();
    let (key, n) = match days {
        0 => ("due_today", 0),
        1 => ("due_tomorrow", 1),
        -1 => ("overdue_by_one_day", 1),
        d if d > 1 => ("due_in_days", d),
        d => ("overdue_by_days", -d),
    };
    state.pages.console_text(key).replace("{days}", &n.to_string())
}

async fn account(State(state): State<AppState>, member: ConsoleMember) -> Result<Response, ApiError> {
    let list = sessions::list(&state.store, &state.settings, member.staff.id).await?;
    let values = context! {
        sessions => serialized(&list),
        current => member.session.id.to_string(),
        idle_minutes => state.settings.console.idle.as_secs() / 60,
        lifetime_hours => state.settings.console.lifetime.as_secs() / 3600,
        ..page(&state, "account_heading", Some(&member), "account")
    };
    Ok(html(
        StatusCode::OK,
        state.pages.render("console/account.html", values)?,
    ))
}
