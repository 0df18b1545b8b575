//! An invite's page: its state at a glance, the documents waiting for review (previewed, accepted or
//! rejected with a reason), the requests × contacts grid, and each contact's progress, documents and
//! message thread with a reply box. Every change is a form posting to one use case of
//! `staff::invites`, then back to the page, which shows the member's own write at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use lodge_domain::team::Role;
use lodge_domain::{ContactId, DocumentId, InviteId, RequestId};
use lodge_projections::portal::{DocumentStatus, PortalDocument, PortalMessage, RequestStatus};
use lodge_projections::staff::StaffInviteView;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::dashboard::due_words;
use super::{html, page};
use crate::console::ConsoleMember;
use crate::error::ApiError;
use crate::extract::{FormBody, PathParams, QueryParams, ReadAfter, RequestContext};
use crate::pages::templates::serialized;
use crate::staff::invites::{self, Cancel, Decision, Review, StaffMessage};
use crate::staff::view_links;
use crate::state::AppState;

/// Image types a browser shows by itself, never running anything: the only ones previewed.
pub(super) const PREVIEWED_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

pub(super) fn invite_path(invite: InviteId) -> String {
    format!("/staff/invites/{invite}")
}

/// A document waiting for review, with whose it is and for which request.
#[derive(Serialize)]
struct Waiting<'a> {
    #[serde(flatten)]
    document: &'a PortalDocument,
    contact: &'a str,
    request: &'a str,
    previewed: bool,
}

/// One contact's part of the page: their progress (from the staff view), their documents, and their
/// thread.
#[derive(Serialize)]
struct ContactPart<'a> {
    #[serde(flatten)]
    progress: &'a lodge_projections::staff::ContactProgress,
    documents: Vec<TheirDocument<'a>>,
    messages: Vec<PortalMessage>,
}

#[derive(Serialize)]
struct TheirDocument<'a> {
    #[serde(flatten)]
    document: &'a PortalDocument,
    request: &'a str,
}

/// A row of the requests × contacts grid: each contact's state of the request, or none where it is
/// not theirs.
#[derive(Serialize)]
struct GridRow {
    id: RequestId,
    title: String,
    cells: Vec<Option<RequestStatus>>,
}

fn grid(view: &StaffInviteView) -> Vec<GridRow> {
    let mut rows: Vec<GridRow> = Vec::new();
    for (column, contact) in view.contacts.iter().enumerate() {
        for request in &contact.requests {
            let at = match rows.iter().position(|row| row.id == request.id) {
                Some(at) => at,
                None => {
                    rows.push(GridRow {
                        id: request.id,
                        title: request.title.clone(),
                        cells: vec![None; view.contacts.len()],
                    });
                    rows.len() - 1
                }
            };
            rows[at].cells[column] = Some(request.status);
        }
    }
    rows
}

fn waiting(view: &StaffInviteView) -> Vec<Waiting<'_>> {
    let mut waiting: Vec<Waiting<'_>> = view
        .contacts
        .iter()
        .flat_map(|contact| {
            contact.requests.iter().flat_map(move |request| {
                request
                    .documents
                    .iter()
                    .filter(|d| d.status == DocumentStatus::WaitingForReview)
                    .map(move |document| Waiting {
                        document,
                        contact: &contact.name,
                        request: &request.title,
                        previewed: PREVIEWED_TYPES.contains(&document.content_type.as_str()),
                    })
            })
        })
        .collect();
    waiting.sort_by_key(|w| w.document.uploaded_at);
    waiting
}

pub(super) async fn invite(
    State(state): State<AppState>,
    member: ConsoleMember,
    PathParams(id): PathParams<InviteId>,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Response, ApiError> {
    let writer = member.staff.writer();
    // `?after=`: a live page fetching itself once a change it was told of is in the read models.
    let after = read.position()?;
    let view = invites::get(&state, &writer, id, after).await?;
    let mut contacts = Vec::with_capacity(view.contacts.len());
    for contact in &view.contacts {
        let portal = invites::portal(&state, Some(&writer), id, contact.id, after).await?;
        let documents = contact
            .requests
            .iter()
            .flat_map(|request| {
                request.documents.iter().map(|document| TheirDocument {
                    document,
                    request: &request.title,
                })
            })
            .collect();
        contacts.push(ContactPart {
            progress: contact,
            documents,
            messages: portal.messages,
        });
    }
    let today = state.firm.today();
    let values = context! {
        page_title => &view.title,
        invite => serialized(&view),
        due_words => due_words(&state, view.due_on, today),
        overdue => view.due_on.is_some_and(|due| due < today),
        waiting => serialized(&waiting(&view)),
        grid => serialized(&grid(&view)),
        contacts => serialized(&contacts),
        can_change => member.staff.role.includes(Role::Staff),
        live => format!("/staff/live?invite={id}"),
        ..page(&state, "invite_heading", Some(&member), "invites")
    };
    Ok(html(StatusCode::OK, state.pages.render("console/invite.html", values)?))
}

#[derive(Deserialize)]
pub(super) struct ReviewForm {
    decision: Decision,
    #[serde(default)]
    reason: String,
    /// `queue` when posted from the review queue, which the answer goes back to.
    #[serde(default)]
    back: Option<String>,
}

pub(super) async fn review(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams((invite, document)): PathParams<(InviteId, DocumentId)>,
    FormBody(form): FormBody<ReviewForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let reason = match form.decision {
        Decision::Accept => None,
        Decision::Reject => Some(form.reason),
    };
    let back = match form.back.as_deref() {
        Some("queue") => "/staff/review".to_owned(),
        _ => format!("{}#review", invite_path(invite)),
    };
    let body = Review {
        decision: form.decision,
        reason,
    };
    invites::review(&state, &member.staff, &context, invite, document, body).await?;
    Ok(Redirect::to(&back).into_response())
}

#[derive(Deserialize)]
pub(super) struct MessageForm {
    contact_id: ContactId,
    body: String,
}

pub(super) async fn post_message(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams(invite): PathParams<InviteId>,
    FormBody(form): FormBody<MessageForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let message = StaffMessage {
        contact_id: form.contact_id,
        body: form.body,
    };
    invites::post_message(&state, &member.staff, &context, invite, message).await?;
    Ok(Redirect::to(&format!("{}#contact-{}", invite_path(invite), form.contact_id)).into_response())
}

#[derive(Deserialize)]
pub(super) struct CancelForm {
    #[serde(default)]
    reason: String,
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    member: ConsoleMember,
    context: RequestContext,
    PathParams(invite): PathParams<InviteId>,
    FormBody(form): FormBody<CancelForm>,
) -> Result<Response, ApiError> {
    member.needs(Role::Staff)?;
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    invites::cancel(&state, &member.staff, &context, invite, Cancel { reason }).await?;
    Ok(Redirect::to(&invite_path(invite)).into_response())
}

/// "View as contact": a read-only view link for this member, opened at once.
pub(super) async fn view_as_contact(
    State(state): State<AppState>,
    member: ConsoleMember,
    PathParams((invite, contact)): PathParams<(InviteId, ContactId)>,
) -> Result<Response, ApiError> {
    let link = view_links::issue(&state, &member.staff, invite, contact).await?;
    Ok(Redirect::to(&link.url).into_response())
}
