//! A batch's rows and the projector's checkpoint, written together: all of them or none.
//!
//! On PostgreSQL they go as one statement, each table's rows a data-modifying step of a `WITH`
//! query after the step that moves the checkpoint, and only if that step found the projector at the
//! generation written (docs/decisions/0025). A transaction of its own took five round trips more
//! per batch (begin, the generation's check, the checkpoint, commit, and one per table), and
//! under a steady load of appends those round trips, not the rows, were most of the server's work.
//! On SQLite, in process, a round trip costs little: the rows go in a transaction as before.

use lodge_eventlog::{Engine, Position};
use lodge_store::{AsConnection, Connection, Native};

use crate::error::ProjectionError;
use crate::load::Load;
use crate::projection::Generation;
use crate::store::{ReadStore, now};

/// Writes `loads` and moves `projector`'s checkpoint to `position`, through `connection`. Returns
/// false, having written nothing, when `generation` is no longer the live one (a rebuild switched).
pub(crate) async fn write_with_checkpoint(
    store: &ReadStore,
    connection: &mut Connection,
    projector: &str,
    generation: Generation,
    position: Position,
    loads: Vec<Load>,
) -> Result<bool, ProjectionError> {
    match store.engine() {
        Engine::Postgres => in_one_statement(connection, projector, generation, position, &loads).await,
        Engine::Sqlite => in_one_transaction(store, connection, projector, generation, position, loads).await,
    }
}

async fn in_one_statement(
    connection: &mut Connection,
    projector: &str,
    generation: Generation,
    position: Position,
    loads: &[Load],
) -> Result<bool, ProjectionError> {
    // The checkpoint's row lock is taken first, as `FOR SHARE` was: a rebuild switching the
    // generation waits for this statement, and one that switched before it leaves `checkpoint`
    // empty, so that no step writes.
    let mut sql = String::from(
        "WITH checkpoint AS (
           UPDATE lodge_projections SET position = $1, updated_at = $2 WHERE name = $3 AND generation = $4
           RETURNING 1)",
    );
    let mut texts = Vec::new();
    for (n, load) in loads.iter().enumerate() {
        if let Some((step, bound)) = load.postgres_step(5 + texts.len(), "EXISTS (SELECT FROM checkpoint)")? {
            sql.push_str(&format!(", step{n} AS ({step})"));
            texts.extend(bound);
        }
    }
    sql.push_str(" SELECT count(*) FROM checkpoint");
    let Native::Postgres(connection) = connection.native() else {
        return Err(ProjectionError::Malformed(
            "a PostgreSQL statement for another database".into(),
        ));
    };
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .bind(position.0)
        .bind(now())
        .bind(projector)
        .bind(generation.0);
    for text in texts {
        query = query.bind(text);
    }
    Ok(query.fetch_one(connection).await? == 1)
}

async fn in_one_transaction(
    store: &ReadStore,
    connection: &mut Connection,
    projector: &str,
    generation: Generation,
    position: Position,
    loads: Vec<Load>,
) -> Result<bool, ProjectionError> {
    let mut tx = store.store().begin_write_on(connection).await?;
    let written = async {
        if !ReadStore::save_position(&mut tx, projector, generation, position).await? {
            return Ok(false);
        }
        for load in loads {
            load.run(&mut tx).await?;
        }
        Ok(true)
    }
    .await;
    match written {
        Ok(true) => {
            tx.commit().await?;
            Ok(true)
        }
        outcome => {
            // At once, not on the connection's next use: the transaction holds the projector's
            // registry row, which the caller may be about to update from another connection.
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(%rollback, "rolling back a batch");
            }
            outcome
        }
    }
}
