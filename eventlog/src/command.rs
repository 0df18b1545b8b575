//! The command path: load a stream, fold it, decide, append with the expected version. When another
//! writer got there first, reload and decide again, a bounded number of times. A command id seen
//! before returns its first outcome, once the command is shown to be the same one.

use lodge_domain::{Decider, EventSchema};

use crate::error::LogError;
use crate::log::EventLog;
use crate::types::{AppendOutcome, ExpectedVersion, Metadata, NewEvent, Position, StreamId};

/// How many times a command is decided again after losing a race for its stream.
pub const MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome<E> {
    /// What the command recorded; empty when it changed nothing.
    pub events: Vec<E>,
    /// The stream's version after the command.
    pub stream_version: u64,
    /// The global position a reader must reach to see the outcome (None: the stream is empty).
    pub position: Option<Position>,
    /// The command id had been seen before: these are the events its first run recorded.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    /// The domain refused the command.
    #[error(transparent)]
    Rejected(E),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("stream {stream} kept changing while this command was decided; gave up after {attempts} attempts")]
    Contention { stream: StreamId, attempts: u32 },
}

/// Decides `command` against the current state of `stream` and appends what it decides.
pub async fn execute<D>(
    log: &EventLog,
    stream: &StreamId,
    command: &D::Command,
    metadata: &Metadata,
) -> Result<CommandOutcome<D::Event>, CommandError<D::Error>>
where
    D: Decider,
    D::Event: EventSchema,
{
    execute_all::<D>(log, stream, std::slice::from_ref(command), metadata).await
}

/// Decides `commands` one after another, each against the state the ones before it left, and
/// appends everything they decide in one append: all of them are recorded, or none (several files
/// uploaded in one request, say).
#[tracing::instrument(
    skip_all,
    fields(command = commands.first().map_or("none", D::command_name), commands = commands.len(), stream = %stream, command_id = %metadata.command_id, correlation_id = %metadata.correlation_id)
)]
pub async fn execute_all<D>(
    log: &EventLog,
    stream: &StreamId,
    commands: &[D::Command],
    metadata: &Metadata,
) -> Result<CommandOutcome<D::Event>, CommandError<D::Error>>
where
    D: Decider,
    D::Event: EventSchema,
{
    for attempt in 1..=MAX_ATTEMPTS {
        if let Some(first) = log.command_outcome(metadata.command_id).await? {
            return Ok(replay::<D>(log, stream, commands, metadata, first).await?);
        }
        let history = match log.read_stream(stream).await {
            Ok(history) => history,
            Err(LogError::UnknownStream(_)) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        let mut state = D::State::default();
        for recorded in &history {
            state = D::evolve(state, &recorded.decode::<D::Event>()?);
        }
        let events = decide_all::<D>(state, commands).map_err(CommandError::Rejected)?;
        let head = history.last();
        if events.is_empty() {
            return Ok(CommandOutcome {
                events,
                stream_version: head.map_or(0, |e| e.stream_version),
                position: head.map(|e| e.position),
                replayed: false,
            });
        }
        let expected = head.map_or(ExpectedVersion::NoStream, |e| ExpectedVersion::Exact(e.stream_version));
        let new_events: Vec<NewEvent> = events.iter().map(NewEvent::from_domain).collect();
        match log.append(stream, expected, &new_events, metadata).await {
            Ok(outcome) if outcome.duplicate => return Ok(replay::<D>(log, stream, commands, metadata, outcome).await?),
            Ok(outcome) => {
                return Ok(CommandOutcome {
                    events,
                    stream_version: outcome.last_version,
                    position: Some(outcome.last_position),
                    replayed: false,
                });
            }
            Err(LogError::VersionConflict { .. }) => {
                tracing::debug!(attempt, "the stream moved on while deciding; deciding again");
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(CommandError::Contention {
        stream: stream.clone(),
        attempts: MAX_ATTEMPTS,
    })
}

/// What `commands` decide in turn, starting from `state`.
fn decide_all<D: Decider>(mut state: D::State, commands: &[D::Command]) -> Result<Vec<D::Event>, D::Error> {
    let mut decided = Vec::new();
    for command in commands {
        let events = D::decide(&state, command)?;
        for event in &events {
            state = D::evolve(state, event);
        }
        decided.extend(events);
    }
    Ok(decided)
}

/// The events a command appended the first time it ran. A command id names one command: the
/// repeat must decide, against the state its first run saw, exactly what that run appended;
/// anything else is another command under a reused id.
async fn replay<D>(
    log: &EventLog,
    stream: &StreamId,
    commands: &[D::Command],
    metadata: &Metadata,
    first: AppendOutcome,
) -> Result<CommandOutcome<D::Event>, LogError>
where
    D: Decider,
    D::Event: EventSchema,
{
    let reused = || LogError::CommandIdReused {
        command_id: metadata.command_id,
        first_stream: first.stream_id.to_string(),
    };
    if &first.stream_id != stream {
        return Err(reused());
    }
    let history = log.read_stream(stream).await?;
    let mut before = D::State::default();
    let mut events = Vec::new();
    for recorded in &history {
        let event = recorded.decode::<D::Event>()?;
        if recorded.stream_version < first.first_version {
            before = D::evolve(before, &event);
        } else if recorded.stream_version <= first.last_version {
            events.push(event);
        }
    }
    let same = |decided: &[D::Event]| {
        decided.len() == events.len()
            && decided
                .iter()
                .zip(&events)
                .all(|(a, b)| NewEvent::from_domain(a) == NewEvent::from_domain(b))
    };
    match decide_all::<D>(before, commands) {
        Ok(decided) if same(&decided) => {}
        _ => return Err(reused()),
    }
    Ok(CommandOutcome {
        events,
        stream_version: first.last_version,
        position: Some(first.last_position),
        replayed: true,
    })
}

/// The state `stream`'s whole history folds to: the decider's default when it has none.
pub async fn state_of<D>(log: &EventLog, stream: &StreamId) -> Result<D::State, LogError>
where
    D: Decider,
    D::Event: EventSchema,
{
    let history = match log.read_stream(stream).await {
        Ok(history) => history,
        Err(LogError::UnknownStream(_)) => return Ok(D::State::default()),
        Err(error) => return Err(error),
    };
    let events = history
        .iter()
        .map(|recorded| recorded.decode::<D::Event>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(D::fold(&events))
}
