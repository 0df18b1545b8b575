//! Builders for tests in every crate: readable ids, a valid invite, commands, and given/when helpers.
//! Compiled only with the `testing` feature.

pub mod random;
pub mod team;

use std::collections::{BTreeMap, BTreeSet};

use crate::contact::{Channel, ContactDetails};
use crate::digest::{PasswordHash, TokenHash};
use crate::invite::*;
use crate::request::{Answer, Assignment, FieldType, FormField, RequestKind, RequestSpec};
use crate::{ContactId, Decider, DocumentId, InviteId, MessageId, RequestId, Sender, StaffId, StaffMember};
use chrono::NaiveDate;
use uuid::Uuid;

pub fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub const INVITE: InviteId = InviteId::from_uuid(Uuid::from_u128(0x1000));
pub const ANA: ContactId = ContactId::from_uuid(Uuid::from_u128(0x2001));
pub const BEN: ContactId = ContactId::from_uuid(Uuid::from_u128(0x2002));
pub const CARA: ContactId = ContactId::from_uuid(Uuid::from_u128(0x2003));
/// A file request for both Ana and Ben: PDFs or images, at most 2 files.
pub const PAYSLIPS: RequestId = RequestId::from_uuid(Uuid::from_u128(0x3001));
/// A file request for Ana only.
pub const PASSPORT: RequestId = RequestId::from_uuid(Uuid::from_u128(0x3002));
/// A form for both.
pub const DETAILS: RequestId = RequestId::from_uuid(Uuid::from_u128(0x3003));

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

pub fn token(n: u8) -> TokenHash {
    TokenHash::parse(&format!("{n:02x}").repeat(32)).unwrap()
}

pub fn password() -> PasswordHash {
    PasswordHash::parse("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").unwrap()
}

pub fn staff() -> StaffMember {
    StaffMember {
        id: StaffId::from_uuid(uuid(0x9001)),
        name: "Sam Staff".into(),
    }
}

pub fn sender() -> Sender {
    Sender {
        id: StaffId::from_uuid(uuid(0x9001)),
        name: "Sam Staff".into(),
        email: "sam@firm.example".into(),
        phone: Some("+61 2 9999 0000".into()),
    }
}

pub fn contact(id: ContactId, name: &str, email: &str, link: u8) -> ContactDetails {
    ContactDetails {
        id,
        name: name.into(),
        email: Some(email.into()),
        phone: None,
        portal_link: token(link),
    }
}

pub fn file_request(id: RequestId, title: &str, assigned_to: Assignment) -> RequestSpec {
    RequestSpec {
        id,
        title: title.into(),
        description: Some("Scans or photos are fine.".into()),
        kind: RequestKind::File {
            allowed_types: vec!["application/pdf".into(), "image/*".into()],
            max_files: 2,
        },
        assigned_to,
    }
}

pub fn form_request(id: RequestId, assigned_to: Assignment) -> RequestSpec {
    RequestSpec {
        id,
        title: "Your details".into(),
        description: None,
        kind: RequestKind::Form {
            fields: vec![
                FormField {
                    name: "tax_number".into(),
                    label: "Tax file number".into(),
                    field_type: FieldType::Text,
                    required: true,
                    choices: vec![],
                },
                FormField {
                    name: "income".into(),
                    label: "Income".into(),
                    field_type: FieldType::Number,
                    required: false,
                    choices: vec![],
                },
                FormField {
                    name: "born_on".into(),
                    label: "Date of birth".into(),
                    field_type: FieldType::Date,
                    required: false,
                    choices: vec![],
                },
                FormField {
                    name: "resident".into(),
                    label: "Resident".into(),
                    field_type: FieldType::YesNo,
                    required: false,
                    choices: vec![],
                },
                FormField {
                    name: "status".into(),
                    label: "Marital status".into(),
                    field_type: FieldType::Choice,
                    required: false,
                    choices: vec!["single".into(), "married".into()],
                },
            ],
        },
        assigned_to,
    }
}

pub fn only(contacts: &[ContactId]) -> Assignment {
    Assignment::Contacts(contacts.iter().copied().collect())
}

/// Ana and Ben, by email; payslips and the details form for both, a passport for Ana only.
pub fn send_invite() -> SendInvite {
    SendInvite {
        invite_id: INVITE,
        title: "  Tax return 2026  ".into(),
        message: Some("Hello! Please send these by the end of the month.".into()),
        sender: sender(),
        channels: BTreeSet::from([Channel::Email]),
        contacts: vec![
            contact(ANA, "Ana Alves", "ana@example.com", 1),
            contact(BEN, "Ben Brown", "ben@example.com", 2),
        ],
        requests: vec![
            file_request(PAYSLIPS, "Payslips", Assignment::AllContacts),
            file_request(PASSPORT, "Passport", only(&[ANA])),
            form_request(DETAILS, Assignment::AllContacts),
        ],
        due_on: Some(today() + chrono::Days::new(14)),
        portal_password: None,
        today: today(),
    }
}

pub fn when(history: &[InviteEvent], command: InviteCommand) -> Result<Vec<InviteEvent>, InviteError> {
    InviteDecider::decide(&InviteDecider::fold(history), &command)
}

/// Decides `command` after `history` and returns the history with the new events appended. A
/// refusal fails the test at the caller's line, as do [`state`] and [`sent`].
#[track_caller]
pub fn then(history: &[InviteEvent], command: InviteCommand) -> Vec<InviteEvent> {
    let mut events = history.to_vec();
    events.extend(when(history, command).expect("command accepted"));
    events
}

#[track_caller]
pub fn state(history: &[InviteEvent]) -> Invite {
    InviteDecider::fold(history).invite().cloned().expect("invite sent")
}

#[track_caller]
pub fn sent() -> Vec<InviteEvent> {
    then(&[], InviteCommand::SendInvite(send_invite()))
}

pub fn upload(document: u128, request: RequestId, contact: ContactId) -> InviteCommand {
    upload_as(document, request, contact, "application/pdf")
}

pub fn upload_as(document: u128, request: RequestId, contact: ContactId, content_type: &str) -> InviteCommand {
    InviteCommand::UploadDocument(UploadDocument {
        document_id: DocumentId::from_uuid(uuid(document)),
        request_id: request,
        contact_id: contact,
        file_name: format!("file-{document}.pdf"),
        size_bytes: 12_345,
        sha256: "ab".repeat(32),
        content_type: content_type.into(),
        blob_key: format!("sha256/{}", "ab".repeat(32)),
    })
}

pub fn accept(document: u128) -> InviteCommand {
    InviteCommand::ReviewDocument(ReviewDocument {
        document_id: DocumentId::from_uuid(uuid(document)),
        decision: ReviewDecision::Accept,
        reviewer: staff(),
    })
}

pub fn reject(document: u128, reason: &str) -> InviteCommand {
    InviteCommand::ReviewDocument(ReviewDocument {
        document_id: DocumentId::from_uuid(uuid(document)),
        decision: ReviewDecision::Reject { reason: reason.into() },
        reviewer: staff(),
    })
}

pub fn answers(tax_number: &str) -> BTreeMap<String, Answer> {
    BTreeMap::from([("tax_number".to_owned(), Answer::Text(tax_number.into()))])
}

pub fn submit(contact: ContactId, answers: BTreeMap<String, Answer>) -> InviteCommand {
    InviteCommand::SubmitForm(SubmitForm {
        request_id: DETAILS,
        contact_id: contact,
        answers,
    })
}

pub fn message(id: u128, contact: ContactId, from: MessageFrom, body: &str) -> InviteCommand {
    InviteCommand::PostMessage(PostMessage {
        message_id: MessageId::from_uuid(uuid(id)),
        contact_id: contact,
        from,
        body: body.into(),
    })
}

pub fn cancel() -> InviteCommand {
    InviteCommand::CancelInvite(CancelInvite {
        reason: Some("Sent to the wrong client".into()),
        by: staff(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line a helper's failure names, caught as the test runner would report it.
    fn failing_line(helper: impl FnOnce() + std::panic::UnwindSafe) -> u32 {
        let line = std::sync::Arc::new(std::sync::Mutex::new(0));
        let seen = line.clone();
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            *seen.lock().unwrap() = info.location().map_or(0, |location| location.line());
        }));
        let outcome = std::panic::catch_unwind(helper);
        std::panic::set_hook(before);
        assert!(outcome.is_err(), "the helper fails");
        *line.lock().unwrap()
    }

    #[test]
    fn helpers_report_the_callers_line() {
        let history = sent();
        let expected = line!() + 1;
        let reported = failing_line(move || drop(then(&history, InviteCommand::SendInvite(send_invite()))));
        assert_eq!(reported, expected, "then");
        let expected = line!() + 1;
        let reported = failing_line(|| drop(state(&[])));
        assert_eq!(reported, expected, "state");
    }
}
