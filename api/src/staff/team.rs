//! The firm's team as the log has it: who a token's member is now (their role, whether they are
//! still active). Read from the team's stream itself, folded by the domain: a team is a few dozen
//! events, one read per staff request.

use lodge_domain::Decider;
use lodge_domain::team::{TeamDecider, TeamEvent, TeamState};
use lodge_eventlog::{EventLog, LogError, StreamId};

/// The team as its stream leaves it (empty before its first member).
pub async fn team(log: &EventLog) -> Result<TeamState, LogError> {
    let recorded = match log.read_stream(&StreamId::team()).await {
        Ok(recorded) => recorded,
        Err(LogError::UnknownStream(_)) => Vec::new(),
        Err(other) => return Err(other),
    };
    let events = recorded
        .iter()
        .map(|event| event.decode::<TeamEvent>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TeamDecider::fold(&events))
}
