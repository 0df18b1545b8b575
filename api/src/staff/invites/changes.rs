//! What staff do to an invite once it is sent: write to a contact, review a document, cancel, add
//! a contact or a request, change the due date or reminders, reissue a link.

use chrono::NaiveDate;
use lodge_domain::contact::ContactDetails;
use lodge_domain::invite::{
    AddContact, AddRequest, CancelInvite, ChangeDueDate, ChangeReminders, InviteCommand, MessageFrom, PostMessage,
    ReissuePortalLink, ReviewDecision, ReviewDocument,
};
use lodge_domain::reminder::ReminderPlan;
use lodge_domain::{Actor, ContactId, DocumentId, InviteId, MessageId, RequestId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::new_ids::{NewIds, portal_url};
use super::send::{NewContact, NewRequest, assignment, request_spec};
use crate::commands;
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::staff::tokens::StaffMember;
use crate::state::AppState;

/// What a command that changed an invite reached: read with `?after=` to see it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recorded {
    pub position: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct StaffMessage {
    pub contact_id: ContactId,
    pub body: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostedMessage {
    pub id: MessageId,
    pub position: Option<i64>,
}

pub async fn post_message(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    invite: InviteId,
    body: StaffMessage,
) -> Result<PostedMessage, ApiError> {
    let metadata = context.metadata(Actor::from(&staff.as_domain()), &format!("message:{invite}"));
    // A retried request must decide the same message: its id comes from the command id.
    let message_id = MessageId::from_uuid(Uuid::new_v5(&metadata.command_id, b"message"));
    let command = InviteCommand::PostMessage(PostMessage {
        message_id,
        contact_id: body.contact_id,
        from: MessageFrom::Staff(staff.as_domain()),
        body: body.body,
    });
    let outcome = commands::execute(state, Some(staff.writer()), invite, command, &metadata).await?;
    Ok(PostedMessage {
        id: message_id,
        position: outcome.position.map(|p| p.0),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Decision {
    Accept,
    Reject,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct Review {
    pub decision: Decision,
    pub reason: Option<String>,
}

pub async fn review(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    invite: InviteId,
    document: DocumentId,
    body: Review,
) -> Result<Recorded, ApiError> {
    let decision = match (body.decision, body.reason) {
        (Decision::Accept, None) => ReviewDecision::Accept,
        (Decision::Accept, Some(_)) => {
            return Err(ApiError::Invalid(
                "an acceptance takes no reason; leave `reason` out".into(),
            ));
        }
        (Decision::Reject, reason) => ReviewDecision::Reject {
            reason: reason.unwrap_or_default(),
        },
    };
    let metadata = context.metadata(Actor::from(&staff.as_domain()), &format!("review:{document}"));
    let command = InviteCommand::ReviewDocument(ReviewDocument {
        document_id: document,
        decision,
        reviewer: staff.as_domain(),
    });
    let outcome = commands::execute(state, Some(staff.writer()), invite, command, &metadata).await?;
    Ok(Recorded {
        position: outcome.position.map(|p| p.0),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct Cancel {
    pub reason: Option<String>,
}

pub async fn cancel(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    invite: InviteId,
    body: Cancel,
) -> Result<Recorded, ApiError> {
    let metadata = context.metadata(Actor::from(&staff.as_domain()), &format!("cancel:{invite}"));
    let command = InviteCommand::CancelInvite(CancelInvite {
        reason: body.reason,
        by: staff.as_domain(),
    });
    let outcome = commands::execute(state, Some(staff.writer()), invite, command, &metadata).await?;
    Ok(Recorded {
        position: outcome.position.map(|p| p.0),
    })
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddedContact {
    pub id: ContactId,
    pub name: String,
    pub portal_url: String,
    pub position: Option<i64>,
}

/// AddContact: a new contact with a portal link of their own; requests for every contact are theirs too.
pub async fn add_contact(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    invite: InviteId,
    body: NewContact,
) -> Result<AddedContact, ApiError> {
    let metadata = context.metadata(Actor::from(&staff.as_domain()), &format!("add-contact:{invite}"));
    let ids = NewIds::new(state, context, metadata.command_id);
    let id = ContactId::from_uuid(body.id.unwrap_or_else(|| ids.id("contact", 0)));
    let (token, portal_link) = ids.link(0);
    let contact = ContactDetails {
        id,
        name: body.name,
        email: body.email,
        phone: body.phone,
        portal_link,
    };
    let command = InviteCommand::AddContact(AddContact {
        contact: contact.clone(),
        by: staff.as_domain(),
    });
    let outcome = commands::execute(state, Some(staff.writer()), invite, command, &metadata).await?;
    Ok(AddedContact {
        id,
        name: contact.name,
        portal_url: portal_url(state, &token),
        position: outcome.position.map(|p| p.0),
    })
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddedRequest {
    pub id: RequestId,
    pub title: String,
    pub position: Option<i64>,
}

pub async fn add_request(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    invite: InviteId,
    body: NewRequest,
) -> Result<AddedRequest, ApiError> {
    let metadata = context.metadata(Actor::from(&staff.as_domain()), &format!("add-request:{invite}"));
    let ids = NewIds::new(state, context, metadata.command_id);
    let command = AddRequest {
        // contact_ids name contacts the invite already has; the domain checks they exist.
        request: request_spec(body, ids.id("request", 0), &|names| assignment(names, None))?,
        by: staff.as_domain(),
    };
    let outcome = commands::execute(
        state,
        Some(staff.writer()),
        invite,
        InviteCommand::AddRequest(command.clone()),
        &metadata,
    )
    .await?;
    Ok(AddedRequest {
        id: command.request.id,
        title: command.request.title,
        position: outcome.position.map(|p| p.0),
    })
}

/// `PATCH /api/invites/{id}`: `due_date` set to a date, or to null to remove it; `reminders` set to
/// a plan, or to null to follow the firm's default again.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct InviteChanges {
    #[serde(default, deserialize_with = "present")]
    pub due_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "present")]
    pub reminders: Option<Option<ReminderPlan>>,
    pub title: Option<String>,
}

/// Tells a field sent as null (Some(None)) from a field left out (None).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

pub async fn change(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    invite: InviteId,
    body: InviteChanges,
) -> Result<Recorded, ApiError> {
    if body.title.is_some() {
        return Err(ApiError::Invalid(
            "an invite's title stays as its contacts first saw it; send a message to explain a change".into(),
        ));
    }
    let mut decided = Vec::new();
    if let Some(due_on) = body.due_date {
        decided.push(InviteCommand::ChangeDueDate(ChangeDueDate {
            due_on,
            today: state.firm.today(),
            by: staff.as_domain(),
        }));
    }
    if let Some(reminders) = body.reminders {
        decided.push(InviteCommand::ChangeReminders(ChangeReminders {
            reminders,
            by: staff.as_domain(),
        }));
    }
    if decided.is_empty() {
        return Err(ApiError::Invalid(
            "nothing to change: send `due_date` (a date, or null to remove it) or `reminders` (a plan, or null for the firm's default)".into(),
        ));
    }
    let metadata = context.metadata(Actor::from(&staff.as_domain()), &format!("change:{invite}"));
    // Both changes are recorded together, or neither.
    let outcome = commands::execute_all(state, Some(staff.writer()), invite, &decided, &metadata).await?;
    Ok(Recorded {
        position: outcome.position.map(|p| p.0),
    })
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReissuedLink {
    pub portal_url: String,
    pub position: Option<i64>,
}

/// Revokes a contact's portal link (and so their sessions) and issues a new one.
pub async fn reissue_link(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    invite: InviteId,
    contact: ContactId,
) -> Result<ReissuedLink, ApiError> {
    let metadata = context.metadata(Actor::from(&staff.as_domain()), &format!("reissue:{contact}"));
    let (token, portal_link) = NewIds::new(state, context, metadata.command_id).link(0);
    let command = InviteCommand::ReissuePortalLink(ReissuePortalLink {
        contact_id: contact,
        portal_link,
        by: staff.as_domain(),
    });
    let outcome = commands::execute(state, Some(staff.writer()), invite, command, &metadata).await?;
    Ok(ReissuedLink {
        portal_url: portal_url(state, &token),
        position: outcome.position.map(|p| p.0),
    })
}
