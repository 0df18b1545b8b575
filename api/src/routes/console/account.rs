//! Signing in and out of the console: the page a sign-in link opens to choose a password, the
//! sign-in page, signing out, and the member's own account (where they are signed in, two-step
//! sign-in, API tokens). Two-step sign-in's own pages are in `two_step`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;

use super::two_step;
use super::{HOME, current_cookie, html, page};
use crate::console::extract::SIGN_IN;
use crate::console::{
    ConsoleMember, emailed_links, pending, recovery_codes, sessions, sign_in, two_step as second_factor,
};
use crate::error::ApiError;
use crate::extract::{FormBody, PathParams, RequestContext};
use crate::pages::templates::serialized;
use crate::staff::tokens;
use crate::state::AppState;

pub(super) async fn welcome(
    State(state): State<AppState>,
    PathParams(token): PathParams<String>,
) -> Result<Response, ApiError> {
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
pub(super) struct NewPassword {
    password: String,
    again: String,
}

pub(super) async fn choose_password(
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
        Ok(proved) => Ok(signed_in_or_on_to_the_code(&state, jar, proved)),
        // The form again, saying what is wrong beside the field.
        Err(ApiError::Invalid(why)) => {
            let (_, member) = sign_in::link_member(&state, &token).await?;
            welcome_page(&state, &token, &member, Some(why), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other),
    }
}

/// Where a right password leads: the dashboard, signed in; or the code's page, for a member with
/// two-step sign-in (the cookie carries the half-done sign-in there).
fn signed_in_or_on_to_the_code(state: &AppState, jar: CookieJar, proved: sign_in::Proved) -> Response {
    match proved {
        sign_in::Proved::SignedIn(session) => {
            // A half-done sign-in this browser left (a code never typed) is forgotten too.
            let jar = match jar.get(pending::cookie_name(&state.settings)) {
                Some(_) => jar.add(pending::removal_cookie(&state.settings)),
                None => jar,
            };
            (jar.add(session), Redirect::to(HOME)).into_response()
        }
        sign_in::Proved::CodeNeeded(step) => (jar.add(step), Redirect::to(two_step::CODE_PAGE)).into_response(),
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

pub(super) async fn sign_in_page(State(state): State<AppState>) -> Result<Response, ApiError> {
    sign_in_form(&state, "", None, StatusCode::OK)
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    email: String,
    password: String,
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    FormBody(form): FormBody<SignInForm>,
) -> Result<Response, ApiError> {
    let replacing = current_cookie(&state, &jar);
    match sign_in::sign_in(&state, &context, &form.email, form.password, replacing.as_deref()).await {
        Ok(proved) => Ok(signed_in_or_on_to_the_code(&state, jar, proved)),
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

fn forgot_form(
    state: &AppState,
    email: &str,
    sent: bool,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let values = context! {
        email,
        sent,
        error,
        ..page(state, "forgot_heading", None, "")
    };
    Ok(html(status, state.pages.render("console/forgot.html", values)?))
}

pub(super) async fn forgot_page(State(state): State<AppState>) -> Result<Response, ApiError> {
    forgot_form(&state, "", false, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub(super) struct ForgotForm {
    email: String,
}

/// "Forgot your password?": the same answer whether the address has an account or not.
pub(super) async fn forgot(
    State(state): State<AppState>,
    context: RequestContext,
    FormBody(form): FormBody<ForgotForm>,
) -> Result<Response, ApiError> {
    let email = form.email.trim();
    match emailed_links::forgot_password(&state, &context, email).await {
        Ok(()) => forgot_form(&state, email, true, None, StatusCode::OK),
        Err(ApiError::Invalid(why)) => forgot_form(&state, email, false, Some(why), StatusCode::UNPROCESSABLE_ENTITY),
        Err(refused @ ApiError::TooManyRequests { .. }) => forgot_form(
            &state,
            email,
            false,
            Some(refused.to_string()),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub(super) struct SignOutForm {
    #[serde(default)]
    everywhere: bool,
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    member: ConsoleMember,
    FormBody(form): FormBody<SignOutForm>,
) -> Result<Response, ApiError> {
    sign_in::sign_out(&state, &context, &member, form.everywhere).await?;
    Ok((
        jar.add(sessions::removal_cookie(&state.settings)),
        Redirect::to(SIGN_IN),
    )
        .into_response())
}

pub(super) async fn account(State(state): State<AppState>, member: ConsoleMember) -> Result<Response, ApiError> {
    account_page(&state, &member, None, None, StatusCode::OK).await
}

/// The member's own account: where they are signed in, and their API tokens (a new one shown once).
pub(super) async fn account_page(
    state: &AppState,
    member: &ConsoleMember,
    new_token: Option<String>,
    two_step_error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let list = sessions::list(&state.store, &state.settings, member.staff.id).await?;
    let two_step_on = second_factor::is_on(&state.store, member.staff.id).await?;
    let codes_left = recovery_codes::left(&state.store, member.staff.id).await?;
    let tokens = tokens::list_for_member(&state.store, member.staff.id).await?;
    let values = context! {
        sessions => serialized(&list),
        tokens => serialized(&tokens),
        new_token,
        two_step_on,
        codes_left,
        two_step_error,
        current => member.session.id.to_string(),
        idle_minutes => state.settings.console.idle.as_secs() / 60,
        lifetime_hours => state.settings.console.lifetime.as_secs() / 3600,
        ..page(state, "account_heading", Some(member), "account")
    };
    Ok(html(status, state.pages.render("console/account.html", values)?))
}

/// A new API token for the member, with their role at each request; shown this once.
pub(super) async fn create_token(State(state): State<AppState>, member: ConsoleMember) -> Result<Response, ApiError> {
    let email = member.staff.email.clone().unwrap_or_default();
    let created = tokens::create_for_member(
        &state.store,
        member.staff.id,
        &member.staff.name,
        &email,
        member.staff.role,
    )
    .await?;
    account_page(&state, &member, Some(created.token), None, StatusCode::OK).await
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    member: ConsoleMember,
    PathParams(id): PathParams<uuid::Uuid>,
) -> Result<Response, ApiError> {
    if !tokens::revoke_own(&state.store, member.staff.id, id).await? {
        return Err(ApiError::NotFound(format!("you have no live token {id}")));
    }
    Ok(Redirect::to("/staff/account#tokens").into_response())
}
