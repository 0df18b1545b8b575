//! Who signed in to the console, who tried and was refused, who chose a password, who turned
//! two-step sign-in on or off and who signed out: facts observed beside the log (a password is checked against its hash there), recorded on
//! the firm's `sign-ins` stream for the record. Nothing is decided from them, so they are appended
//! without reading the stream back, and the team's stream, which every staff request reads, does
//! not grow with them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decider::{EventDecodeError, EventSchema, check_known, current_version, never_written, payload};
use crate::ids::StaffId;

#[derive(Debug, Clone, PartialEq)]
pub enum SignInEvent {
    SignedIn(SignedIn),
    SignInRefused(SignInRefused),
    PasswordChosen(PasswordChosen),
    SignedOut(SignedOut),
    TwoStepTurnedOn(TwoStepTurnedOn),
    TwoStepTurnedOff(TwoStepTurnedOff),
    RecoveryCodesMade(RecoveryCodesMade),
    SignInLinkMade(SignInLinkMade),
    SignInLinkEmailed(SignInLinkEmailed),
    SignInLinkNotEmailed(SignInLinkNotEmailed),
}

/// How a member proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// A one-time sign-in link (the first, from `lodge staff add`, or an owner's invitation), after
    /// which they chose a password.
    Link,
    Password,
}

/// The second step of a two-step sign-in: what the member gave after their password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondStep {
    /// A code from their authenticator app (TOTP, RFC 6238).
    Code,
    /// One of their recovery codes, which then works no more.
    RecoveryCode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedIn {
    pub staff_id: StaffId,
    pub method: SignInMethod,
    /// Absent when the member has no two-step sign-in (and in every event written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_step: Option<SecondStep>,
}

/// Why a sign-in was refused. Which one is on the record; the person signing in is told only that
/// the email or password was wrong, so that the page does not say who has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    WrongPassword,
    /// No member has this email, or they have not chosen a password yet.
    UnknownAccount,
    Deactivated,
    /// Too many tries for this account or from this address: the password was not checked.
    TooManyTries,
    /// A sign-in link that was used, replaced or is too old.
    SpentLink,
    /// The password was right, the second step's code was not (or was used already).
    WrongCode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInRefused {
    /// The email given (normalised), or the member's for a link.
    pub email: String,
    /// The member it names, when it names one.
    pub staff_id: Option<StaffId>,
    pub reason: RefusalReason,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasswordChosen {
    pub staff_id: StaffId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedOut {
    pub staff_id: StaffId,
    /// Every session of theirs ended ("sign out everywhere"), not only this one.
    pub everywhere: bool,
}

/// The member turned two-step sign-in on: from now on a sign-in asks for a code after the password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoStepTurnedOn {
    pub staff_id: StaffId,
}

/// Two-step sign-in was turned off for the member: by themselves, or by an owner when they lost
/// their phone (the event's actor says who).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoStepTurnedOff {
    pub staff_id: StaffId,
}

/// The member was given new recovery codes; any earlier ones work no more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryCodesMade {
    pub staff_id: StaffId,
    pub count: u32,
}

/// Why a sign-in link was emailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkPurpose {
    /// An owner added the member: their first link, to choose a password.
    Welcome,
    /// A forgotten password: asked for by the member, or made by an owner for them.
    Reset,
}

/// A one-time sign-in link was made for a member, to be emailed to them. The link's token is
/// derived from this event's command id under the server's secret (as portal links are), so the
/// notifier can write the email while the log holds no secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInLinkMade {
    pub staff_id: StaffId,
    pub name: String,
    pub email: String,
    pub purpose: LinkPurpose,
    /// After this the link opens nothing, and an email not yet sent is not sent.
    pub expires_at: DateTime<Utc>,
}

/// The notifier emailed a sign-in link (`SignInLinkMade`, the event this one follows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInLinkEmailed {
    pub staff_id: StaffId,
    pub message_id: String,
}

/// The notifier could not email a sign-in link; the owner's page showed it, and a member may ask
/// again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInLinkNotEmailed {
    pub staff_id: StaffId,
    pub reason: String,
}

impl SignInEvent {
    /// Every type this code writes, with its current schema version.
    pub const TYPES: &'static [(&'static str, u32)] = &[
        ("SignedIn", 1),
        ("SignInRefused", 1),
        ("PasswordChosen", 1),
        ("SignedOut", 1),
        ("TwoStepTurnedOn", 1),
        ("TwoStepTurnedOff", 1),
        ("RecoveryCodesMade", 1),
        ("SignInLinkMade", 1),
        ("SignInLinkEmailed", 1),
        ("SignInLinkNotEmailed", 1),
    ];
}

impl EventSchema for SignInEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SignInEvent::SignedIn(_) => "SignedIn",
            SignInEvent::SignInRefused(_) => "SignInRefused",
            SignInEvent::PasswordChosen(_) => "PasswordChosen",
            SignInEvent::SignedOut(_) => "SignedOut",
            SignInEvent::TwoStepTurnedOn(_) => "TwoStepTurnedOn",
            SignInEvent::TwoStepTurnedOff(_) => "TwoStepTurnedOff",
            SignInEvent::RecoveryCodesMade(_) => "RecoveryCodesMade",
            SignInEvent::SignInLinkMade(_) => "SignInLinkMade",
            SignInEvent::SignInLinkEmailed(_) => "SignInLinkEmailed",
            SignInEvent::SignInLinkNotEmailed(_) => "SignInLinkNotEmailed",
        }
    }

    fn schema_version(&self) -> u32 {
        current_version(Self::TYPES, self.event_type()).expect("every event type is listed in SignInEvent::TYPES")
    }

    fn to_json(&self) -> String {
        let json = match self {
            SignInEvent::SignedIn(e) => serde_json::to_string(e),
            SignInEvent::SignInRefused(e) => serde_json::to_string(e),
            SignInEvent::PasswordChosen(e) => serde_json::to_string(e),
            SignInEvent::SignedOut(e) => serde_json::to_string(e),
            SignInEvent::TwoStepTurnedOn(e) => serde_json::to_string(e),
            SignInEvent::TwoStepTurnedOff(e) => serde_json::to_string(e),
            SignInEvent::RecoveryCodesMade(e) => serde_json::to_string(e),
            SignInEvent::SignInLinkMade(e) => serde_json::to_string(e),
            SignInEvent::SignInLinkEmailed(e) => serde_json::to_string(e),
            SignInEvent::SignInLinkNotEmailed(e) => serde_json::to_string(e),
        };
        json.expect("sign-in events serialise")
    }

    fn from_json(event_type: &str, schema_version: u32, json: &str) -> Result<Self, EventDecodeError> {
        check_known(Self::TYPES, event_type, schema_version)?;
        let (t, v) = (event_type, schema_version);
        // One arm per (type, version) ever written.
        match (t, v) {
            ("SignedIn", 1) => payload(t, v, json).map(SignInEvent::SignedIn),
            ("SignInRefused", 1) => payload(t, v, json).map(SignInEvent::SignInRefused),
            ("PasswordChosen", 1) => payload(t, v, json).map(SignInEvent::PasswordChosen),
            ("SignedOut", 1) => payload(t, v, json).map(SignInEvent::SignedOut),
            ("TwoStepTurnedOn", 1) => payload(t, v, json).map(SignInEvent::TwoStepTurnedOn),
            ("TwoStepTurnedOff", 1) => payload(t, v, json).map(SignInEvent::TwoStepTurnedOff),
            ("RecoveryCodesMade", 1) => payload(t, v, json).map(SignInEvent::RecoveryCodesMade),
            ("SignInLinkMade", 1) => payload(t, v, json).map(SignInEvent::SignInLinkMade),
            ("SignInLinkEmailed", 1) => payload(t, v, json).map(SignInEvent::SignInLinkEmailed),
            ("SignInLinkNotEmailed", 1) => payload(t, v, json).map(SignInEvent::SignInLinkNotEmailed),
            _ => Err(never_written(t, v)),
        }
    }
}
