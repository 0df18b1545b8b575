//! What a signed-in contact does on their portal. Every function acts on the session's own invite
//! and contact only, so a contact can never reach another's portal.

use lodge_domain::MessageId;
use lodge_domain::invite::{InviteCommand, MessageFrom, PostMessage};
use lodge_eventlog::Position;
use lodge_projections::Projection;
use lodge_projections::portal::{self, PortalProjection};
use serde::Deserialize;
use uuid::Uuid;

use crate::commands;
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::limits::{self, Action};
use crate::own_writes::Writer;
use crate::portal::session::ContactSession;
use crate::portal::view::PortalResponse;
use crate::staff::invites::PostedMessage;
use crate::state::AppState;

pub async fn view(
    state: &AppState,
    session: ContactSession,
    after: Option<Position>,
) -> Result<PortalResponse, ApiError> {
    let view = match after {
        // The session already read the view; only a read that must see a later write reads again.
        None => session.view,
        Some(position) => {
            let writer = Writer::Contact(session.session_hash().to_owned());
            state
                .wait_for(PortalProjection::NAME, Some(position), Some(&writer))
                .await?;
            let view = portal::portal_view(&state.read_models, session.invite_id, session.contact_id)
                .await?
                .ok_or_else(|| ApiError::Unauthenticated("open your portal link again to sign in".into()))?;
            let view = std::sync::Arc::new(view);
            state
                .portal_cache
                .refresh(session.session_hash(), view.clone(), position.0);
            view
        }
    };
    Ok(PortalResponse::new(&view, &state.firm.get()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct ContactMessage {
    pub body: String,
}

pub async fn post_message(
    state: &AppState,
    session: &ContactSession,
    context: &RequestContext,
    body: ContactMessage,
) -> Result<PostedMessage, ApiError> {
    limits::check(state, Action::Message, session.who(context)).await?;
    let metadata = context.metadata(session.actor(), "message");
    let message_id = MessageId::from_uuid(Uuid::new_v5(&metadata.command_id, b"message"));
    let command = InviteCommand::PostMessage(PostMessage {
        message_id,
        contact_id: session.contact_id,
        from: MessageFrom::Contact,
        body: body.body,
    });
    let outcome = commands::execute(state, Some(session.writer()), session.invite_id, command, &metadata).await?;
    Ok(PostedMessage {
        id: message_id,
        position: outcome.position.map(|p| p.0),
    })
}

/// One of the contact's own documents.
pub async fn download(
    state: &AppState,
    session: &ContactSession,
    document: lodge_domain::DocumentId,
    headers: &axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    let found = session
        .view
        .requests
        .iter()
        .flat_map(|r| &r.documents)
        .find(|d| d.id == document)
        .ok_or_else(|| ApiError::NotFound(format!("you have no document {document}")))?;
    crate::downloads::send(state, found, headers).await
}

/// Form answers as plain JSON values, keyed by field name: `{"tax_number": "123", "private_health": true}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct FormAnswers {
    pub answers: serde_json::Map<String, serde_json::Value>,
}

pub async fn submit_form(
    state: &AppState,
    session: &ContactSession,
    context: &RequestContext,
    request_id: lodge_domain::RequestId,
    body: FormAnswers,
) -> Result<crate::staff::invites::Recorded, ApiError> {
    let request = session.request(request_id)?;
    if request.kind != lodge_projections::portal::RequestKind::Form {
        return Err(ApiError::Invalid(format!(
            "\"{}\" asks for files: upload them to /api/portal/requests/{request_id}/documents",
            request.title
        )));
    }
    let answers = typed_answers(&request.fields, body.answers)?;
    limits::check(state, Action::Form, session.who(context)).await?;
    let metadata = context.metadata(session.actor(), &format!("form:{request_id}"));
    let command = InviteCommand::SubmitForm(lodge_domain::invite::SubmitForm {
        request_id,
        contact_id: session.contact_id,
        answers,
    });
    let outcome = commands::execute(state, Some(session.writer()), session.invite_id, command, &metadata).await?;
    Ok(crate::staff::invites::Recorded {
        position: outcome.position.map(|p| p.0),
    })
}

/// Reads each answer as its field's type says; the domain then checks required fields and choices.
fn typed_answers(
    fields: &[lodge_domain::request::FormField],
    values: serde_json::Map<String, serde_json::Value>,
) -> Result<lodge_domain::request::Answers, ApiError> {
    use lodge_domain::request::{Answer, FieldType};
    use serde_json::Value;
    let mut answers = lodge_domain::request::Answers::new();
    for (name, value) in values {
        let field = fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| ApiError::Invalid(format!("this form has no field `{name}`")))?;
        let wrong = |expected: &str| ApiError::Invalid(format!("`{}` ({name}) takes {expected}", field.label));
        let answer = match (field.field_type, value) {
            (_, Value::Null) => continue,
            (FieldType::Text, Value::String(text)) => Answer::Text(text),
            (FieldType::Number, Value::Number(number)) => Answer::Number(number.to_string()),
            (FieldType::Number, Value::String(digits)) => Answer::Number(digits),
            (FieldType::Date, Value::String(date)) => {
                Answer::Date(date.parse().map_err(|_| wrong("a date such as 2026-07-01"))?)
            }
            (FieldType::YesNo, Value::Bool(yes)) => Answer::YesNo(yes),
            (FieldType::Choice, Value::String(choice)) => Answer::Choice(choice),
            (FieldType::Text | FieldType::Choice, _) => return Err(wrong("text")),
            (FieldType::Number, _) => return Err(wrong("a number")),
            (FieldType::Date, _) => return Err(wrong("a date such as 2026-07-01")),
            (FieldType::YesNo, _) => return Err(wrong("true or false")),
        };
        answers.insert(name, answer);
    }
    Ok(answers)
}
