//! The log's vocabulary: streams, positions, expected versions, events going in and coming out.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use lodge_domain::limits::{MAX_NAME_CHARS, MAX_USER_AGENT_CHARS};
use lodge_domain::{Actor, EventSchema, InviteId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::LogError;

const INVITE_PREFIX: &str = "invite-";
/// The team's one stream.
const TEAM: &str = "team";
/// The firm's record of sign-ins to the console.
const SIGN_INS: &str = "sign-ins";
/// The firm's details, as its owners set them.
const FIRM: &str = "firm";

/// The name of a stream: one aggregate's history, e.g. `invite-0193…`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

impl StreamId {
    pub const MAX_LEN: usize = 200;

    /// Letters, digits and `-_.:`, 1 to 200 characters: safe in URLs, logs and file names.
    pub fn parse(value: &str) -> Result<Self, LogError> {
        let valid = (1..=Self::MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(LogError::InvalidStreamId(value.chars().take(240).collect()))
        }
    }

    /// The stream of one Invite.
    pub fn invite(id: InviteId) -> Self {
        Self(format!("{INVITE_PREFIX}{id}"))
    }

    /// The firm's team: its staff, their roles, who is deactivated (one stream per firm).
    pub fn team() -> Self {
        Self(TEAM.to_owned())
    }

    /// Who signed in to the console, who was refused, who signed out (one stream per firm).
    pub fn sign_ins() -> Self {
        Self(SIGN_INS.to_owned())
    }

    /// The firm's details: its name, contact details, time zone and default reminders.
    pub fn firm() -> Self {
        Self(FIRM.to_owned())
    }

    /// The Invite whose stream this is, if it is one.
    pub fn invite_id(&self) -> Option<InviteId> {
        self.0.strip_prefix(INVITE_PREFIX)?.parse().ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for StreamId {
    type Error = LogError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<StreamId> for String {
    fn from(value: StreamId) -> Self {
        value.0
    }
}

/// An event's global position: unique and increasing in the order events were appended. Readers
/// follow the log from a position; [`Position::START`] is before the first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(pub i64);

impl Position {
    pub const START: Position = Position(0);
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the writer believes the stream's version to be; the append fails with
/// [`LogError::VersionConflict`] when it is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version (1 or more).
    Exact(u64),
}

impl ExpectedVersion {
    /// The version the stream must be at, or None for any: a missing stream is at version 0.
    pub(crate) fn required(self) -> Option<u64> {
        match self {
            ExpectedVersion::Any => None,
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(version) => Some(version),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// An event to append: its type, schema version and JSON payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: u32,
    /// JSON text, stored byte for byte.
    pub data: String,
}

impl NewEvent {
    pub fn from_domain<E: EventSchema>(event: &E) -> Self {
        Self {
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            data: event.to_json(),
        }
    }

    pub(crate) fn check(&self, index: usize) -> Result<(), LogError> {
        let invalid = |reason: String| LogError::InvalidEvent { index, reason };
        let type_ok = (1..=100).contains(&self.event_type.len())
            && self
                .event_type
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'));
        if !type_ok {
            return Err(invalid(format!(
                "`{}` is not an event type name (1 to 100 letters, digits, `_` or `.`)",
                self.event_type
            )));
        }
        if self.schema_version == 0 || self.schema_version > i32::MAX as u32 {
            return Err(invalid(format!(
                "schema version {} is out of range (1 or more)",
                self.schema_version
            )));
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&self.data)
            .map(|_| ())
            .map_err(|e| invalid(format!("the payload is not JSON: {e}")))
    }
}

/// Where a request came from, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// Who and what caused an append. The same for every event of one append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub actor: Actor,
    /// The command that produced the events; a repeated command id appends nothing.
    pub command_id: Uuid,
    /// Shared by everything one user action caused, across streams and services.
    pub correlation_id: Uuid,
    /// The command or event that directly caused this one, if any.
    pub causation_id: Option<Uuid>,
    pub source: Option<Source>,
}

impl Metadata {
    /// Metadata for a command that starts a new correlation.
    pub fn new(actor: Actor) -> Self {
        let command_id = Uuid::now_v7();
        Self {
            actor,
            command_id,
            correlation_id: command_id,
            causation_id: None,
            source: None,
        }
    }

    pub(crate) fn check(&self) -> Result<(), LogError> {
        let name = match &self.actor {
            Actor::Staff { name, .. } | Actor::Contact { name, .. } => Some(name),
            Actor::System => None,
        };
        if let Some(name) = name
            && (name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control))
        {
            return Err(LogError::InvalidMetadata(format!(
                "the actor's name must be 1 to {MAX_NAME_CHARS} characters without control characters"
            )));
        }
        if let Some(user_agent) = self.source.as_ref().and_then(|s| s.user_agent.as_ref())
            && (user_agent.chars().count() > MAX_USER_AGENT_CHARS || user_agent.chars().any(char::is_control))
        {
            return Err(LogError::InvalidMetadata(format!(
                "the user agent must be at most {MAX_USER_AGENT_CHARS} characters without control characters"
            )));
        }
        Ok(())
    }
}

/// An event as stored in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub position: Position,
    pub event_id: Uuid,
    pub stream_id: StreamId,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    /// The payload's JSON text, exactly as appended.
    pub data: String,
    pub metadata: Metadata,
    pub recorded_at: DateTime<Utc>,
    /// This event's link in its stream's hash chain.
    pub hash: [u8; 32],
}

impl RecordedEvent {
    /// Reads the payload as a domain event, upcasting old schema versions.
    pub fn decode<E: EventSchema>(&self) -> Result<E, LogError> {
        E::from_json(&self.event_type, self.schema_version, &self.data).map_err(|source| LogError::Decode {
            position: self.position,
            source,
        })
    }
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub stream_id: StreamId,
    pub first_version: u64,
    /// The stream's version after the append: the expected version for the next one.
    pub last_version: u64,
    /// The position of the last event appended: a reader that has reached it sees them all.
    pub last_position: Position,
    pub recorded_at: DateTime<Utc>,
    /// The command id had been seen before: nothing was appended and this is the first outcome.
    pub duplicate: bool,
}

/// How much the log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSummary {
    pub streams: u64,
    pub events: u64,
}
