//! The rules of an Invite: which commands it accepts, in which state, and what they record.

use std::collections::BTreeSet;

use crate::actor::{Actor, Sender};
use crate::contact::{self, Channel, ContactDetails};
use crate::digest::Sha256Hex;
use crate::ids::{ContactId, RequestId};
use crate::limits::{
    MAX_BLOB_KEY_CHARS, MAX_CONTACTS, MAX_DESCRIPTION_CHARS, MAX_FILE_NAME_CHARS, MAX_MESSAGE_CHARS, MAX_NAME_CHARS,
    MAX_REASON_CHARS, MAX_REQUESTS, MAX_TITLE_CHARS, MAX_USER_AGENT_CHARS,
};
use crate::reminder::ReminderPlan;
use crate::request::{self, Assignment, RequestError, RequestKind, RequestSpec};
use crate::text::{self, Lines};

use super::command::*;
use super::error::InviteError;
use super::event::*;
use super::state::{DocumentStatus, Invite, InviteState, InviteStatus, evolve};

pub fn decide(state: &InviteState, command: &InviteCommand) -> Result<Vec<InviteEvent>, InviteError> {
    let invite = match (state.invite(), command) {
        (None, InviteCommand::SendInvite(send)) => return send_invite(send),
        (Some(_), InviteCommand::SendInvite(_)) => return Err(InviteError::AlreadySent),
        (None, _) => return Err(InviteError::NotSent),
        (Some(invite), _) => invite,
    };
    // Messages and records of portal visits stay possible after an invite is closed: contacts and
    // staff may still need to talk, and the audit trail must show every visit.
    match command {
        InviteCommand::PostMessage(c) => return post_message(invite, c),
        InviteCommand::RecordPortalAccess(c) => return record_portal_access(invite, c),
        InviteCommand::RecordNotification(c) => return record_notification(invite, c),
        InviteCommand::RecordStaffDigest(c) => return record_staff_digest(invite, c),
        _ if invite.status != InviteStatus::Open => {
            return Err(InviteError::Closed { status: invite.status });
        }
        _ => {}
    }
    match command {
        InviteCommand::AddContact(c) => add_contact(invite, c),
        InviteCommand::AddRequest(c) => add_request(invite, c),
        InviteCommand::UploadDocument(c) => upload_document(invite, c),
        InviteCommand::SubmitForm(c) => submit_form(state, invite, c),
        InviteCommand::ReviewDocument(c) => review_document(state, invite, c),
        InviteCommand::ChangeDueDate(c) => change_due_date(invite, c),
        InviteCommand::CancelInvite(c) => cancel_invite(c),
        InviteCommand::CompleteInvite(c) => Ok(vec![InviteEvent::InviteCompleted(InviteCompleted {
            completed_by: Some(c.by.clone()),
        })]),
        InviteCommand::ReissuePortalLink(c) => reissue_portal_link(invite, c),
        InviteCommand::ChangeReminders(c) => change_reminders(invite, c),
        InviteCommand::SendInvite(_)
        | InviteCommand::PostMessage(_)
        | InviteCommand::RecordPortalAccess(_)
        | InviteCommand::RecordNotification(_)
        | InviteCommand::RecordStaffDigest(_) => {
            unreachable!("handled above")
        }
    }
}

fn send_invite(c: &SendInvite) -> Result<Vec<InviteEvent>, InviteError> {
    let title = text::required("the title", &c.title, MAX_TITLE_CHARS, Lines::One)?;
    let message = text::optional_input("the message", c.message.as_deref(), MAX_MESSAGE_CHARS, Lines::Many)?;
    let sender = check_sender(&c.sender)?;
    if c.channels.is_empty() {
        return Err(contact::ContactError::NoChannel.into());
    }
    if c.contacts.is_empty() {
        return Err(InviteError::NoContacts);
    }
    if c.contacts.len() > MAX_CONTACTS {
        return Err(InviteError::TooManyContacts { max: MAX_CONTACTS });
    }
    let mut contacts: Vec<ContactDetails> = Vec::with_capacity(c.contacts.len());
    for raw in &c.contacts {
        let checked = check_contact(raw, &c.channels)?;
        check_not_duplicate(&checked, &contacts)?;
        contacts.push(checked);
    }
    if c.requests.is_empty() {
        return Err(InviteError::NoRequests);
    }
    if c.requests.len() > MAX_REQUESTS {
        return Err(InviteError::TooManyRequests { max: MAX_REQUESTS });
    }
    let mut requests: Vec<RequestSpec> = Vec::with_capacity(c.requests.len());
    for raw in &c.requests {
        if requests.iter().any(|r| r.id == raw.id) {
            return Err(InviteError::DuplicateId(raw.id.as_uuid()));
        }
        requests.push(check_request(raw, &contacts)?);
    }
    if let Some(due_on) = c.due_on
        && due_on < c.today
    {
        return Err(InviteError::DueDateInPast { due_on, today: c.today });
    }
    Ok(vec![InviteEvent::InviteSent(InviteSent {
        invite_id: c.invite_id,
        title,
        message,
        sender,
        channels: c.channels.clone(),
        contacts,
        requests,
        due_on: c.due_on,
        portal_password: c.portal_password.clone(),
    })])
}

fn check_sender(sender: &Sender) -> Result<Sender, InviteError> {
    Ok(Sender {
        id: sender.id,
        name: text::required("the sender's name", &sender.name, MAX_NAME_CHARS, Lines::One)?,
        email: contact::normalise_email(&sender.email)?,
        phone: sender.phone.as_deref().map(contact::normalise_phone).transpose()?,
    })
}

fn check_contact(raw: &ContactDetails, channels: &BTreeSet<Channel>) -> Result<ContactDetails, InviteError> {
    let checked = ContactDetails {
        id: raw.id,
        name: text::required("the contact's name", &raw.name, MAX_NAME_CHARS, Lines::One)?,
        email: non_blank(&raw.email).map(contact::normalise_email).transpose()?,
        phone: non_blank(&raw.phone).map(contact::normalise_phone).transpose()?,
        portal_link: raw.portal_link.clone(),
    };
    contact::check_reachable(&checked, channels)?;
    Ok(checked)
}

/// An optional input where a blank string means "not given", as forms send it.
fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn check_not_duplicate(contact: &ContactDetails, existing: &[ContactDetails]) -> Result<(), InviteError> {
    let duplicate = |same: &'static str| InviteError::DuplicateContact {
        name: contact.name.clone(),
        same,
    };
    for other in existing {
        if other.id == contact.id {
            return Err(InviteError::DuplicateId(contact.id.as_uuid()));
        }
        let same_email = matches!((&contact.email, &other.email), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
        if same_email {
            return Err(duplicate("email address"));
        }
        if contact.phone.is_some() && contact.phone == other.phone {
            return Err(duplicate("phone number"));
        }
        if other.portal_link == contact.portal_link {
            return Err(duplicate("portal link"));
        }
    }
    Ok(())
}

fn check_request(raw: &RequestSpec, contacts: &[ContactDetails]) -> Result<RequestSpec, InviteError> {
    let title = text::required("the request's title", &raw.title, MAX_TITLE_CHARS, Lines::One)?;
    if let Assignment::Contacts(assigned) = &raw.assigned_to {
        if assigned.is_empty() {
            return Err(RequestError::AssignedToNobody { title }.into());
        }
        if let Some(unknown) = assigned.iter().find(|id| !contacts.iter().any(|c| c.id == **id)) {
            return Err(InviteError::UnknownContact(*unknown));
        }
    }
    Ok(RequestSpec {
        id: raw.id,
        title,
        description: text::optional_input(
            "the request's description",
            raw.description.as_deref(),
            MAX_DESCRIPTION_CHARS,
            Lines::Many,
        )?,
        kind: request::check_kind(&raw.kind)?,
        assigned_to: raw.assigned_to.clone(),
    })
}

fn add_contact(invite: &Invite, c: &AddContact) -> Result<Vec<InviteEvent>, InviteError> {
    if invite.contacts.len() >= MAX_CONTACTS {
        return Err(InviteError::TooManyContacts { max: MAX_CONTACTS });
    }
    let contact = check_contact(&c.contact, &invite.channels)?;
    check_not_duplicate(&contact, &invite.contacts)?;
    Ok(vec![InviteEvent::ContactAdded(ContactAdded {
        contact,
        added_by: c.by.clone(),
    })])
}

fn add_request(invite: &Invite, c: &AddRequest) -> Result<Vec<InviteEvent>, InviteError> {
    if invite.requests.len() >= MAX_REQUESTS {
        return Err(InviteError::TooManyRequests { max: MAX_REQUESTS });
    }
    if invite.request(c.request.id).is_some() {
        return Err(InviteError::DuplicateId(c.request.id.as_uuid()));
    }
    Ok(vec![InviteEvent::RequestAdded(RequestAdded {
        request: check_request(&c.request, &invite.contacts)?,
        added_by: c.by.clone(),
    })])
}

/// The request, checked to exist and to be assigned to a contact of the invite.
fn assigned_request(invite: &Invite, request: RequestId, contact: ContactId) -> Result<&RequestSpec, InviteError> {
    invite.contact(contact).ok_or(InviteError::UnknownContact(contact))?;
    let spec = invite.request(request).ok_or(InviteError::UnknownRequest(request))?;
    if !spec.assigned_to.includes(contact) {
        return Err(InviteError::NotAssigned { request, contact });
    }
    Ok(spec)
}

fn upload_document(invite: &Invite, c: &UploadDocument) -> Result<Vec<InviteEvent>, InviteError> {
    let spec = assigned_request(invite, c.request_id, c.contact_id)?;
    let RequestKind::File {
        allowed_types,
        max_files,
    } = &spec.kind
    else {
        return Err(InviteError::NotAFileRequest(c.request_id));
    };
    if invite.document(c.document_id).is_some() {
        return Err(InviteError::DuplicateId(c.document_id.as_uuid()));
    }
    let file_name = text::required("the file name", &c.file_name, MAX_FILE_NAME_CHARS, Lines::One)?;
    if file_name.contains(['/', '\\']) {
        return Err(InviteError::InvalidFileName(file_name));
    }
    if c.size_bytes == 0 {
        return Err(InviteError::EmptyFile(file_name));
    }
    let content_type = request::normalise_mime(&c.content_type)
        .ok_or_else(|| InviteError::InvalidContentType(c.content_type.clone()))?;
    if content_type.ends_with("/*") {
        return Err(InviteError::InvalidContentType(c.content_type.clone()));
    }
    if !request::type_allowed(allowed_types, &content_type) {
        return Err(InviteError::TypeNotAllowed {
            content_type,
            allowed: allowed_types.join(", "),
        });
    }
    let live = invite
        .documents_for(c.request_id, c.contact_id)
        .filter(|d| d.is_live())
        .count();
    if live >= *max_files as usize {
        return Err(InviteError::TooManyFiles {
            request: c.request_id,
            max: *max_files,
        });
    }
    Ok(vec![InviteEvent::DocumentUploaded(DocumentUploaded {
        document_id: c.document_id,
        request_id: c.request_id,
        contact_id: c.contact_id,
        file_name,
        size_bytes: c.size_bytes,
        sha256: Sha256Hex::parse(&c.sha256)?,
        content_type,
        blob_key: text::required("the blob key", &c.blob_key, MAX_BLOB_KEY_CHARS, Lines::One)?,
    })])
}

fn submit_form(state: &InviteState, invite: &Invite, c: &SubmitForm) -> Result<Vec<InviteEvent>, InviteError> {
    let spec = assigned_request(invite, c.request_id, c.contact_id)?;
    let RequestKind::Form { fields } = &spec.kind else {
        return Err(InviteError::NotAFormRequest(c.request_id));
    };
    let submitted = InviteEvent::FormSubmitted(FormSubmitted {
        request_id: c.request_id,
        contact_id: c.contact_id,
        answers: request::check_answers(fields, &c.answers)?,
    });
    Ok(with_completion_if_all_done(state, vec![submitted]))
}

fn review_document(state: &InviteState, invite: &Invite, c: &ReviewDocument) -> Result<Vec<InviteEvent>, InviteError> {
    let document = invite
        .document(c.document_id)
        .ok_or(InviteError::UnknownDocument(c.document_id))?;
    if document.status != DocumentStatus::AwaitingReview {
        return Err(InviteError::NotAwaitingReview {
            document: document.id,
            status: document.status.describe(),
        });
    }
    match &c.decision {
        ReviewDecision::Accept => {
            let accepted = InviteEvent::DocumentAccepted(DocumentAccepted {
                document_id: document.id,
                request_id: document.request_id,
                contact_id: document.contact_id,
                reviewer: c.reviewer.clone(),
            });
            Ok(with_completion_if_all_done(state, vec![accepted]))
        }
        ReviewDecision::Reject { reason } => {
            let reason = text::optional("the reason", reason, MAX_REASON_CHARS, Lines::Many)?
                .ok_or(InviteError::RejectionNeedsReason)?;
            Ok(vec![InviteEvent::DocumentRejected(DocumentRejected {
                document_id: document.id,
                request_id: document.request_id,
                contact_id: document.contact_id,
                reviewer: c.reviewer.clone(),
                reason,
            })])
        }
    }
}

/// Appends InviteCompleted when `events` leave every request done: Lodge completes an invite by itself
/// as soon as nothing more is needed.
fn with_completion_if_all_done(state: &InviteState, mut events: Vec<InviteEvent>) -> Vec<InviteEvent> {
    let after = events.iter().fold(state.clone(), evolve);
    if after.invite().is_some_and(Invite::all_done) {
        events.push(InviteEvent::InviteCompleted(InviteCompleted { completed_by: None }));
    }
    events
}

fn post_message(invite: &Invite, c: &PostMessage) -> Result<Vec<InviteEvent>, InviteError> {
    let contact = invite
        .contact(c.contact_id)
        .ok_or(InviteError::UnknownContact(c.contact_id))?;
    if invite.message_ids.contains(&c.message_id) {
        return Err(InviteError::DuplicateId(c.message_id.as_uuid()));
    }
    let author = match &c.from {
        MessageFrom::Staff(staff) => Actor::from(staff),
        MessageFrom::Contact => Actor::Contact {
            id: contact.id,
            name: contact.name.clone(),
        },
    };
    Ok(vec![InviteEvent::MessagePosted(MessagePosted {
        message_id: c.message_id,
        contact_id: contact.id,
        author,
        body: text::required("the message", &c.body, MAX_MESSAGE_CHARS, Lines::Many)?,
    })])
}

fn change_due_date(invite: &Invite, c: &ChangeDueDate) -> Result<Vec<InviteEvent>, InviteError> {
    if let Some(due_on) = c.due_on
        && due_on < c.today
    {
        return Err(InviteError::DueDateInPast { due_on, today: c.today });
    }
    if c.due_on == invite.due_on {
        return Ok(vec![]);
    }
    Ok(vec![InviteEvent::DueDateChanged(DueDateChanged {
        due_on: c.due_on,
        previous: invite.due_on,
        changed_by: c.by.clone(),
    })])
}

fn change_reminders(invite: &Invite, c: &ChangeReminders) -> Result<Vec<InviteEvent>, InviteError> {
    let reminders = c.reminders.as_ref().map(ReminderPlan::checked).transpose()?;
    if reminders == invite.reminders {
        return Ok(vec![]);
    }
    Ok(vec![InviteEvent::RemindersChanged(RemindersChanged {
        reminders,
        previous: invite.reminders.clone(),
        changed_by: c.by.clone(),
    })])
}

fn cancel_invite(c: &CancelInvite) -> Result<Vec<InviteEvent>, InviteError> {
    Ok(vec![InviteEvent::InviteCancelled(InviteCancelled {
        reason: text::optional_input("the reason", c.reason.as_deref(), MAX_REASON_CHARS, Lines::Many)?,
        cancelled_by: c.by.clone(),
    })])
}

fn reissue_portal_link(invite: &Invite, c: &ReissuePortalLink) -> Result<Vec<InviteEvent>, InviteError> {
    let contact = invite
        .contact(c.contact_id)
        .ok_or(InviteError::UnknownContact(c.contact_id))?;
    if invite.contacts.iter().any(|other| other.portal_link == c.portal_link) {
        return Err(InviteError::DuplicateContact {
            name: contact.name.clone(),
            same: "portal link",
        });
    }
    Ok(vec![InviteEvent::PortalLinkReissued(PortalLinkReissued {
        contact_id: contact.id,
        portal_link: c.portal_link.clone(),
        reissued_by: c.by.clone(),
    })])
}

fn record_portal_access(invite: &Invite, c: &RecordPortalAccess) -> Result<Vec<InviteEvent>, InviteError> {
    invite
        .contact(c.contact_id)
        .ok_or(InviteError::UnknownContact(c.contact_id))?;
    // A visit is a fact to record, never to refuse: an odd user agent is cleaned, not rejected.
    let user_agent = c.user_agent.as_deref().and_then(|ua| {
        let clean: String = ua
            .chars()
            .filter(|ch| !ch.is_control())
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        let clean = clean.trim();
        (!clean.is_empty()).then(|| clean.to_owned())
    });
    Ok(vec![match c.access {
        PortalAccess::Opened => InviteEvent::PortalOpened(PortalOpened {
            contact_id: c.contact_id,
            ip: c.ip,
            user_agent,
        }),
        PortalAccess::PasswordRefused => {
            if invite.portal_password.is_none() {
                return Err(InviteError::NoPortalPassword);
            }
            InviteEvent::PortalPasswordRefused(PortalPasswordRefused {
                contact_id: c.contact_id,
                ip: c.ip,
                user_agent,
            })
        }
    }])
}

/// Most characters kept of a provider's reason or message id: enough to read, not a log dump.
const MAX_NOTIFICATION_TEXT_CHARS: usize = 1_000;

/// A provider's answer as recorded: control characters blanked, cut to a readable length.
fn clean(text: &str) -> String {
    let kept: String = text
        .chars()
        .map(|ch| if ch.is_control() { ' ' } else { ch })
        .take(MAX_NOTIFICATION_TEXT_CHARS)
        .collect();
    kept.trim().to_owned()
}

/// A delivery is a fact to record, never to refuse, once it is about a contact of this invite:
/// an over-long or odd provider answer is cleaned rather than rejected.
fn record_notification(invite: &Invite, c: &RecordNotification) -> Result<Vec<InviteEvent>, InviteError> {
    invite
        .contact(c.contact_id)
        .ok_or(InviteError::UnknownContact(c.contact_id))?;
    let to = clean(&c.to);
    Ok(vec![match &c.outcome {
        NotificationOutcome::Delivered { provider_message_id } => InviteEvent::NotificationSent(NotificationSent {
            contact_id: c.contact_id,
            channel: c.channel,
            kind: c.kind,
            to,
            cause: c.cause,
            provider_message_id: provider_message_id.as_deref().map(clean).filter(|id| !id.is_empty()),
        }),
        NotificationOutcome::Failed { reason, permanent } => InviteEvent::NotificationFailed(NotificationFailed {
            contact_id: c.contact_id,
            channel: c.channel,
            kind: c.kind,
            to,
            cause: c.cause,
            reason: Some(clean(reason))
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "no reason given".to_owned()),
            permanent: *permanent,
        }),
    }])
}

/// Like a notification to a contact, a digest to staff is a fact to record whatever the invite's
/// status; it must tell of something.
fn record_staff_digest(invite: &Invite, c: &RecordStaffDigest) -> Result<Vec<InviteEvent>, InviteError> {
    if c.covers.is_empty() {
        return Err(InviteError::EmptyDigest);
    }
    let (staff_id, to, covers) = (invite.sender.id, clean(&c.to), c.covers.clone());
    Ok(vec![match &c.outcome {
        NotificationOutcome::Delivered { provider_message_id } => InviteEvent::StaffDigestSent(StaffDigestSent {
            staff_id,
            to,
            covers,
            provider_message_id: provider_message_id.as_deref().map(clean).filter(|id| !id.is_empty()),
        }),
        NotificationOutcome::Failed { reason, permanent } => InviteEvent::StaffDigestFailed(StaffDigestFailed {
            staff_id,
            to,
            covers,
            reason: Some(clean(reason))
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "no reason given".to_owned()),
            permanent: *permanent,
        }),
    }])
}
