//! The team's record: who joined, whose role changed, who was deactivated or reactivated (the
//! `team` stream), each change to the firm's details (`firm`), and every sign-in, refusal, password, two-step change and sign-in link (the
//! `sign-ins` stream), newest first, each with who did it and from where. Read from the log itself,
//! which is the record: both streams are a firm's staff and their sign-ins, small beside its
//! invites (a firm of 20 signing in twice a working day adds about 10,000 events a year).

use chrono::{DateTime, Utc};
use lodge_domain::firm::FirmEvent;
use lodge_domain::team::{LinkPurpose, Role, SecondStep, SignInEvent, SignInMethod, TeamDecider, TeamEvent, TeamState};
use lodge_domain::{Actor, Decider, StaffId};
use lodge_eventlog::{EventLog, LogError, RecordedEvent, StreamId};
use serde::Serialize;

use crate::error::ApiError;

/// Which part of the record to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    #[default]
    All,
    /// Joining, roles, deactivation, and the firm's details.
    Team,
    /// Sign-ins and everything about proving who one is.
    SignIns,
}

/// One thing that happened, as the record page and its CSV show it. `what` names the words (a key
/// of the console's text: `record_{what}`); `member` and `detail` fill them in.
#[derive(Debug, Clone, Serialize)]
pub struct TeamRecordEntry {
    pub position: i64,
    pub at: DateTime<Utc>,
    /// Who did it: a member's name, or None for Lodge itself (a refusal, an email sent).
    pub by: Option<String>,
    pub what: String,
    /// Whom it is about: a member's name (or the email tried, for an unknown account).
    pub member: String,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

async fn stream(log: &EventLog, id: &StreamId) -> Result<Vec<RecordedEvent>, LogError> {
    match log.read_stream(id).await {
        Err(LogError::UnknownStream(_)) => Ok(Vec::new()),
        other => other,
    }
}

fn role(role: Role) -> String {
    role.as_str().to_owned()
}

/// The record, newest first.
pub async fn entries(log: &EventLog, part: Part) -> Result<Vec<TeamRecordEntry>, ApiError> {
    let team_events = stream(log, &StreamId::team()).await?;
    let decoded = team_events
        .iter()
        .map(|event| event.decode::<TeamEvent>())
        .collect::<Result<Vec<_>, _>>()?;
    let team: TeamState = TeamDecider::fold(&decoded);
    let name = |id: StaffId| team.members.get(&id).map_or_else(|| id.to_string(), |m| m.name.clone());
    let mut entries = Vec::new();
    if part != Part::SignIns {
        for (recorded, event) in team_events.iter().zip(&decoded) {
            let (what, member, detail) = match event {
                TeamEvent::MemberJoined(e) => ("member_joined", e.staff_id, Some(role(e.role))),
                TeamEvent::MemberRoleChanged(e) => (
                    "role_changed",
                    e.staff_id,
                    Some(format!("{} → {}", role(e.from), role(e.to))),
                ),
                TeamEvent::MemberDeactivated(e) => ("member_deactivated", e.staff_id, None),
                TeamEvent::MemberReactivated(e) => ("member_reactivated", e.staff_id, None),
            };
            entries.push(entry(recorded, what.to_owned(), name(member), detail));
        }
    }
    if part != Part::SignIns {
        for recorded in stream(log, &StreamId::firm()).await? {
            let FirmEvent::FirmDetailsChanged(details) = recorded.decode::<FirmEvent>()?;
            entries.push(entry(
                &recorded,
                "firm_details_changed".into(),
                String::new(),
                Some(details.name),
            ));
        }
    }
    if part != Part::Team {
        for recorded in stream(log, &StreamId::sign_ins()).await? {
            let (what, member, detail) = match recorded.decode::<SignInEvent>()? {
                SignInEvent::SignedIn(e) => {
                    let method = match e.method {
                        SignInMethod::Link => "link",
                        SignInMethod::Password => "password",
                    };
                    let step = match e.second_step {
                        None => "",
                        Some(SecondStep::Code) => "_code",
                        Some(SecondStep::RecoveryCode) => "_recovery_code",
                    };
                    (format!("signed_in_{method}{step}"), name(e.staff_id), None)
                }
                SignInEvent::SignInRefused(e) => (
                    format!("refused_{}", snake_reason(e.reason)),
                    e.staff_id.map_or(e.email.clone(), name),
                    None,
                ),
                SignInEvent::PasswordChosen(e) => ("password_chosen".into(), name(e.staff_id), None),
                SignInEvent::SignedOut(e) => (
                    if e.everywhere {
                        "signed_out_everywhere"
                    } else {
                        "signed_out"
                    }
                    .into(),
                    name(e.staff_id),
                    None,
                ),
                SignInEvent::TwoStepTurnedOn(e) => ("two_step_on".into(), name(e.staff_id), None),
                SignInEvent::TwoStepTurnedOff(e) => ("two_step_off".into(), name(e.staff_id), None),
                SignInEvent::RecoveryCodesMade(e) => ("recovery_codes_made".into(), name(e.staff_id), None),
                SignInEvent::SignInLinkMade(e) => (
                    match e.purpose {
                        LinkPurpose::Welcome => "link_made_welcome",
                        LinkPurpose::Reset => "link_made_reset",
                    }
                    .into(),
                    name(e.staff_id),
                    None,
                ),
                SignInEvent::SignInLinkEmailed(e) => ("link_emailed".into(), name(e.staff_id), None),
                SignInEvent::SignInLinkNotEmailed(e) => ("link_not_emailed".into(), name(e.staff_id), Some(e.reason)),
            };
            entries.push(entry(&recorded, what, member, detail));
        }
    }
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.position));
    Ok(entries)
}

fn snake_reason(reason: lodge_domain::team::RefusalReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn entry(recorded: &RecordedEvent, what: String, member: String, detail: Option<String>) -> TeamRecordEntry {
    let by = match &recorded.metadata.actor {
        Actor::Staff { name, .. } | Actor::Contact { name, .. } => Some(name.clone()),
        Actor::System => None,
    };
    let source = recorded.metadata.source.as_ref();
    TeamRecordEntry {
        position: recorded.position.0,
        at: recorded.recorded_at,
        by,
        what,
        member,
        detail,
        ip: source.and_then(|s| s.ip.map(|ip| ip.to_string())),
        user_agent: source.and_then(|s| s.user_agent.clone()),
    }
}
