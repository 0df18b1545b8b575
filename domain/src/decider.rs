//! The two contracts between the domain and the event log.
//!
//! [`Decider`] is Chassaing's decider: `decide` turns a command and the current state into new events
//! (or a typed refusal), `evolve` folds one event into the state. The log's command path loads a
//! stream, folds it with `evolve`, calls `decide`, and appends the result.
//!
//! [`EventSchema`] names each event's type and schema version and maps it to and from the JSON stored in
//! the log. Reading goes through `from_json`, keyed by (type, version), which is where upcasters for old
//! versions live: events are forever, so every version ever written must stay readable.

/// A pure decision function over an aggregate's history.
pub trait Decider {
    type State: Default;
    type Command;
    type Event;
    type Error: std::error::Error + Send + Sync + 'static;

    fn decide(state: &Self::State, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The command's name, for logs and tracing spans.
    fn command_name(command: &Self::Command) -> &'static str;

    /// Folds a history into a state.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events
            .into_iter()
            .fold(Self::State::default(), |state, event| Self::evolve(state, event))
    }
}

/// How an event is named, versioned and serialised in the log.
pub trait EventSchema: Sized {
    /// The stable, past-tense type name stored beside the payload, e.g. `InviteSent`.
    fn event_type(&self) -> &'static str;

    /// The schema version this code writes for this event's type.
    fn schema_version(&self) -> u32;

    /// The payload as JSON text.
    fn to_json(&self) -> String;

    /// Reads a stored payload of any version this code knows, upcasting old versions.
    fn from_json(event_type: &str, schema_version: u32, json: &str) -> Result<Self, EventDecodeError>;
}

/// Why a stored event could not be read as a domain event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventDecodeError {
    #[error("unknown event type `{event_type}`")]
    UnknownType { event_type: String },
    #[error(
        "`{event_type}` has schema version {schema_version}, newer than the version {known} this Lodge knows; upgrade Lodge to read it"
    )]
    NewerSchemaVersion {
        event_type: String,
        schema_version: u32,
        known: u32,
    },
    #[error("`{event_type}` has schema version {schema_version}, which was never written")]
    UnknownSchemaVersion { event_type: String, schema_version: u32 },
    #[error("`{event_type}` v{schema_version} has a malformed payload: {reason}")]
    Malformed {
        event_type: String,
        schema_version: u32,
        reason: String,
    },
}

/// The version `types` (an aggregate's list of what it writes) gives `event_type` today.
pub(crate) fn current_version(types: &[(&'static str, u32)], event_type: &str) -> Option<u32> {
    types
        .iter()
        .find(|(name, _)| *name == event_type)
        .map(|(_, version)| *version)
}

/// Refuses, before any payload is read, a type `types` does not list or a version newer than it writes.
pub(crate) fn check_known(
    types: &[(&'static str, u32)],
    event_type: &str,
    schema_version: u32,
) -> Result<(), EventDecodeError> {
    let current = current_version(types, event_type).ok_or_else(|| EventDecodeError::UnknownType {
        event_type: event_type.to_owned(),
    })?;
    if schema_version > current {
        return Err(EventDecodeError::NewerSchemaVersion {
            event_type: event_type.to_owned(),
            schema_version,
            known: current,
        });
    }
    Ok(())
}

/// A stored payload read as `T`, or why it is malformed.
pub(crate) fn payload<T: serde::de::DeserializeOwned>(
    event_type: &str,
    schema_version: u32,
    json: &str,
) -> Result<T, EventDecodeError> {
    serde_json::from_str(json).map_err(|e| EventDecodeError::Malformed {
        event_type: event_type.to_owned(),
        schema_version,
        reason: e.to_string(),
    })
}

/// The refusal of a (type, version) that `types` knows of but was never written.
pub(crate) fn never_written(event_type: &str, schema_version: u32) -> EventDecodeError {
    EventDecodeError::UnknownSchemaVersion {
        event_type: event_type.to_owned(),
        schema_version,
    }
}
