//! The firm's team as the log has it: who a token's member is now (their role, whether they are
//! still active), the team as staff see it, and an owner's changes to it. Read from the team's
//! stream itself, folded by the domain: a team is a few dozen events, one read per staff request.

use lodge_domain::team::{
    AddMember, Authority, ChangeRole, Member, MemberChange, Role, TeamCommand, TeamDecider, TeamState,
};
use lodge_domain::{Actor, StaffId};
use lodge_eventlog::command;
use lodge_eventlog::{EventLog, LogError, StreamId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::staff::invites::Recorded;
use crate::staff::tokens::StaffMember;
use crate::state::AppState;

/// The team as its stream leaves it (empty before its first member).
pub async fn team(log: &EventLog) -> Result<TeamState, LogError> {
    command::state_of::<TeamDecider>(log, &StreamId::team()).await
}

/// The team as a request needs it: from memory when read a moment ago and unchanged since
/// (`console::cache`), else from the log.
pub async fn current(state: &AppState) -> Result<std::sync::Arc<TeamState>, ApiError> {
    match state.accounts.team() {
        Some(team) => Ok(team),
        None => fresh(state).await,
    }
}

/// The team read from the log now, kept for the requests after.
async fn fresh(state: &AppState) -> Result<std::sync::Arc<TeamState>, ApiError> {
    let read_at = std::time::Instant::now();
    let read = std::sync::Arc::new(team(&state.log).await?);
    state.accounts.keep_team(read_at, read.clone());
    Ok(read)
}

/// A member of the team. The team in memory answers when it knows them as active; otherwise the log
/// does (a member added or reactivated a moment ago, by another server or `lodge staff`, whose event
/// the memory has not heard of yet), so no one is refused, or taken for a token made by name alone,
/// for being new. (A deactivation made elsewhere is taken up within `console::cache::FRESH_FOR`.)
pub async fn member(state: &AppState, id: StaffId) -> Result<Option<Member>, ApiError> {
    if let Some(found) = current(state).await?.members.get(&id).filter(|m| m.active) {
        return Ok(Some(found.clone()));
    }
    Ok(fresh(state).await?.members.get(&id).cloned())
}

/// `GET /api/team`: every member, active or not, oldest first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamView {
    pub members: Vec<TeamMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamMember {
    pub id: StaffId,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub active: bool,
}

/// A colleague an owner adds to the team.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// What an owner changes about a member: their role, whether they are active, or both.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberChanges {
    pub role: Option<Role>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddedMember {
    pub id: StaffId,
    pub position: Option<i64>,
}

pub async fn view(state: &AppState) -> Result<TeamView, ApiError> {
    let team = team(&state.log).await?;
    let mut members: Vec<TeamMember> = team
        .members
        .into_iter()
        .map(|(id, member)| TeamMember {
            id,
            name: member.name,
            email: member.email,
            role: member.role,
            active: member.active,
        })
        .collect();
    // Ids are v7: in the order members joined.
    members.sort_by_key(|member| member.id.as_uuid());
    Ok(TeamView { members })
}

/// Adds a colleague, as `staff` (the team's rules say whether they may: an active owner).
pub async fn add_member(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    body: NewMember,
) -> Result<AddedMember, ApiError> {
    let metadata = context.metadata(Actor::from(&staff.as_domain()), "add-member");
    // Derived from the command id, so that a retry with the same Idempotency-Key is the same member.
    let id = StaffId::from_uuid(Uuid::new_v5(&metadata.command_id, b"member"));
    let command = TeamCommand::AddMember(AddMember {
        by: Authority::Member(staff.id),
        staff_id: id,
        email: body.email,
        name: body.name,
        role: body.role,
    });
    let outcome = command::execute::<TeamDecider>(&state.log, &StreamId::team(), &command, &metadata).await?;
    state.accounts.team_changed();
    Ok(AddedMember {
        id,
        position: outcome.position.map(|p| p.0),
    })
}

/// Changes a member's role and whether they are active, as `staff`, in one append: both or neither.
pub async fn change_member(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    id: StaffId,
    body: MemberChanges,
) -> Result<Recorded, ApiError> {
    let by = Authority::Member(staff.id);
    let mut commands = Vec::new();
    // Reactivated before a new role is given; a new role before deactivating.
    if body.active == Some(true) {
        commands.push(TeamCommand::Reactivate(MemberChange { by, staff_id: id }));
    }
    if let Some(role) = body.role {
        commands.push(TeamCommand::ChangeRole(ChangeRole { by, staff_id: id, role }));
    }
    if body.active == Some(false) {
        commands.push(TeamCommand::Deactivate(MemberChange { by, staff_id: id }));
    }
    if commands.is_empty() {
        return Err(ApiError::Invalid(
            "give `role` (owner, staff or viewer), `active` (true or false), or both".into(),
        ));
    }
    let metadata = context.metadata(Actor::from(&staff.as_domain()), &format!("change-member:{id}"));
    let outcome = command::execute_all::<TeamDecider>(&state.log, &StreamId::team(), &commands, &metadata).await?;
    state.accounts.team_changed();
    // A deactivated member is signed out of the console at once (their tokens are refused while
    // they are deactivated; their sessions are gone for good).
    if body.active == Some(false) {
        crate::console::sessions::end_all(&state.store, id).await?;
    }
    Ok(Recorded {
        position: outcome.position.map(|p| p.0),
    })
}
