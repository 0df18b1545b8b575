//! Sending an invite: what staff send, and what they get back (each contact's link, once).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use lodge_domain::contact::{Channel, ContactDetails};
use lodge_domain::digest::PasswordHash;
use lodge_domain::invite::{ChangeReminders, InviteCommand, SendInvite};
use lodge_domain::reminder::ReminderPlan;
use lodge_domain::request::{Assignment, FormField, RequestKind, RequestSpec};
use lodge_domain::{Actor, ContactId, InviteId, RequestId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::new_ids::{NewIds, portal_url};
use crate::commands;
use crate::error::ApiError;
use crate::extract::RequestContext;
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

#[derive(Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentInvite {
    pub id: InviteId,
    pub contacts: Vec<SentContact>,
    pub requests: Vec<SentRequest>,
    pub position: i64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentContact {
    pub id: ContactId,
    pub name: String,
    /// The contact's own portal link. It is shown here once: Lodge keeps only its hash.
    pub portal_url: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentRequest {
    pub id: RequestId,
    pub title: String,
}

/// A request as the domain takes it; `assignment` resolves `contact_ids`.
pub(super) fn request_spec(
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

/// Who a request is for: every contact when `contact_ids` is left out, else those it names. When
/// sending, `known` holds the new invite's contacts and a name must be one of them; on a sent
/// invite, the domain checks the names.
pub(super) fn assignment(
    contact_ids: Option<BTreeSet<Uuid>>,
    known: Option<&BTreeMap<Uuid, ContactId>>,
) -> Result<Assignment, ApiError> {
    let ids = match contact_ids {
        None => return Ok(Assignment::AllContacts),
        Some(ids) if ids.is_empty() => {
            return Err(ApiError::Invalid(
                "contact_ids is empty: leave it out to assign the request to every contact".into(),
            ));
        }
        Some(ids) => ids,
    };
    let Some(known) = known else {
        return Ok(Assignment::Contacts(
            ids.into_iter().map(ContactId::from_uuid).collect(),
        ));
    };
    ids.into_iter()
        .map(|id| {
            known.get(&id).copied().ok_or_else(|| {
                ApiError::Invalid(format!(
                    "contact_ids names {id}, which is not one of this invite's contacts"
                ))
            })
        })
        .collect::<Result<_, _>>()
        .map(Assignment::Contacts)
}

/// SendInvite: new ids for the invite, its contacts and requests; a new portal link per contact.
pub async fn send(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    body: NewInvite,
) -> Result<SentInvite, ApiError> {
    let firm = state.firm.get();
    let sender = tokens::sender(staff, firm.email.as_deref(), firm.phone.as_deref())?;
    let metadata = context.metadata(Actor::from(&staff.as_domain()), "send-invite");
    let ids = NewIds::new(state, context, metadata.command_id);
    let invite_id = InviteId::from_uuid(ids.id("invite", 0));
    let (contacts, links) = new_contacts(&ids, body.contacts);
    let known: BTreeMap<Uuid, ContactId> = contacts.iter().map(|c| (c.id.as_uuid(), c.id)).collect();
    let requests = body
        .requests
        .into_iter()
        .enumerate()
        .map(|(index, request)| {
            request_spec(request, ids.id("request", index), &|names| {
                assignment(names, Some(&known))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let command = SendInvite {
        invite_id,
        title: body.title,
        message: body.message,
        sender,
        channels: body.channels,
        contacts,
        requests,
        due_on: body.due_date,
        portal_password: portal_password(body.portal_password, &ids).await?,
        today: state.firm.today(),
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
                portal_url: portal_url(state, &token),
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

/// The invite's contacts, each with a new portal link; and the links' tokens, in the same order.
fn new_contacts(ids: &NewIds<'_>, contacts: Vec<NewContact>) -> (Vec<ContactDetails>, Vec<String>) {
    contacts
        .into_iter()
        .enumerate()
        .map(|(index, contact)| {
            let (token, portal_link) = ids.link(index);
            let details = ContactDetails {
                id: ContactId::from_uuid(contact.id.unwrap_or_else(|| ids.id("contact", index))),
                name: contact.name,
                email: contact.email,
                phone: contact.phone,
                portal_link,
            };
            (details, token)
        })
        .unzip()
}

/// The portal password's hash, if the invite has one.
async fn portal_password(password: Option<String>, ids: &NewIds<'_>) -> Result<Option<PasswordHash>, ApiError> {
    match password {
        None => Ok(None),
        Some(password) if password.chars().count() < 8 || password.len() > 1024 => Err(ApiError::Invalid(
            "a portal password needs 8 to 1,024 characters".into(),
        )),
        Some(password) => Ok(Some(secrets::hash_password(password, ids.salt()).await?)),
    }
}
