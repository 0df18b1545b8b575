//! The firm's team over HTTP: every member reads it; owners change it (the team's rules decide).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lodge_domain::StaffId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, RequestContext};
use crate::openapi::ProblemDocument;
use crate::staff::auth::Staff;
use crate::staff::invites::Recorded;
use crate::staff::team::{self, AddedMember, MemberChanges, NewMember, TeamView};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_team))
        .routes(routes!(add_member))
        .routes(routes!(change_member))
}

#[utoipa::path(get, path = "/api/team", tag = "team", security(("staff_token" = [])),
    responses((status = 200, description = "Every member, active or not, in the order they joined", body = TeamView),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn get_team(State(state): State<AppState>, Staff(_): Staff) -> Result<Json<TeamView>, ApiError> {
    team::view(&state).await.map(Json)
}

#[utoipa::path(post, path = "/api/team/members", tag = "team", security(("staff_token" = [])),
    request_body = NewMember,
    responses((status = 201, description = "Added to the team", body = AddedMember),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "only an owner changes the team", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "the email is a member's already", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn add_member(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    JsonBody(body): JsonBody<NewMember>,
) -> Result<(StatusCode, Json<AddedMember>), ApiError> {
    let added = team::add_member(&state, &staff, &context, body).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

#[utoipa::path(patch, path = "/api/team/members/{staff_id}", tag = "team", security(("staff_token" = [])),
    params(("staff_id" = Uuid, Path, description = "The member")),
    request_body = MemberChanges,
    responses((status = 200, description = "Changed", body = Recorded),
        (status = 400, description = "the request could not be read", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "no valid credentials", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "only an owner changes the team", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "no such member", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "the team needs an active owner, or the member is deactivated", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "a type the request does not accept", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "the content is not acceptable", body = ProblemDocument, content_type = "application/problem+json"),))]
pub(crate) async fn change_member(
    State(state): State<AppState>,
    Staff(staff): Staff,
    context: RequestContext,
    PathParams(staff_id): PathParams<StaffId>,
    JsonBody(body): JsonBody<MemberChanges>,
) -> Result<Json<Recorded>, ApiError> {
    team::change_member(&state, &staff, &context, staff_id, body)
        .await
        .map(Json)
}
