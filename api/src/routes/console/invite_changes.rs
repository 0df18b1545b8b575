//! Changing a sent invite from its page: the due date, the reminders, a new portal link for a
//! contact, another contact, another file request. Each form posts to one use case of
//! `staff::invites` (the same as the staff API's), then goes back to the page, or, where a new
//! portal link was made, to a page showing it once with a copy button. A refusal (a due date in the
//! past, a cancelled invite) is a page saying why; nothing changes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use lodge_domain::team::Role;
use lodge_domain::{ContactId, InviteId};
use minijinja::context;
use serde::Deserialize;

use super::invite::invite_path;
use super::{html, page};
use crate::console::ConsoleMember;
use crate::console::invite_form::reminder_plan;
use crate::error::ApiError;
use crate::extract::{FormBody, PathParams, RequestContext};
use crate::staff::invites::{self, InviteChanges, NewContact, NewRequest};
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct DueDateForm {
    /// `YYYY-MM-DD`, or empty to remove the due date.
    due_date: String,
}

pub(super) async fn due_date(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams(invite): PathParams<InviteId>,
    FormBody(form): FormBody<DueDateForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let due_date = match form.due_date.trim() {
        "" => None,
        given => Some(
            NaiveDate::parse_from_str(given, "%Y-%m-%d")
                .map_err(|_| ApiError::Invalid(format!("`{given}` is not a date: pick one, as YYYY-MM-DD")))?,
        ),
    };
    let changes = InviteChanges {
        due_date: Some(due_date),
        reminders: None,
        title: None,
    };
    invites::change(&state, &member.staff, &context, invite, changes).await?;
    Ok(Redirect::to(&invite_path(invite)).into_response())
}

#[derive(Deserialize)]
pub(super) struct RemindersForm {
    #[serde(default)]
    reminder_days_before: String,
    #[serde(default)]
    reminder_overdue_every_days: String,
    #[serde(default)]
    reminders_at_most: String,
}

/// The invite's own reminders, or (all fields empty) the firm's again.
pub(super) async fn reminders(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams(invite): PathParams<InviteId>,
    FormBody(form): FormBody<RemindersForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let plan = reminder_plan(
        &form.reminder_days_before,
        &form.reminder_overdue_every_days,
        &form.reminders_at_most,
    )
    .map_err(|why| ApiError::Invalid(why.into()))?;
    let changes = InviteChanges {
        due_date: None,
        reminders: Some(plan),
        title: None,
    };
    invites::change(&state, &member.staff, &context, invite, changes).await?;
    Ok(Redirect::to(&invite_path(invite)).into_response())
}

/// The page showing a contact's new portal link, once.
fn link_page(
    state: &AppState,
    member: &ConsoleMember,
    invite: InviteId,
    name: &str,
    url: &str,
    heading: &str,
) -> Result<Response, ApiError> {
    let values = context! {
        invite => invite.to_string(),
        name,
        url,
        ..page(state, heading, Some(member), "invites")
    };
    Ok(html(
        StatusCode::OK,
        state.pages.render("console/new_link.html", values)?,
    ))
}

/// A new portal link for a contact: the old one, and any session opened with it, ends.
pub(super) async fn reissue_link(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams((invite, contact)): PathParams<(InviteId, ContactId)>,
) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let reissued = invites::reissue_link(&state, &member.staff, &context, invite, contact).await?;
    let name = invites::get(&state, &member.staff.writer(), invite, None)
        .await?
        .contacts
        .into_iter()
        .find(|c| c.id == contact)
        .map(|c| c.name)
        .unwrap_or_default();
    link_page(&state, &member, invite, &name, &reissued.portal_url, "reissued_heading")
}

#[derive(Deserialize)]
pub(super) struct ContactForm {
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

/// Another contact: every request for all contacts is theirs too; they are sent their link.
pub(super) async fn add_contact(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams(invite): PathParams<InviteId>,
    FormBody(form): FormBody<ContactForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let given = |text: String| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let body = NewContact {
        id: None,
        name: form.name.trim().to_owned(),
        email: given(form.email),
        phone: given(form.phone),
    };
    let added = invites::add_contact(&state, &member.staff, &context, invite, body).await?;
    link_page(
        &state,
        &member,
        invite,
        &added.name,
        &added.portal_url,
        "contact_added_heading",
    )
}

#[derive(Deserialize)]
pub(super) struct RequestForm {
    title: String,
    #[serde(default)]
    description: String,
}

/// Another file request, for every contact of the invite.
pub(super) async fn add_request(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams(invite): PathParams<InviteId>,
    FormBody(form): FormBody<RequestForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let description = Some(form.description.trim().to_owned()).filter(|d| !d.is_empty());
    let body = NewRequest::File {
        title: form.title.trim().to_owned(),
        description,
        allowed_types: Vec::new(),
        max_files: None,
        contact_ids: None,
    };
    invites::add_request(&state, &member.staff, &context, invite, body).await?;
    Ok(Redirect::to(&format!("{}#requests", invite_path(invite))).into_response())
}
