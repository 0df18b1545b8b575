//! The firm's details as its owners set them in the console: its name, how contacts reach it, the
//! time zone its due dates are days in, and the reminders invites follow unless they have their own.
//! One stream for the firm (`firm`); until its first event, the configuration's values stand. Only
//! owners change them (the API checks the role); who did is the event's actor.

use serde::{Deserialize, Serialize};

use crate::contact::{ContactError, normalise_email, normalise_phone};
use crate::decider::{Decider, EventDecodeError, EventSchema, check_known, current_version, never_written, payload};
use crate::limits::MAX_NAME_CHARS;
use crate::reminder::ReminderPlan;
use crate::text::{self, Lines, TextError};

/// The longest postal address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// The most days before a due date a reminder may be planned, and the most reminders.
pub const MAX_REMINDER_DAYS: u32 = 365;
pub const MAX_REMINDERS: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmDetails {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// An IANA name (`Australia/Sydney`); the API checks it names a zone.
    pub time_zone: String,
    pub reminders: ReminderPlan,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirmState {
    /// None until an owner first saves the details: the configuration's stand until then.
    pub details: Option<FirmDetails>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirmCommand {
    /// The details as the owner's form has them, whole.
    ChangeDetails(FirmDetails),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirmEvent {
    FirmDetailsChanged(FirmDetails),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirmError {
    #[error(transparent)]
    Text(#[from] TextError),
    #[error(transparent)]
    Contact(#[from] ContactError),
    #[error("a time zone is needed: a name such as Europe/London or Australia/Sydney")]
    NoTimeZone,
    #[error(
        "reminders are planned at most {MAX_REMINDER_DAYS} days before the due date, and at most {MAX_REMINDERS} of them"
    )]
    Reminders,
}

/// The details as they are kept: trimmed, the email and phone in their usual form; or why not.
fn checked(details: &FirmDetails) -> Result<FirmDetails, FirmError> {
    let name = text::required("the firm's name", &details.name, MAX_NAME_CHARS, Lines::One)?;
    let email = match details.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(email) => Some(normalise_email(email)?),
        None => None,
    };
    let phone = match details.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(phone) => Some(normalise_phone(phone)?),
        None => None,
    };
    let address = text::optional(
        "the firm's address",
        details.address.as_deref().unwrap_or_default(),
        MAX_ADDRESS_CHARS,
        Lines::Many,
    )?;
    let time_zone = details.time_zone.trim().to_owned();
    if time_zone.is_empty() {
        return Err(FirmError::NoTimeZone);
    }
    let plan = &details.reminders;
    if plan.days_before.iter().any(|d| *d > MAX_REMINDER_DAYS)
        || plan.overdue_every_days > MAX_REMINDER_DAYS
        || plan.at_most > MAX_REMINDERS
    {
        return Err(FirmError::Reminders);
    }
    let mut reminders = plan.clone();
    reminders.days_before.sort_unstable_by(|a, b| b.cmp(a));
    reminders.days_before.dedup();
    Ok(FirmDetails {
        name,
        email,
        phone,
        address,
        time_zone,
        reminders,
    })
}

pub fn decide(state: &FirmState, command: &FirmCommand) -> Result<Vec<FirmEvent>, FirmError> {
    match command {
        FirmCommand::ChangeDetails(details) => {
            let details = checked(details)?;
            // Saving the form again unchanged records nothing.
            if state.details.as_ref() == Some(&details) {
                return Ok(Vec::new());
            }
            Ok(vec![FirmEvent::FirmDetailsChanged(details)])
        }
    }
}

pub fn evolve(_state: FirmState, event: &FirmEvent) -> FirmState {
    match event {
        FirmEvent::FirmDetailsChanged(details) => FirmState {
            details: Some(details.clone()),
        },
    }
}

pub struct FirmDecider;

impl Decider for FirmDecider {
    type State = FirmState;
    type Command = FirmCommand;
    type Event = FirmEvent;
    type Error = FirmError;

    fn decide(state: &FirmState, command: &FirmCommand) -> Result<Vec<FirmEvent>, FirmError> {
        decide(state, command)
    }

    fn evolve(state: FirmState, event: &FirmEvent) -> FirmState {
        evolve(state, event)
    }

    fn command_name(command: &FirmCommand) -> &'static str {
        match command {
            FirmCommand::ChangeDetails(_) => "change_firm_details",
        }
    }
}

impl FirmEvent {
    pub const TYPES: &'static [(&'static str, u32)] = &[("FirmDetailsChanged", 1)];
}

impl EventSchema for FirmEvent {
    fn event_type(&self) -> &'static str {
        match self {
            FirmEvent::FirmDetailsChanged(_) => "FirmDetailsChanged",
        }
    }

    fn schema_version(&self) -> u32 {
        current_version(Self::TYPES, self.event_type()).expect("every event type is listed in FirmEvent::TYPES")
    }

    fn to_json(&self) -> String {
        match self {
            FirmEvent::FirmDetailsChanged(e) => serde_json::to_string(e).expect("firm events serialise"),
        }
    }

    fn from_json(event_type: &str, schema_version: u32, json: &str) -> Result<Self, EventDecodeError> {
        check_known(Self::TYPES, event_type, schema_version)?;
        let (t, v) = (event_type, schema_version);
        match (t, v) {
            ("FirmDetailsChanged", 1) => payload(t, v, json).map(FirmEvent::FirmDetailsChanged),
            _ => Err(never_written(t, v)),
        }
    }
}
