//! The team's page, for owners: every member with their role, whether they are active, and a new
//! sign-in link for each (to choose a password again); a colleague added with their one-time
//! sign-in link to pass on. Every change goes through the team's rules, on the record as the
//! owner's; anyone else reads a 403 saying an owner is needed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use lodge_domain::StaffId;
use lodge_domain::team::{LinkPurpose, Role};
use minijinja::context;
use serde::Deserialize;

use super::{html, page};
use crate::console::{ConsoleMember, emailed_links, own_account, sessions, two_step};
use crate::error::ApiError;
use crate::extract::{FormBody, PathParams, RequestContext};
use crate::pages::templates::serialized;
use crate::staff::team::{self, MemberChanges, NewMember};
use crate::state::AppState;

const TEAM: &str = "/staff/team";

/// A sign-in link just made and emailed, shown to the owner too (to pass on if the email is slow).
#[derive(serde::Serialize)]
struct Link {
    name: String,
    email: String,
    url: String,
}

fn owner_actor(member: &ConsoleMember) -> lodge_domain::Actor {
    lodge_domain::Actor::Staff {
        id: member.staff.id,
        name: member.staff.name.clone(),
    }
}

async fn team_page(
    state: &AppState,
    member: &ConsoleMember,
    link: Option<Link>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let view = team::view(state).await?;
    let two_step_on = two_step::members_with_it(&state.store).await?;
    let values = context! {
        members => serialized(&view.members),
        two_step_on,
        roles => ["owner", "staff", "viewer"],
        link => link.as_ref().map(serialized),
        error,
        ..page(state, "team_heading", Some(member), "team")
    };
    Ok(html(status, state.pages.render("console/team.html", values)?))
}

pub(super) async fn team(State(state): State<AppState>, member: ConsoleMember) -> Result<Response, ApiError> {
    member.needs(Role::Owner)?;
    team_page(&state, &member, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub(super) struct AddForm {
    name: String,
    email: String,
    role: Role,
}

/// Adds a colleague and shows their sign-in link, to pass on; a refusal (an email already in the
/// team, say) shows on the page, which keeps the team as it was.
pub(super) async fn add(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    FormBody(form): FormBody<AddForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Owner)?;
    let name = form.name.trim().to_owned();
    let body = NewMember {
        email: form.email,
        name: name.clone(),
        role: form.role,
    };
    match team::add_member(&state, &member.staff, &context, body).await {
        Ok(added) => {
            // Read back as the team now has it (the email normalised).
            let colleague = team::member(&state, added.id)
                .await?
                .ok_or_else(|| ApiError::Internal(format!("{} was added but is not in the team", added.id)))?;
            let url = emailed_links::email_link(
                &state,
                &context,
                owner_actor(&member),
                added.id,
                &colleague,
                LinkPurpose::Welcome,
                state.settings.console.link_lifetime,
            )
            .await?;
            let link = Link {
                name,
                email: colleague.email,
                url,
            };
            team_page(&state, &member, Some(link), None, StatusCode::OK).await
        }
        Err(refused @ (ApiError::Team(_) | ApiError::Invalid(_))) => {
            team_page(
                &state,
                &member,
                None,
                Some(refused.to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub(super) struct ChangeForm {
    role: Option<Role>,
    active: Option<bool>,
}

pub(super) async fn change(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams(id): PathParams<StaffId>,
    FormBody(form): FormBody<ChangeForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Owner)?;
    let changes = MemberChanges {
        role: form.role,
        active: form.active,
    };
    match team::change_member(&state, &member.staff, &context, id, changes).await {
        Ok(_) => Ok(Redirect::to(TEAM).into_response()),
        Err(refused @ ApiError::Team(_)) => {
            team_page(&state, &member, None, Some(refused.to_string()), StatusCode::CONFLICT).await
        }
        Err(other) => Err(other),
    }
}

/// Turns two-step sign-in off for a colleague who lost their phone.
pub(super) async fn turn_off_two_step(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams(id): PathParams<StaffId>,
) -> Result<Response, ApiError> {
    member.needs(Role::Owner)?;
    own_account::turn_off_for_colleague(&state, &context, &member, id).await?;
    Ok(Redirect::to(TEAM).into_response())
}

/// A new sign-in link for a member (a forgotten password): the earlier one no longer opens, and
/// their sessions end, so that whoever has the new link is the only one signed in.
pub(super) async fn new_link(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams(id): PathParams<StaffId>,
) -> Result<Response, ApiError> {
    member.needs(Role::Owner)?;
    let found = team::member(&state, id).await?;
    let Some(colleague) = found.filter(|m| m.active) else {
        return Err(ApiError::NotFound(format!("the team has no active member {id}")));
    };
    let url = emailed_links::email_link(
        &state,
        &context,
        owner_actor(&member),
        id,
        &colleague,
        LinkPurpose::Reset,
        state.settings.console.link_lifetime,
    )
    .await?;
    if id != member.staff.id {
        sessions::end_all(&state.store, id).await?;
        state.accounts.forget_member(id);
    }
    let link = Link {
        name: colleague.name,
        email: colleague.email,
        url,
    };
    team_page(&state, &member, Some(link), None, StatusCode::OK).await
}
