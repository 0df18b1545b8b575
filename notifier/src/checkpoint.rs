//! The notifier's place in the log, written through the leader's connection.

use chrono::Utc;
use lodge_eventlog::Position;
use lodge_projections::ProjectionError;
use lodge_store::{Connection, Store, on};

const NAME: &str = "notifier";

pub async fn load(connection: &mut Connection) -> Result<Position, sqlx::Error> {
    let position: Option<i64> = on!(connection, |c| {
        sqlx::query_scalar("SELECT position FROM lodge_notifier WHERE name = $1")
            .bind(NAME)
            .fetch_optional(c)
            .await
    })?;
    Ok(Position(position.unwrap_or(0)))
}

pub async fn save(store: &Store, connection: &mut Connection, position: Position) -> Result<(), ProjectionError> {
    let mut tx = store.begin_write_on(connection).await?;
    on!(tx, |c| {
        sqlx::query(
            "INSERT INTO lodge_notifier (name, position, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
        )
        .bind(NAME)
        .bind(position.0)
        .bind(Utc::now().to_rfc3339())
        .execute(c)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(())
}
