//! Requests: what an Invite asks each contact for. A file request collects documents; a form request
//! collects answers to named fields.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::{ContactId, RequestId};
use crate::limits::{
    MAX_ALLOWED_TYPES, MAX_ANSWER_CHARS, MAX_CHOICES, MAX_FIELD_NAME_CHARS, MAX_FILES_PER_REQUEST, MAX_FORM_FIELDS,
    MAX_NAME_CHARS,
};
use crate::text::{self, Lines, TextError};

/// One request of an Invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSpec {
    pub id: RequestId,
    pub title: String,
    pub description: Option<String>,
    #[serde(flatten)]
    pub kind: RequestKind,
    pub assigned_to: Assignment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestKind {
    /// Documents to upload. `allowed_types` lists MIME types (`application/pdf`) or families (`image/*`);
    /// empty means any type.
    File {
        allowed_types: Vec<String>,
        max_files: u32,
    },
    Form {
        fields: Vec<FormField>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormField {
    /// A stable key for the answer, e.g. `tax_number`.
    pub name: String,
    /// What the contact reads, e.g. "Tax file number".
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub required: bool,
    /// The options of a `choice` field; empty for every other type.
    #[serde(default)]
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FieldType {
    Text,
    Number,
    Date,
    YesNo,
    Choice,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::Text => "text",
            FieldType::Number => "a number",
            FieldType::Date => "a date",
            FieldType::YesNo => "yes or no",
            FieldType::Choice => "one of the choices",
        })
    }
}

/// Which contacts a request is for. `AllContacts` includes contacts added later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    AllContacts,
    Contacts(BTreeSet<ContactId>),
}

impl Assignment {
    pub fn includes(&self, contact: ContactId) -> bool {
        match self {
            Assignment::AllContacts => true,
            Assignment::Contacts(contacts) => contacts.contains(&contact),
        }
    }
}

/// One answer of a submitted form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Answer {
    Text(String),
    /// A decimal number kept as the digits the contact typed, so that 1234.50 stays 1234.50.
    Number(String),
    Date(NaiveDate),
    YesNo(bool),
    Choice(String),
}

impl Answer {
    pub fn field_type(&self) -> FieldType {
        match self {
            Answer::Text(_) => FieldType::Text,
            Answer::Number(_) => FieldType::Number,
            Answer::Date(_) => FieldType::Date,
            Answer::YesNo(_) => FieldType::YesNo,
            Answer::Choice(_) => FieldType::Choice,
        }
    }
}

pub type Answers = BTreeMap<String, Answer>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("max files must be between 1 and {max}, not {value}")]
    MaxFilesOutOfRange { value: u32, max: u32 },
    #[error("`{0}` is not a MIME type such as application/pdf or image/*")]
    InvalidAllowedType(String),
    #[error("a request allows at most {max} file types")]
    TooManyAllowedTypes { max: usize },
    #[error("a form needs at least one field")]
    NoFormFields,
    #[error("a form has at most {max} fields")]
    TooManyFormFields { max: usize },
    #[error("`{0}` is not a valid field name: use 1 to 64 letters, digits, `_` or `-`")]
    InvalidFieldName(String),
    #[error("the field name `{0}` is used twice")]
    DuplicateFieldName(String),
    #[error("the choice field `{0}` needs at least one choice")]
    ChoiceWithoutChoices(String),
    #[error("the field `{0}` is not a choice field, so it cannot have choices")]
    ChoicesOnNonChoiceField(String),
    #[error("the choice field `{field}` has at most {max} choices")]
    TooManyChoices { field: String, max: usize },
    #[error("the choice field `{field}` lists `{choice}` twice")]
    DuplicateChoice { field: String, choice: String },
    #[error("the request `{title}` is assigned to nobody; assign it to all contacts or list some")]
    AssignedToNobody { title: String },
    #[error("the form has no field `{0}`")]
    UnknownField(String),
    #[error("`{0}` is required")]
    MissingAnswer(String),
    #[error("`{field}` expects {expected}")]
    WrongAnswerType { field: String, expected: FieldType },
    #[error("`{value}` is not a number for `{field}`; use digits, an optional minus sign and a decimal point")]
    InvalidNumber { field: String, value: String },
    #[error("`{value}` is not one of the choices for `{field}`")]
    InvalidChoice { field: String, value: String },
    #[error("the answer to `{field}`: {source}")]
    AnswerText { field: String, source: TextError },
    #[error(transparent)]
    Text(#[from] TextError),
}

/// Lowercases a MIME type and drops its parameters (`; charset=...`), or None when it is not one.
pub fn normalise_mime(value: &str) -> Option<String> {
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    (token(kind) && (token(sub) || sub == "*")).then_some(essence)
}

/// Whether a file of `content_type` may be uploaded to a request allowing `allowed_types`.
pub fn type_allowed(allowed_types: &[String], content_type: &str) -> bool {
    allowed_types.is_empty()
        || allowed_types.iter().any(|allowed| match allowed.strip_suffix("/*") {
            Some(family) => content_type.split_once('/').is_some_and(|(kind, _)| kind == family),
            None => allowed == content_type,
        })
}

/// Validates and normalises what a request asks for.
pub fn check_kind(kind: &RequestKind) -> Result<RequestKind, RequestError> {
    match kind {
        RequestKind::File {
            allowed_types,
            max_files,
        } => {
            if !(1..=MAX_FILES_PER_REQUEST).contains(max_files) {
                return Err(RequestError::MaxFilesOutOfRange {
                    value: *max_files,
                    max: MAX_FILES_PER_REQUEST,
                });
            }
            if allowed_types.len() > MAX_ALLOWED_TYPES {
                return Err(RequestError::TooManyAllowedTypes { max: MAX_ALLOWED_TYPES });
            }
            let mut normalised: Vec<String> = Vec::with_capacity(allowed_types.len());
            for allowed in allowed_types {
                let mime = normalise_mime(allowed)
                    .filter(|m| !m.starts_with("*/"))
                    .ok_or_else(|| RequestError::InvalidAllowedType(allowed.clone()))?;
                if !normalised.contains(&mime) {
                    normalised.push(mime);
                }
            }
            Ok(RequestKind::File {
                allowed_types: normalised,
                max_files: *max_files,
            })
        }
        RequestKind::Form { fields } => {
            if fields.is_empty() {
                return Err(RequestError::NoFormFields);
            }
            if fields.len() > MAX_FORM_FIELDS {
                return Err(RequestError::TooManyFormFields { max: MAX_FORM_FIELDS });
            }
            let mut names = BTreeSet::new();
            let fields = fields
                .iter()
                .map(|field| {
                    let checked = check_field(field)?;
                    if !names.insert(checked.name.clone()) {
                        return Err(RequestError::DuplicateFieldName(checked.name));
                    }
                    Ok(checked)
                })
                .collect::<Result<_, _>>()?;
            Ok(RequestKind::Form { fields })
        }
    }
}

fn check_field(field: &FormField) -> Result<FormField, RequestError> {
    let name = field.name.trim();
    let valid_name = (1..=MAX_FIELD_NAME_CHARS).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid_name {
        return Err(RequestError::InvalidFieldName(field.name.clone()));
    }
    let label = text::required("field label", &field.label, MAX_NAME_CHARS, Lines::One)?;
    let mut choices: Vec<String> = Vec::with_capacity(field.choices.len());
    for choice in &field.choices {
        let choice = text::required("choice", choice, MAX_NAME_CHARS, Lines::One)?;
        if choices.contains(&choice) {
            return Err(RequestError::DuplicateChoice {
                field: name.to_owned(),
                choice,
            });
        }
        choices.push(choice);
    }
    match field.field_type {
        FieldType::Choice if choices.is_empty() => {
            return Err(RequestError::ChoiceWithoutChoices(name.to_owned()));
        }
        FieldType::Choice if choices.len() > MAX_CHOICES => {
            return Err(RequestError::TooManyChoices {
                field: name.to_owned(),
                max: MAX_CHOICES,
            });
        }
        FieldType::Choice => {}
        _ if !choices.is_empty() => {
            return Err(RequestError::ChoicesOnNonChoiceField(name.to_owned()));
        }
        _ => {}
    }
    Ok(FormField {
        name: name.to_owned(),
        label,
        field_type: field.field_type,
        required: field.required,
        choices,
    })
}

/// Checks answers against a form's fields and returns them normalised (trimmed; blank optional
/// answers dropped).
pub fn check_answers(fields: &[FormField], answers: &Answers) -> Result<Answers, RequestError> {
    if let Some(unknown) = answers.keys().find(|name| !fields.iter().any(|f| &f.name == *name)) {
        return Err(RequestError::UnknownField(unknown.clone()));
    }
    let mut checked = Answers::new();
    for field in fields {
        let answer = match answers.get(&field.name) {
            Some(answer) => check_answer(field, answer)?,
            None => None,
        };
        match answer {
            Some(answer) => {
                checked.insert(field.name.clone(), answer);
            }
            None if field.required => return Err(RequestError::MissingAnswer(field.label.clone())),
            None => {}
        }
    }
    Ok(checked)
}

fn check_answer(field: &FormField, answer: &Answer) -> Result<Option<Answer>, RequestError> {
    if answer.field_type() != field.field_type {
        return Err(RequestError::WrongAnswerType {
            field: field.label.clone(),
            expected: field.field_type,
        });
    }
    let answer_text = |value: &str| {
        text::optional("answer", value, MAX_ANSWER_CHARS, Lines::Many).map_err(|source| RequestError::AnswerText {
            field: field.label.clone(),
            source,
        })
    };
    Ok(match answer {
        Answer::Text(value) => answer_text(value)?.map(Answer::Text),
        Answer::Number(value) => match answer_text(value)? {
            None => None,
            Some(number) if is_decimal(&number) => Some(Answer::Number(number)),
            Some(number) => {
                return Err(RequestError::InvalidNumber {
                    field: field.label.clone(),
                    value: number,
                });
            }
        },
        Answer::Choice(value) => match answer_text(value)? {
            None => None,
            Some(choice) if field.choices.contains(&choice) => Some(Answer::Choice(choice)),
            Some(choice) => {
                return Err(RequestError::InvalidChoice {
                    field: field.label.clone(),
                    value: choice,
                });
            }
        },
        Answer::Date(_) | Answer::YesNo(_) => Some(answer.clone()),
    })
}

/// `-12`, `3.50`, `1000000`: digits with an optional sign and decimal part (no exponents, no
/// thousands separators, whose meaning depends on the locale).
fn is_decimal(value: &str) -> bool {
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.len() <= 30 && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_are_normalised() {
        assert_eq!(
            normalise_mime("Application/PDF; charset=x").as_deref(),
            Some("application/pdf")
        );
        assert_eq!(normalise_mime("image/*").as_deref(), Some("image/*"));
        assert_eq!(normalise_mime("pdf"), None);
        assert_eq!(normalise_mime("a/b/c"), None);
    }

    #[test]
    fn allowed_types_match_exactly_or_by_family() {
        let allowed = vec!["application/pdf".to_owned(), "image/*".to_owned()];
        assert!(type_allowed(&allowed, "application/pdf"));
        assert!(type_allowed(&allowed, "image/heic"));
        assert!(!type_allowed(&allowed, "text/plain"));
        assert!(type_allowed(&[], "text/plain"));
    }

    #[test]
    fn decimals() {
        for ok in ["0", "-12", "1234.50", "0.001"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", "-", "1.", ".5", "1e5", "1,000", "12a", "NaN"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }
}
