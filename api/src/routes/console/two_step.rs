//! Two-step sign-in's pages: the code asked for after the password, and, from "Your account",
//! turning it on (scan, confirm with a code, keep the recovery codes), turning it off and making new
//! recovery codes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;

use super::account::account_page;
use super::{HOME, current_cookie, html, page};
use crate::console::extract::SIGN_IN;
use crate::console::{ConsoleMember, own_account, pending, sign_in, two_step};
use crate::error::ApiError;
use crate::extract::{FormBody, RequestContext};
use crate::state::AppState;

/// The page that asks for the code after the password.
pub(super) const CODE_PAGE: &str = "/staff/sign-in/code";

fn code_form(state: &AppState, error: Option<String>, status: StatusCode) -> Result<Response, ApiError> {
    let values = context! {
        error,
        ..page(state, "code_heading", None, "")
    };
    Ok(html(status, state.pages.render("console/sign_in_code.html", values)?))
}

pub(super) async fn code_page(State(state): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    // Without a half-done sign-in there is no code to ask for: sign in first.
    if jar.get(pending::cookie_name(&state.settings)).is_none() {
        return Ok(Redirect::to(SIGN_IN).into_response());
    }
    code_form(&state, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    code: String,
}

pub(super) async fn post_code(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    FormBody(form): FormBody<CodeForm>,
) -> Result<Response, ApiError> {
    let Some(step) = jar
        .get(pending::cookie_name(&state.settings))
        .map(|c| c.value().to_owned())
    else {
        return Ok(Redirect::to(SIGN_IN).into_response());
    };
    let replacing = current_cookie(&state, &jar);
    match sign_in::second_step(&state, &context, &step, &form.code, replacing.as_deref()).await {
        Ok(session) => Ok((
            jar.add(session).add(pending::removal_cookie(&state.settings)),
            Redirect::to(HOME),
        )
            .into_response()),
        Err(refused @ (ApiError::Unauthenticated(_) | ApiError::TooManyRequests { .. })) => {
            let status = match &refused {
                ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            code_form(&state, Some(refused.to_string()), status)
        }
        Err(other) => Err(other),
    }
}

fn setup_page(
    state: &AppState,
    member: &ConsoleMember,
    setup: &two_step::Setup,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let values = context! {
        secret => &setup.secret,
        qr_svg => &setup.qr_svg,
        error,
        ..page(state, "two_step_heading", Some(member), "account")
    };
    Ok(html(status, state.pages.render("console/two_step.html", values)?))
}

fn codes_page(state: &AppState, member: &ConsoleMember, codes: &[String], heading: &str) -> Result<Response, ApiError> {
    let values = context! {
        codes => codes.to_vec(),
        ..page(state, heading, Some(member), "account")
    };
    Ok(html(
        StatusCode::OK,
        state.pages.render("console/two_step.html", values)?,
    ))
}

pub(super) async fn setup(State(state): State<AppState>, member: ConsoleMember) -> Result<Response, ApiError> {
    let setup = own_account::begin_two_step(&state, &member).await?;
    setup_page(&state, &member, &setup, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub(super) struct TurnOnForm {
    secret: String,
    code: String,
}

pub(super) async fn turn_on(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    FormBody(form): FormBody<TurnOnForm>,
) -> Result<Response, ApiError> {
    match own_account::turn_on_two_step(&state, &context, &member, &form.secret, &form.code).await {
        Ok(codes) => codes_page(&state, &member, &codes, "two_step_on_heading"),
        // The same picture again, saying what is wrong beside the code.
        Err(ApiError::Invalid(why)) => {
            let setup = own_account::setup_again(&state, &member, &form.secret)?;
            setup_page(&state, &member, &setup, Some(why), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum Change {
    TurnOff,
    NewCodes,
}

#[derive(Deserialize)]
pub(super) struct ChangeForm {
    code: String,
    change: Change,
}

/// Turns two-step sign-in off, or makes new recovery codes, after a current code.
pub(super) async fn change(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    FormBody(form): FormBody<ChangeForm>,
) -> Result<Response, ApiError> {
    let done = match form.change {
        Change::TurnOff => own_account::turn_off_two_step(&state, &context, &member, &form.code)
            .await
            .map(|()| None),
        Change::NewCodes => own_account::new_recovery_codes(&state, &context, &member, &form.code)
            .await
            .map(Some),
    };
    match done {
        Ok(None) => Ok(Redirect::to("/staff/account#two-step").into_response()),
        Ok(Some(codes)) => codes_page(&state, &member, &codes, "new_codes_heading"),
        Err(ApiError::Invalid(why)) => {
            account_page(&state, &member, None, Some(why), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(other) => Err(other),
    }
}
