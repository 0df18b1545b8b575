//! What staff do with invites: send them, read them, write to contacts, review documents, cancel.
//! Each function is one use case; the routes only extract and map.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use lodge_domain::contact::{Channel, ContactDetails};
use lodge_domain::invite::{
    AddContact, AddRequest, CancelInvite, ChangeDueDate, ChangeReminders, InviteCommand, MessageFrom, PostMessage,
    ReissuePortalLink, ReviewDecision, ReviewDocument, SendInvite,
};
use lodge_domain::reminder::ReminderPlan;
use lodge_domain::request::{Assignment, FormField, RequestKind, RequestSpec};
use lodge_domain::{Actor, ContactId, DocumentId, InviteId, MessageId, RequestId};
use lodge_eventlog::Position;
use lodge_projections::portal::PortalProjection;
use lodge_projections::staff::{self, InviteQuery, InviteSummary, StaffInviteView, StaffProjection};
use lodge_projections::{Projection, portal};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::commands;
use crate::error::ApiError;
use crate::extract::{RequestContext, after_position};
use crate::own_writes::Writer;
use crate::portal::view::PortalResponse;
use crate::secrets;
use crate::staff::tokens::{self, StaffMember};
use crate::state::AppState;

/// Requests a file request may take when the body does not say: enough for a year of statements.
const DEFAULT_MAX_FILES: u32 = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct NewInvite {
    pub title: String,
    pub message: Option<String>,
    /// `YYYY-MM-DD`, in the firm's time zone.
    pub due_date: Option<NaiveDate>,
    pub channels: BTreeSet<Channel>,
    pub portal_password: Option<String>,
    pub contacts: Vec<NewContact>,
    pub requests: Vec<NewRequest>,
    /// When contacts who still owe something are reminded; left out: as the firm's default.
    pub reminders: Option<ReminderPlan>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct NewContact {
    /// Chosen by the client when requests name their contacts (`contact_ids`); otherwise Lodge picks.
    pub id: Option<Uuid>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub enum NewRequest {
    File {
        title: String,
        description: Option<String>,
        #[serde(default)]
        allowed_types: Vec<String>,
        max_files: Option<u32>,
        contact_ids: Option<BTreeSet<Uuid>>,
    },
    Form {
        title: String,
        description: Option<String>,
        fields: Vec<FormField>,
        contact_ids: Option<BTreeSet<Uuid>>,
    },
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentInvite {
    pub id: InviteId,
    pub contacts: Vec<SentContact>,
    pub requests: Vec<SentRequest>,
    pub position: i64,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentContact {
    pub id: ContactId,
    pub name: String,
    /// The contact's own portal link. It is shown here once: Lodge keeps only its hash.
    pub portal_url: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentRequest {
    pub id: RequestId,
    pub title: String,
}

/// What a command that changed an invite reached: read with `?after=` to see it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recorded {
    pub position: Option<i64>,
}

/// A request as the domain takes it; `assignment` resolves `contact_ids`.
fn request_spec(
    request: NewRequest,
    id: Uuid,
    assignment: &dyn Fn(Option<BTreeSet<Uuid>>) -> Result<Assignment, ApiError>,
) -> Result<RequestSpec, ApiError> {
    let id = RequestId::from_uuid(id);
    Ok(match request {
        NewRequest::File {
            title,
            description,
            allowed_types,
            max_files,
            contact_ids,
        } => RequestSpec {
            id,
            title,
            description,
            kind: RequestKind::File {
                allowed_types,
                max_files: max_files.unwrap_or(DEFAULT_MAX_FILES),
            },
            assigned_to: assignment(contact_ids)?,
        },
        NewRequest::Form {
            title,
            description,
            fields,
            contact_ids,
        } => RequestSpec {
            id,
            title,
            description,
            kind: RequestKind::Form { fields },
            assigned_to: assignment(contact_ids)?,
        },
    })
}

/// SendInvite: new ids for the invite, its contacts and requests; a new portal link per contact.
pub async fn send(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    body: NewInvite,
) -> Result<SentInvite, ApiError> {
    let firm = &state.settings.firm;
    let sender = tokens::sender(staff, firm.email.as_deref(), firm.phone.as_deref())?;
    let metadata = context.metadata(Actor::from(&staff.as_domain()), "send-invite");
    let ids = NewIds::new(state, context, metadata.command_id);
    let invite_id = InviteId::from_uuid(ids.id("invite", 0));

    let mut links = Vec::new();
    let mut contacts = Vec::new();
    let mut known = BTreeMap::new();
    for (index, contact) in body.contacts.into_iter().enumerate() {
        let id = ContactId::from_uuid(contact.id.unwrap_or_else(|| ids.id("contact", index)));
        let (token, portal_link) = ids.link(index);
        known.insert(id.as_uuid(), id);
        links.push(token);
        contacts.push(ContactDetails {
            id,
            name: contact.name,
            email: contact.email,
            phone: contact.phone,
            portal_link,
        });
    }
    let assignment = |ids: Option<BTreeSet<Uuid>>| -> Result<Assignment, ApiError> {
        match ids {
            None => Ok(Assignment::AllContacts),
            Some(ids) if ids.is_empty() => Err(ApiError::Invalid(
                "contact_ids is empty: leave it out to assign a request to every contact".into(),
            )),
            Some(ids) => ids
                .into_iter()
                .map(|id| {
                    known.get(&id).copied().ok_or_else(|| {
                        ApiError::Invalid(format!(
                            "contact_ids names {id}, which is not one of this invite's contacts"
                        ))
                    })
                })
                .collect::<Result<_, _>>()
                .map(Assignment::Contacts),
        }
    };
    let requests = body
        .requests
        .into_iter()
        .enumerate()
        .map(|(index, request)| request_spec(request, ids.id("request", index), &assignment))
        .collect::<Result<Vec<_>, _>>()?;
    let portal_password = match body.portal_password {
        None => None,
        Some(password) if password.chars().count() < 8 || password.len() > 1024 => {
            return Err(ApiError::Invalid(
                "a portal password needs 8 to 1,024 characters".into(),
            ));
        }
        Some(password) => Some(secrets::hash_password(password, ids.salt()).await?),
    };
    let command = SendInvite {
        invite_id,
        title: body.title,
        message: body.message,
        sender,
        channels: body.channels,
        contacts,
        requests,
        due_on: body.due_date,
        portal_password,
        today: state.settings.today(),
    };
    let mut decided = vec![InviteCommand::SendInvite(command.clone())];
    if let Some(reminders) = body.reminders {
        decided.push(InviteCommand::ChangeReminders(ChangeReminders {
            reminders: Some(reminders),
            by: staff.as_domain(),
        }));
    }
    // A retry under the same Idempotency-Key decides the same ids and links, so it appends nothing
    // and answers as the first request did.
    let outcome = commands::execute_all(state, Some(staff.writer()), invite_id, &decided, &metadata).await?;
    Ok(SentInvite {
        id: invite_id,
        contacts: command
            .contacts
            .iter()
            .zip(links)
            .map(|(contact, token)| SentContact {
                id: contact.id,
                name: contact.name.clone(),
                portal_url: format!("{}/p/{token}", state.settings.public_url),
            })
            .collect(),
        requests: command
            .requests
            .iter()
            .map(|r| SentRequest {
                id: r.id,
                title: r.title.clone(),
            })
            .collect(),
        position: outcome.position.map_or(0, |p| p.0),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub status: Option<lodge_projections::portal::InviteStatus>,
    #[serde(default)]
    pub overdue: bool,
    pub contact: Option<String>,
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    pub after: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteList {
    pub invites: Vec<InviteSummary>,
    pub limit: u32,
    pub offset: u32,
}

pub async fn list(state: &AppState, reader: &Writer, query: ListQuery) -> Result<InviteList, ApiError> {
    state
        .wait_for(StaffProjection::NAME, after_position(query.after)?, Some(reader))
        .await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Invalid("limit must be between 1 and 500".into()));
    }
    let offset = query.offset.unwrap_or(0);
    let invites = staff::list(
        &state.store,
        &InviteQuery {
            status: query.status,
            overdue: query.overdue,
            today: state.settings.today(),
            contact: query.contact.filter(|c| !c.trim().is_empty()),
            text: query.q.filter(|q| !q.trim().is_empty()),
            limit,
            offset,
        },
    )
    .await?;
    Ok(InviteList { invites, limit, offset })
}

fn no_invite(id: InviteId) -> ApiError {
    ApiError::NotFound(format!("there is no invite {id}"))
}

pub async fn get(
    state: &AppState,
    reader: &Writer,
    id: InviteId,
    after: Option<Position>,
) -> Result<StaffInviteView, ApiError> {
    state.wait_for(StaffProjection::NAME, after, Some(reader)).await?;
    staff::invite(&state.store, id).await?.ok_or_else(|| no_invite(id))
}

/// Exactly what the contact sees on their portal.
pub async fn portal(
    state: &AppState,
    reader: Option<&Writer>,
    invite: InviteId,
    contact: ContactId,
    after: Option<Position>,
) -> Result<PortalResponse, ApiError> {
    state.wait_for(PortalProjection::NAME, after, reader).await?;
    let view = portal::portal_view(&state.store, invite, contact)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("invite {invite} has no contact {contact}")))?;
    Ok(PortalResponse::new(&view, &state.settings))
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

fn portal_url(state: &AppState, token: &str) -> String {
    format!("{}/p/{token}", state.settings.public_url)
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
    // contact_ids name contacts the invite already has; the domain checks they exist.
    let assignment = |ids: Option<BTreeSet<Uuid>>| -> Result<Assignment, ApiError> {
        match ids {
            None => Ok(Assignment::AllContacts),
            Some(ids) if ids.is_empty() => Err(ApiError::Invalid(
                "contact_ids is empty: leave it out to assign the request to every contact".into(),
            )),
            Some(ids) => Ok(Assignment::Contacts(
                ids.into_iter().map(ContactId::from_uuid).collect(),
            )),
        }
    };
    let metadata = context.metadata(Actor::from(&staff.as_domain()), &format!("add-request:{invite}"));
    let ids = NewIds::new(state, context, metadata.command_id);
    let command = AddRequest {
        request: request_spec(body, ids.id("request", 0), &assignment)?,
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
            today: state.settings.today(),
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

/// Ids and portal links for what a command creates. Links are always derived from the command id
/// under the server's secret (docs/decisions/0011). Ids are fresh UUIDv7s, unless the request carries
/// an Idempotency-Key: then they are derived from the command id too, so that a retry decides
/// exactly what the first request did and answers with the same ids.
struct NewIds<'a> {
    state: &'a AppState,
    command_id: Uuid,
    idempotent: bool,
}

impl<'a> NewIds<'a> {
    fn new(state: &'a AppState, context: &RequestContext, command_id: Uuid) -> Self {
        Self {
            state,
            command_id,
            idempotent: context.idempotency_key.is_some(),
        }
    }

    fn id(&self, kind: &str, index: usize) -> Uuid {
        if self.idempotent {
            Uuid::new_v5(&self.command_id, format!("{kind}:{index}").as_bytes())
        } else {
            Uuid::now_v7()
        }
    }

    fn salt(&self) -> Option<[u8; 16]> {
        self.idempotent.then(|| {
            let (derived, _) =
                secrets::derived_token(&self.state.settings.secret_key, "password-salt", self.command_id, 0);
            let bytes = hex::decode(&derived[..32]).expect("a derived token is hex");
            bytes.try_into().expect("16 bytes")
        })
    }

    fn link(&self, index: usize) -> (String, lodge_domain::digest::TokenHash) {
        secrets::portal_link_token(&self.state.settings.secret_key, self.command_id, index)
    }
}
