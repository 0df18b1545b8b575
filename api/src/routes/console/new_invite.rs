//! The New invite page: the form, rows added without JavaScript, a preview of what the contact
//! will see, each mistake beside its field, and, once sent, each contact's portal link to copy.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lodge_domain::team::Role;
use minijinja::{Value, context};

use super::{html, page};
use crate::console::ConsoleMember;
use crate::console::invite_form::{Action, FieldErrors, InviteForm};
use crate::error::ApiError;
use crate::extract::{FormBody, RequestContext};
use crate::pages::templates::serialized;
use crate::staff::invites;
use crate::state::AppState;

pub(super) async fn new_invite(State(state): State<AppState>, member: ConsoleMember) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let form = InviteForm::new(uuid::Uuid::new_v4().to_string());
    form_page(&state, &member, &form, &FieldErrors::new(), None, None, StatusCode::OK)
}

pub(super) async fn post_new_invite(
    State(state): State<AppState>,
    member: ConsoleMember,
    mut context: RequestContext,
    FormBody(fields): FormBody<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let (mut form, action) = InviteForm::read(&fields);
    if !matches!(action, Action::Preview | Action::Send) {
        form.add(&action);
        return form_page(&state, &member, &form, &FieldErrors::new(), None, None, StatusCode::OK);
    }
    let invite = match form.to_new_invite(state.firm.today()) {
        Ok(invite) => invite,
        Err(errors) => {
            return form_page(
                &state,
                &member,
                &form,
                &errors,
                None,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    if action == Action::Preview {
        let preview = context! {
            title => &form.title,
            message => &form.message,
            due_date => invite.due_date.map(|d| d.to_string()),
            requests => serialized(&form.requests.iter().filter(|r| !r.title.is_empty()).collect::<Vec<_>>()),
            sender => &member.staff.name,
        };
        return form_page(
            &state,
            &member,
            &form,
            &FieldErrors::new(),
            Some(preview),
            None,
            StatusCode::OK,
        );
    }
    // The form's key makes a second post of it (a refresh, a double click) the same command.
    if !form.key.is_empty() {
        context.idempotency_key = Some(format!("console-new-invite:{}", form.key));
    }
    match invites::send(&state, &member.staff, &context, invite).await {
        Ok(sent) => {
            let values = context! {
                sent => serialized(&sent),
                title => &form.title,
                ..page(&state, "sent_heading", Some(&member), "new")
            };
            Ok(html(StatusCode::OK, state.pages.render("console/sent.html", values)?))
        }
        // What the rules refused, at the top of the form, which keeps everything typed.
        Err(error @ (ApiError::Invalid(_) | ApiError::Rejected(_))) => {
            let problem = error.to_string();
            form_page(
                &state,
                &member,
                &form,
                &FieldErrors::new(),
                None,
                Some(problem),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(other) => Err(other),
    }
}

fn form_page(
    state: &AppState,
    member: &ConsoleMember,
    form: &InviteForm,
    errors: &FieldErrors,
    preview: Option<Value>,
    problem: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let values = context! {
        form => serialized(form),
        // By field, beside each; in order, in the summary at the top.
        errors => serialized(&errors.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()),
        error_list => serialized(errors),
        preview,
        problem,
        today => state.firm.today().to_string(),
        ..page(state, "new_heading", Some(member), "new")
    };
    Ok(html(status, state.pages.render("console/new_invite.html", values)?))
}
