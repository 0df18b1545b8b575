//! The firm's settings, for owners: its name and contact details (the portal's Contact tab and
//! every email), the time zone its due dates are days in, and the reminders invites follow unless
//! they have their own. They start as the configuration has them; what an owner saves is an event.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use lodge_domain::firm::FirmDetails;
use lodge_domain::reminder::ReminderPlan;
use lodge_domain::team::Role;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{html, page};
use crate::console::ConsoleMember;
use crate::console::invite_form::reminder_plan;
use crate::error::ApiError;
use crate::extract::{FormBody, QueryParams, RequestContext};
use crate::state::AppState;

const SETTINGS: &str = "/staff/settings";

/// The form's fields, as typed (shown again beside a mistake).
#[derive(Deserialize, Serialize, Default)]
pub(super) struct SettingsForm {
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address: String,
    time_zone: String,
    #[serde(default)]
    reminder_days_before: String,
    #[serde(default)]
    reminder_overdue_every_days: String,
    #[serde(default)]
    reminders_at_most: String,
}

impl SettingsForm {
    fn from_details(details: FirmDetails) -> Self {
        let days: Vec<String> = details.reminders.days_before.iter().map(u32::to_string).collect();
        Self {
            name: details.name,
            email: details.email.unwrap_or_default(),
            phone: details.phone.unwrap_or_default(),
            address: details.address.unwrap_or_default(),
            time_zone: details.time_zone,
            reminder_days_before: days.join(", "),
            reminder_overdue_every_days: details.reminders.overdue_every_days.to_string(),
            reminders_at_most: details.reminders.at_most.to_string(),
        }
    }

    fn to_details(&self) -> Result<FirmDetails, ApiError> {
        let reminders = reminder_plan(
            &self.reminder_days_before,
            &self.reminder_overdue_every_days,
            &self.reminders_at_most,
        )
        .map_err(|why| ApiError::Invalid(why.into()))?
        // All three empty: no reminders unless an invite has its own.
        .unwrap_or(ReminderPlan {
            days_before: Vec::new(),
            overdue_every_days: 0,
            at_most: 0,
        });
        let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        Ok(FirmDetails {
            name: self.name.clone(),
            email: given(&self.email),
            phone: given(&self.phone),
            address: given(&self.address),
            time_zone: self.time_zone.clone(),
            reminders,
        })
    }
}

fn settings_page(
    state: &AppState,
    member: &ConsoleMember,
    form: &SettingsForm,
    saved: bool,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let zones: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name()).collect();
    let values = context! {
        form => crate::pages::templates::serialized(form),
        zones,
        saved,
        error,
        ..page(state, "settings_heading", Some(member), "settings")
    };
    Ok(html(status, state.pages.render("console/settings.html", values)?))
}

#[derive(Deserialize, Default)]
pub(super) struct Saved {
    #[serde(default)]
    saved: bool,
}

pub(super) async fn settings(
    State(state): State<AppState>,
    member: ConsoleMember,
    QueryParams(query): QueryParams<Saved>,
) -> Result<Response, ApiError> {
    member.needs(Role::Owner)?;
    let form = SettingsForm::from_details(state.firm.details());
    settings_page(&state, &member, &form, query.saved, None, StatusCode::OK)
}

pub(super) async fn save(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    FormBody(form): FormBody<SettingsForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Owner)?;
    let saved = match form.to_details() {
        Ok(details) => crate::staff::firm::change_details(&state, &member.staff, &context, details).await,
        Err(refused) => Err(refused),
    };
    match saved {
        Ok(()) => Ok(Redirect::to(&format!("{SETTINGS}?saved=true")).into_response()),
        // The form again, as typed, saying what will not do.
        Err(refused @ (ApiError::Invalid(_) | ApiError::Firm(_))) => settings_page(
            &state,
            &member,
            &form,
            false,
            Some(refused.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other),
    }
}
