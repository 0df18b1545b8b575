//! Liveness and readiness: is the process up, can it reach its database, how far behind the log
//! each projector is.

use chrono::Utc;
use lodge_eventlog::Position;
use lodge_projections::all;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub database: &'static str,
    pub head: i64,
    pub projectors: Vec<ProjectorLag>,
}

/// What `/readyz` answers: whether Lodge is ready, and, to operators, the database, the log's head
/// and where each projector stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadinessReport {
    pub ready: bool,
    /// `ok`, or `unreachable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projectors: Option<Vec<ProjectorLag>>,
}

impl ReadinessReport {
    /// The whole report, for operators; otherwise whether it is ready, and nothing else.
    pub fn of(readiness: Readiness, for_operators: bool) -> Self {
        if !for_operators {
            return Self::summary(readiness.ready);
        }
        Self {
            ready: readiness.ready,
            database: Some(readiness.database),
            head: Some(readiness.head),
            projectors: Some(readiness.projectors),
        }
    }

    /// The database could not be reached.
    pub fn unreachable(for_operators: bool) -> Self {
        Self {
            database: for_operators.then_some("unreachable"),
            ..Self::summary(false)
        }
    }

    fn summary(ready: bool) -> Self {
        Self {
            ready,
            database: None,
            head: None,
            projectors: None,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectorLag {
    pub name: &'static str,
    pub position: i64,
    /// Positions between the projector and the head of the log.
    pub lag_events: i64,
    /// How long the oldest event the projector has not applied has waited (0 when caught up).
    pub lag_seconds: f64,
    /// Why the projector stopped, if it did: a stopped projector makes the server not ready.
    pub error: Option<String>,
    /// Its oldest event not applied has waited longer than [`FAR_BEHIND`]: reads would show a past
    /// that is too old, so the server is not ready (a projector retrying after the database went
    /// away, say).
    pub far_behind: bool,
}

/// How long the oldest event a projector has not applied may wait before the server says it is
/// not ready.
pub const FAR_BEHIND: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn readiness(state: &AppState) -> Result<Readiness, ApiError> {
    let head = state.log.settled_head().await?;
    let mut projectors = Vec::new();
    for name in all::NAMES {
        let status = state.read_models.status(name).await?;
        let position = status.as_ref().map_or(Position::START, |s| s.position);
        let error = status
            .and_then(|s| s.failure)
            .map(|(at, reason)| format!("stopped at position {at}: {reason}"));
        let lag_seconds = match state.log.read_all(position, 1).await?.first() {
            Some(oldest) if oldest.position <= head => {
                ((Utc::now() - oldest.recorded_at).num_milliseconds().max(0) as f64) / 1000.0
            }
            _ => 0.0,
        };
        projectors.push(ProjectorLag {
            name,
            position: position.0,
            lag_events: (head.0 - position.0).max(0),
            lag_seconds,
            error,
            far_behind: lag_seconds > FAR_BEHIND.as_secs_f64(),
        });
    }
    Ok(Readiness {
        ready: projectors.iter().all(|p| p.error.is_none() && !p.far_behind),
        database: "ok",
        head: head.0,
        projectors,
    })
}
