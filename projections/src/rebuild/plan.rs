//! A rebuild's plan: which generation each projection is rebuilt into, and how far it has got,
//! kept so that a rebuild interrupted (or crashed) is resumed where it stood.

use chrono::Utc;
use lodge_eventlog::EventLog;
use lodge_store::{AsConnection, on};

use crate::error::ProjectionError;
use crate::projection::{DynProjection, Generation};
use crate::store::ReadStore;
use crate::tables;

/// Where a rebuild stands, kept in `lodge_rebuilds` so that a rebuild run again resumes there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Rendering every stream, a page at a time, after `cursor`.
    Streams,
    /// Following the log from `position`.
    CatchUp,
}

impl Phase {
    /// As stored (a rebuild an earlier Lodge began is resumed from the same words).
    fn as_str(self) -> &'static str {
        match self {
            Phase::Streams => "streams",
            Phase::CatchUp => "catch_up",
        }
    }

    fn parse(stored: &str) -> Result<Self, ProjectionError> {
        match stored {
            "streams" => Ok(Phase::Streams),
            "catch_up" => Ok(Phase::CatchUp),
            other => Err(ProjectionError::Malformed(format!("a rebuild's phase `{other}`"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    pub phase: Phase,
    /// The last stream rendered, while rendering every stream.
    pub cursor: Option<String>,
    /// The log's settled head when the rebuild began; then how far the catch-up has got.
    pub position: i64,
}

async fn load_plan(store: &ReadStore, name: &str) -> Result<Option<(Generation, Plan)>, ProjectionError> {
    let row: Option<(i64, String, Option<String>, i64)> = on!(store.store(), |c| {
        sqlx::query_as("SELECT generation, phase, stream_cursor, position FROM lodge_rebuilds WHERE projection = $1")
            .bind(name)
            .fetch_optional(c)
            .await
    })?;
    row.map(|(generation, phase, cursor, position)| {
        Ok((
            Generation(generation),
            Plan {
                phase: Phase::parse(&phase)?,
                cursor,
                position,
            },
        ))
    })
    .transpose()
}

pub(super) async fn save_plan(
    connection: &mut dyn AsConnection,
    projections: &[(&dyn DynProjection, Generation)],
    plan: &Plan,
) -> Result<(), ProjectionError> {
    for (projection, _) in projections {
        on!(connection, |c| {
            sqlx::query("UPDATE lodge_rebuilds SET phase = $2, stream_cursor = $3, position = $4 WHERE projection = $1")
                .bind(projection.name())
                .bind(plan.phase.as_str())
                .bind(plan.cursor.clone())
                .bind(plan.position)
                .execute(c)
                .await
                .map(|_| ())
        })?;
    }
    Ok(())
}

/// Removes what was kept of `projection`'s rebuild: it starts afresh, or it is done.
pub(super) async fn forget_plan(connection: &mut dyn AsConnection, projection: &str) -> Result<(), ProjectionError> {
    on!(connection, |c| {
        sqlx::query("DELETE FROM lodge_rebuilds WHERE projection = $1")
            .bind(projection)
            .execute(c)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// Finds where the rebuild of `projections` stands: the same unfinished plan for all of them is
/// resumed; otherwise each starts afresh in the generation after its live one.
pub(super) async fn prepare(
    log: &EventLog,
    store: &ReadStore,
    projections: &[&'static dyn DynProjection],
) -> Result<(Vec<(&'static dyn DynProjection, Generation)>, Plan, bool), ProjectionError> {
    let mut plans = Vec::new();
    for projection in projections {
        plans.push(load_plan(store, projection.name()).await?);
    }
    if let Some(Some((_, first))) = plans.first()
        && plans.iter().all(|p| p.as_ref().is_some_and(|(_, plan)| plan == first))
    {
        let targets: Vec<(&'static dyn DynProjection, Generation)> = projections
            .iter()
            .zip(&plans)
            .map(|(p, plan)| (*p, plan.as_ref().expect("checked above").0))
            .collect();
        // A rebuild an earlier Lodge began has no tables of its own for what it did not know of.
        let mut tx = store.store().begin_write().await?;
        for (projection, generation) in &targets {
            tables::add_missing_tables(&mut tx, store.engine(), projection.tables(), *generation).await?;
        }
        tx.commit().await?;
        return Ok((targets, first.clone(), true));
    }
    let plan = Plan {
        phase: Phase::Streams,
        cursor: None,
        position: log.settled_head().await?.0,
    };
    let mut tx = store.store().begin_write().await?;
    let mut targets = Vec::new();
    for projection in projections {
        let live = store
            .live_generation(&mut tx, projection.name())
            .await?
            .ok_or_else(|| ProjectionError::Malformed(format!("projection {} is not registered", projection.name())))?;
        let target = Generation(live.0 + 1);
        // Leftovers of an abandoned rebuild into the same generation go first.
        tables::drop_tables(&mut tx, projection.tables(), target).await?;
        tables::create_tables(&mut tx, store.engine(), projection.tables(), target).await?;
        forget_plan(&mut tx, projection.name()).await?;
        on!(tx, |c| {
            sqlx::query(
                "INSERT INTO lodge_rebuilds (projection, generation, phase, stream_cursor, position, started_at)
             VALUES ($1, $2, $3, NULL, $4, $5)",
            )
            .bind(projection.name())
            .bind(target.0)
            .bind(plan.phase.as_str())
            .bind(plan.position)
            .bind(Utc::now().to_rfc3339())
            .execute(c)
            .await
            .map(|_| ())
        })?;
        targets.push((*projection, target));
    }
    tx.commit().await?;
    Ok((targets, plan, false))
}
