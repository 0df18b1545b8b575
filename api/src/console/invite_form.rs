//! The New invite page's form: flat browser fields (`contact_name_0`, `request_title_1`,
//! `field_label_1_0`, …) read into rows, rows added without JavaScript (each "Add …" button posts
//! the form back with one more row), and checked field by field before anything is sent, so that
//! each mistake is shown beside its field. What passes becomes the API's own `NewInvite`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use lodge_domain::contact::{Channel, normalise_email, normalise_phone};
use lodge_domain::reminder::ReminderPlan;
use lodge_domain::request::{FieldType, FormField};
use serde::Serialize;

use crate::staff::invites::{NewContact, NewInvite, NewRequest};

/// Rows a new form starts with, and the most it may grow to.
const FIRST_ROWS: usize = 1;
const MOST_ROWS: usize = 50;

/// What a file request accepts, as the page offers it.
pub const FILE_TYPES: [(&str, &[&str]); 5] = [
    ("any", &[]),
    ("pdf", &["application/pdf"]),
    ("images", &["image/*"]),
    ("pdf_images", &["application/pdf", "image/*"]),
    (
        "office",
        &[
            "application/pdf",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ],
    ),
];

/// The form as the staff member filled it in, to show again. No `Debug`: it holds the portal
/// password as typed.
#[derive(Clone, Default, Serialize)]
pub struct InviteForm {
    /// Sent again with the form: a second post of the same form (a refresh, a double click) sends
    /// nothing more and shows the same links.
    pub key: String,
    pub title: String,
    pub message: String,
    pub due_date: String,
    pub email: bool,
    pub sms: bool,
    pub portal_password: String,
    pub reminder_days_before: String,
    pub reminder_overdue_every_days: String,
    pub reminders_at_most: String,
    pub contacts: Vec<ContactRow>,
    pub requests: Vec<RequestRow>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ContactRow {
    pub name: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestRow {
    /// `file` or `form`.
    pub kind: String,
    pub title: String,
    pub description: String,
    /// One of [`FILE_TYPES`].
    pub types: String,
    pub fields: Vec<FieldRow>,
}

impl Default for RequestRow {
    fn default() -> Self {
        Self {
            kind: "file".into(),
            title: String::new(),
            description: String::new(),
            types: "pdf_images".into(),
            fields: vec![FieldRow::default()],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldRow {
    pub label: String,
    /// `text`, `number`, `date`, `yes_no` or `choice`.
    pub field_type: String,
    pub required: bool,
    /// A choice field's options, comma-separated.
    pub choices: String,
}

impl Default for FieldRow {
    fn default() -> Self {
        Self {
            label: String::new(),
            field_type: "text".into(),
            required: true,
            choices: String::new(),
        }
    }
}

/// What the page was asked to do with the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    AddContact,
    AddRequest,
    /// A question more for request N.
    AddField(usize),
    Preview,
    Send,
}

/// Mistakes, each with the name of the field it belongs to (`title`, `contact_email_0`, …), in the
/// form's order: at most one per field.
pub type FieldErrors = Vec<(String, String)>;

impl InviteForm {
    /// A new form: one empty contact and one file request, by email.
    pub fn new(key: String) -> Self {
        Self {
            key,
            email: true,
            contacts: vec![ContactRow::default(); FIRST_ROWS],
            requests: vec![RequestRow::default(); FIRST_ROWS],
            ..Default::default()
        }
    }

    /// Reads the browser's fields; what is missing is empty, what is unknown is ignored.
    pub fn read(fields: &[(String, String)]) -> (Self, Action) {
        let values: BTreeMap<&str, &str> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let text = |name: &str| values.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
        let count = |name: &str| text(name).parse::<usize>().unwrap_or(FIRST_ROWS).clamp(1, MOST_ROWS);
        let contacts = (0..count("contacts"))
            .map(|i| ContactRow {
                name: text(&format!("contact_name_{i}")),
                email: text(&format!("contact_email_{i}")),
                phone: text(&format!("contact_phone_{i}")),
            })
            .collect();
        let requests = (0..count("requests"))
            .map(|r| RequestRow {
                kind: if text(&format!("request_kind_{r}")) == "form" {
                    "form"
                } else {
                    "file"
                }
                .into(),
                title: text(&format!("request_title_{r}")),
                description: text(&format!("request_description_{r}")),
                types: Some(text(&format!("request_types_{r}")))
                    .filter(|t| FILE_TYPES.iter().any(|(name, _)| name == t))
                    .unwrap_or_else(|| "any".into()),
                fields: (0..count(&format!("fields_{r}")))
                    .map(|f| FieldRow {
                        label: text(&format!("field_label_{r}_{f}")),
                        field_type: text(&format!("field_type_{r}_{f}")),
                        required: values.contains_key(format!("field_required_{r}_{f}").as_str()),
                        choices: text(&format!("field_choices_{r}_{f}")),
                    })
                    .collect(),
            })
            .collect();
        let form = Self {
            key: text("key"),
            title: text("title"),
            message: values.get("message").map(|m| m.trim().to_owned()).unwrap_or_default(),
            due_date: text("due_date"),
            email: values.contains_key("channel_email"),
            sms: values.contains_key("channel_sms"),
            portal_password: values
                .get("portal_password")
                .map(|p| (*p).to_owned())
                .unwrap_or_default(),
            reminder_days_before: text("reminder_days_before"),
            reminder_overdue_every_days: text("reminder_overdue_every_days"),
            reminders_at_most: text("reminders_at_most"),
            contacts,
            requests,
        };
        let action = match text("action").as_str() {
            "add_contact" => Action::AddContact,
            "add_request" => Action::AddRequest,
            "send" => Action::Send,
            other => match other.strip_prefix("add_field_").and_then(|r| r.parse().ok()) {
                Some(r) => Action::AddField(r),
                None => Action::Preview,
            },
        };
        (form, action)
    }

    /// Adds the row an "Add …" button asked for (up to [`MOST_ROWS`]).
    pub fn add(&mut self, action: &Action) {
        match action {
            Action::AddContact if self.contacts.len() < MOST_ROWS => self.contacts.push(ContactRow::default()),
            Action::AddRequest if self.requests.len() < MOST_ROWS => self.requests.push(RequestRow::default()),
            Action::AddField(r) => {
                if let Some(request) = self.requests.get_mut(*r)
                    && request.fields.len() < MOST_ROWS
                {
                    request.kind = "form".into();
                    request.fields.push(FieldRow::default());
                }
            }
            _ => {}
        }
    }

    /// The invite to send, or every mistake by its field. Rows left wholly empty are skipped.
    pub fn to_new_invite(&self, today: NaiveDate) -> Result<NewInvite, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut fail = |field: String, why: &str| {
            if !errors.iter().any(|(name, _)| *name == field) {
                errors.push((field, why.to_owned()));
            }
        };
        if self.title.is_empty() {
            fail("title".into(), "give the invite a title, such as “Tax return 2026”");
        }
        let due_date = match self.due_date.as_str() {
            "" => None,
            text => match text.parse::<NaiveDate>() {
                Ok(day) if day < today => {
                    fail("due_date".into(), "the due date is in the past");
                    None
                }
                Ok(day) => Some(day),
                Err(_) => {
                    fail("due_date".into(), "give the due date as a date, such as 2026-12-31");
                    None
                }
            },
        };
        let mut channels = BTreeSet::new();
        if self.email {
            channels.insert(Channel::Email);
        }
        if self.sms {
            channels.insert(Channel::Sms);
        }
        if channels.is_empty() {
            fail(
                "channels".into(),
                "choose how contacts hear of the invite: email, text message or both",
            );
        }
        let mut contacts = Vec::new();
        for (i, row) in self.contacts.iter().enumerate() {
            if row.name.is_empty() && row.email.is_empty() && row.phone.is_empty() {
                continue;
            }
            if row.name.is_empty() {
                fail(format!("contact_name_{i}"), "give the contact's name");
            }
            let email = (!row.email.is_empty()).then(|| normalise_email(&row.email));
            if let Some(Err(_)) = &email {
                fail(format!("contact_email_{i}"), "this is not an email address");
            }
            let phone = (!row.phone.is_empty()).then(|| normalise_phone(&row.phone));
            if let Some(Err(_)) = &phone {
                fail(
                    format!("contact_phone_{i}"),
                    "give the mobile number with its country code, such as +61 400 000 000",
                );
            }
            if self.email && row.email.is_empty() {
                fail(
                    format!("contact_email_{i}"),
                    "the invite goes by email: give their email address",
                );
            }
            if self.sms && row.phone.is_empty() {
                fail(
                    format!("contact_phone_{i}"),
                    "the invite goes by text message: give their mobile number",
                );
            }
            contacts.push(NewContact {
                id: None,
                name: row.name.clone(),
                email: email.and_then(Result::ok),
                phone: phone.and_then(Result::ok),
            });
        }
        if contacts.is_empty() {
            fail("contact_name_0".into(), "an invite needs at least one contact");
        }
        let mut requests = Vec::new();
        for (r, row) in self.requests.iter().enumerate() {
            let asks = row.fields.iter().any(|f| !f.label.is_empty());
            if row.title.is_empty() && row.description.is_empty() && !asks {
                continue;
            }
            if row.title.is_empty() {
                fail(
                    format!("request_title_{r}"),
                    "give the request a title, such as “Payslips”",
                );
            }
            let description = Some(row.description.clone()).filter(|d| !d.is_empty());
            if row.kind == "form" {
                let fields = form_fields(r, &row.fields, &mut fail);
                if fields.is_empty() {
                    fail(format!("field_label_{r}_0"), "a form asks at least one question");
                }
                requests.push(NewRequest::Form {
                    title: row.title.clone(),
                    description,
                    fields,
                    contact_ids: None,
                });
            } else {
                let allowed_types = FILE_TYPES
                    .iter()
                    .find(|(name, _)| *name == row.types)
                    .map(|(_, types)| types.iter().map(|t| (*t).to_owned()).collect())
                    .unwrap_or_default();
                requests.push(NewRequest::File {
                    title: row.title.clone(),
                    description,
                    allowed_types,
                    max_files: None,
                    contact_ids: None,
                });
            }
        }
        if requests.is_empty() {
            fail("request_title_0".into(), "an invite asks for at least one thing");
        }
        let reminders = self.reminders(&mut fail);
        let portal_password = Some(self.portal_password.clone()).filter(|p| !p.is_empty());
        if errors.is_empty() {
            Ok(NewInvite {
                title: self.title.clone(),
                message: Some(self.message.clone()).filter(|m| !m.is_empty()),
                due_date,
                channels,
                portal_password,
                contacts,
                requests,
                reminders,
            })
        } else {
            Err(errors)
        }
    }

    /// The invite's own reminders, when any of their fields is filled in; else the firm's.
    fn reminders(&self, fail: &mut impl FnMut(String, &str)) -> Option<ReminderPlan> {
        reminder_plan(
            &self.reminder_days_before,
            &self.reminder_overdue_every_days,
            &self.reminders_at_most,
        )
        .unwrap_or_else(|why| {
            fail("reminders".into(), why);
            None
        })
    }
}

/// What to say when reminders are not whole days.
pub const REMINDERS_AS_DAYS: &str = "give reminders as whole days: days before the due date separated by commas (3, 1, 0), days between reminders once overdue, and the most to send";

/// An invite's own reminder plan from a form's three fields (days before the due date as `3, 1, 0`,
/// days between reminders once overdue, the most to send); None when all are empty (the firm's
/// plan); an error when one is not whole days.
pub fn reminder_plan(
    days_before: &str,
    overdue_every_days: &str,
    at_most: &str,
) -> Result<Option<ReminderPlan>, &'static str> {
    let (days_before, overdue_every_days, at_most) = (days_before.trim(), overdue_every_days.trim(), at_most.trim());
    if days_before.is_empty() && overdue_every_days.is_empty() && at_most.is_empty() {
        return Ok(None);
    }
    let days: Result<Vec<u32>, _> = days_before
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::parse)
        .collect();
    let number = |text: &str| if text.is_empty() { Ok(0) } else { text.parse::<u32>() };
    match (days, number(overdue_every_days), number(at_most)) {
        (Ok(days_before), Ok(overdue_every_days), Ok(at_most)) => Ok(Some(ReminderPlan {
            days_before,
            overdue_every_days,
            at_most,
        })),
        _ => Err(REMINDERS_AS_DAYS),
    }
}

/// A form request's questions, each with a key made from its label (`tax_file_number`).
fn form_fields(r: usize, rows: &[FieldRow], fail: &mut impl FnMut(String, &str)) -> Vec<FormField> {
    let mut taken = BTreeSet::new();
    let mut fields = Vec::new();
    for (f, row) in rows.iter().enumerate() {
        if row.label.is_empty() {
            continue;
        }
        let field_type = match row.field_type.as_str() {
            "number" => FieldType::Number,
            "date" => FieldType::Date,
            "yes_no" => FieldType::YesNo,
            "choice" => FieldType::Choice,
            _ => FieldType::Text,
        };
        let choices: Vec<String> = if field_type == FieldType::Choice {
            row.choices
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect()
        } else {
            Vec::new()
        };
        if field_type == FieldType::Choice && choices.len() < 2 {
            fail(
                format!("field_choices_{r}_{f}"),
                "give two choices or more, separated by commas",
            );
        }
        let stem: String = row
            .label
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .split('_')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        let stem = if stem.is_empty() {
            format!("question_{}", f + 1)
        } else {
            stem.chars().take(60).collect()
        };
        let mut name = stem.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{stem}_{n}");
            n += 1;
        }
        fields.push(FormField {
            name,
            label: row.label.clone(),
            field_type,
            required: row.required,
            choices,
        });
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    }

    #[test]
    fn a_filled_in_form_becomes_the_apis_new_invite() {
        let (form, action) = InviteForm::read(&pairs(&[
            ("title", " Tax return 2026 "),
            ("due_date", "2026-12-31"),
            ("channel_email", "on"),
            ("contacts", "2"),
            ("contact_name_0", "Ana Alves"),
            ("contact_email_0", "ana@example.com"),
            ("requests", "2"),
            ("request_kind_0", "file"),
            ("request_title_0", "Payslips"),
            ("request_types_0", "pdf"),
            ("request_kind_1", "form"),
            ("request_title_1", "Your details"),
            ("fields_1", "2"),
            ("field_label_1_0", "Tax file number"),
            ("field_type_1_0", "text"),
            ("field_required_1_0", "on"),
            ("field_label_1_1", "Tax file number"),
            ("field_type_1_1", "yes_no"),
            ("action", "send"),
        ]));
        assert_eq!(action, Action::Send);
        let invite = form.to_new_invite(today()).unwrap();
        assert_eq!(invite.title, "Tax return 2026");
        assert_eq!(invite.contacts.len(), 1, "the empty second contact row is skipped");
        let NewRequest::File { allowed_types, .. } = &invite.requests[0] else {
            panic!()
        };
        assert_eq!(allowed_types, &["application/pdf"]);
        let NewRequest::Form { fields, .. } = &invite.requests[1] else {
            panic!()
        };
        let names: Vec<_> = fields.iter().map(|f| (f.name.as_str(), f.required)).collect();
        assert_eq!(names, [("tax_file_number", true), ("tax_file_number_2", false)]);
        assert_eq!(invite.reminders, None, "the firm's reminders");
    }

    #[test]
    fn each_mistake_is_named_by_its_field() {
        let (form, _) = InviteForm::read(&pairs(&[
            ("due_date", "2026-12-01"),
            ("channel_email", "on"),
            ("channel_sms", "on"),
            ("contact_name_0", "Ana Alves"),
            ("contact_email_0", "ana at example"),
            ("contact_phone_0", "0400"),
            ("request_title_0", ""),
            ("request_description_0", "July to June"),
            ("reminder_days_before", "three"),
        ]));
        let errors = form.to_new_invite(today()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            fields,
            [
                "title",
                "due_date",
                "contact_email_0",
                "contact_phone_0",
                "request_title_0",
                "reminders"
            ],
            "in the form's order"
        );
    }

    #[test]
    fn add_buttons_add_one_row_each() {
        let mut form = InviteForm::new("k".into());
        form.add(&Action::AddContact);
        form.add(&Action::AddRequest);
        form.add(&Action::AddField(1));
        assert_eq!((form.contacts.len(), form.requests.len()), (2, 2));
        assert_eq!(form.requests[1].fields.len(), 2);
        assert_eq!(form.requests[1].kind, "form", "a question makes it a form");
    }
}
