//! Rows on their way into a read-model table, in two steps: encoding them for the engine is CPU
//! work that needs no connection (a rebuild encodes the next batch while the server writes this
//! one); running the load is the transaction's.
//!
//! - Into a rebuild's new tables, which hold nothing the rows could conflict with, PostgreSQL takes
//!   rows by `COPY ... FROM STDIN`, about three times faster than as JSON (docs/decisions/0015), in
//!   its binary format (docs/decisions/0023).
//! - Where rows may conflict, on PostgreSQL they travel as one JSON parameter expanded by
//!   `json_populate_recordset`: sqlx spends far longer binding thousands of parameters than the
//!   server spends inserting.
//! - On SQLite, in-process, bound parameters are cheap and JSON functions are not (each column
//!   would parse its row again), so rows go as multi-row VALUES.

use lodge_eventlog::Engine;
use lodge_store::{AsConnection, Native, on};

use crate::error::ProjectionError;
use crate::row_values::{self, Cell, CopyBinary};

/// Rows ready to load into one table.
#[derive(Debug)]
pub struct Load {
    table: String,
    columns: &'static [&'static str],
    /// An `ON CONFLICT …` clause, or empty.
    conflict: &'static str,
    rows: Rows,
}

#[derive(Debug)]
enum Rows {
    /// Binary COPY data, signature to trailer.
    Copy(Vec<u8>),
    /// A JSON array of objects keyed by column.
    Json(String),
    /// Each row's values, in column order.
    Values(Vec<Vec<Cell>>),
    /// Deletes the rows whose `scope_column` is in one JSON array of text and whose `keep_column`
    /// is not in the other.
    Delete {
        engine: Engine,
        scope_column: &'static str,
        scope: String,
        keep_column: &'static str,
        keep: String,
    },
}

/// Anonymous `?` parameters: SQLite looks each named one up among those before it, which is
/// quadratic in a statement of thousands. 500 rows stay well under its limit of 32,766 parameters.
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

/// Inserts rows of values into `table` as multi-row VALUES statements (SQLite), with `conflict` (an
/// `ON CONFLICT …` clause, or empty) after each.
///
async fn insert_values(
    connection: &mut dyn AsConnection,
    table: &str,
    columns: &[&str],
    conflict: &str,
    rows: Vec<Vec<Cell>>,
) -> Result<(), ProjectionError> {
    let Native::Sqlite(connection) = connection.native() else {
        return Err(ProjectionError::Malformed("rows for SQLite on another database".into()));
    };
    let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Cell>> = rows.by_ref().take(SQLITE_ROWS_PER_STATEMENT).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        sql.push_str(&vec![placeholders.as_str(); chunk.len()].join(", "));
        sql.push(' ');
        sql.push_str(conflict);
        let mut query = sqlx::query::<sqlx::Sqlite>(sqlx::AssertSqlSafe(sql));
        for cell in chunk.into_iter().flatten() {
            query = match cell {
                Cell::Null => query.bind(None::<String>),
                Cell::Integer(n) => query.bind(n),
                Cell::Text(text) => query.bind(text),
                Cell::Bytes(bytes) => query.bind(bytes),
            };
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

impl Load {
    /// Encodes `rows`, whose fields are `columns` in order, for a rebuild's new `table` on `engine`.
    pub fn fresh<T: serde::Serialize>(
        engine: Engine,
        table: String,
        columns: &'static [&'static str],
        rows: &[T],
    ) -> Result<Self, ProjectionError> {
        let rows = match engine {
            Engine::Postgres => {
                if rows.is_empty() {
                    Rows::Copy(Vec::new())
                } else {
                    let mut data = CopyBinary::with_capacity(rows.len() * 256);
                    for row in rows {
                        row_values::copy_row(&mut data, columns, row)
                            .map_err(|e| ProjectionError::Malformed(format!("rows of {table}: {e}")))?;
                    }
                    Rows::Copy(data.finish())
                }
            }
            Engine::Sqlite => values(&table, columns, rows)?,
        };
        Ok(Self {
            table,
            columns,
            conflict: "",
            rows,
        })
    }

    /// Encodes `rows` (serialised as objects keyed by column) for `table` on `engine`, where they
    /// may meet rows already there: `conflict` is an `ON CONFLICT …` clause, or empty.
    pub fn upsert<T: serde::Serialize>(
        engine: Engine,
        table: String,
        columns: &'static [&'static str],
        conflict: &'static str,
        rows: &[T],
    ) -> Result<Self, ProjectionError> {
        let rows = match engine {
            Engine::Postgres => Rows::Json(
                serde_json::to_string(rows).map_err(|e| ProjectionError::Malformed(format!("rows of {table}: {e}")))?,
            ),
            Engine::Sqlite => values(&table, columns, rows)?,
        };
        Ok(Self {
            table,
            columns,
            conflict,
            rows,
        })
    }

    /// Removes the rows of `table` whose `scope_column` is one of `scope`, except those whose
    /// `keep_column` is one of `keep`: what a projection no longer keeps about the invites it
    /// writes (its other rows of them it replaces by upserts).
    pub fn delete_others(
        engine: Engine,
        table: String,
        scope_column: &'static str,
        scope: &[String],
        keep_column: &'static str,
        keep: &[String],
    ) -> Self {
        let list = |values: &[String]| serde_json::to_string(values).expect("a list of text serialises");
        Self {
            table,
            columns: &[],
            conflict: "",
            rows: Rows::Delete {
                engine,
                scope_column,
                scope: list(scope),
                keep_column,
                keep: list(keep),
            },
        }
    }

    /// Whether running the load would change nothing.
    fn is_empty(&self) -> bool {
        match &self.rows {
            Rows::Copy(data) => data.is_empty(),
            Rows::Json(json) => json == "[]",
            Rows::Values(rows) => rows.is_empty(),
            Rows::Delete { scope, .. } => scope == "[]",
        }
    }

    /// The load as a data-modifying statement of a PostgreSQL `WITH` query that runs only if
    /// `condition` holds, its JSON taken from parameter `$parameter`, with the text to bind there;
    /// None if it would change nothing. A load of a rebuild's new tables (COPY) or for SQLite has no
    /// such form.
    pub(crate) fn postgres_step(
        &self,
        parameter: usize,
        condition: &str,
    ) -> Result<Option<(String, Vec<String>)>, ProjectionError> {
        if self.is_empty() {
            return Ok(None);
        }
        let (table, names) = (&self.table, self.columns.join(", "));
        match &self.rows {
            Rows::Json(json) => Ok(Some((
                json_insert(table, &names, parameter, &format!("WHERE {condition}"), self.conflict),
                vec![json.clone()],
            ))),
            Rows::Delete {
                engine: Engine::Postgres,
                scope_column,
                scope,
                keep_column,
                keep,
            } => Ok(Some((
                format!(
                    "{} AND {condition}",
                    delete(Engine::Postgres, table, scope_column, keep_column, parameter)
                ),
                vec![scope.clone(), keep.clone()],
            ))),
            Rows::Copy(_) | Rows::Values(_) | Rows::Delete { .. } => Err(ProjectionError::Malformed(format!(
                "rows of {table} cannot join a PostgreSQL statement"
            ))),
        }
    }

    /// Loads the rows, inside the transaction `connection` is in.
    pub async fn run(self, connection: &mut dyn AsConnection) -> Result<(), ProjectionError> {
        if self.is_empty() {
            return Ok(());
        }
        let (table, names) = (&self.table, self.columns.join(", "));
        match self.rows {
            Rows::Delete {
                engine,
                scope_column,
                scope,
                keep_column,
                keep,
            } => {
                let sql = delete(engine, table, scope_column, keep_column, 1);
                on!(connection, |c| {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(scope)
                        .bind(keep)
                        .execute(c)
                        .await
                        .map(|_| ())
                })?;
                Ok(())
            }
            Rows::Values(rows) => insert_values(connection, table, self.columns, self.conflict, rows).await,
            Rows::Json(json) => {
                let sql = json_insert(table, &names, 1, "", self.conflict);
                on!(connection, |c| {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(json)
                        .execute(c)
                        .await
                        .map(|_| ())
                })?;
                Ok(())
            }
            Rows::Copy(data) => {
                let Native::Postgres(postgres) = connection.native() else {
                    return Err(ProjectionError::Malformed(
                        "rows for PostgreSQL on another database".into(),
                    ));
                };
                let mut copy = postgres
                    .copy_in_raw(&format!("COPY {table} ({names}) FROM STDIN (FORMAT binary)"))
                    .await?;
                if let Err(error) = copy.send(data).await {
                    // Leaves the connection usable (for the rollback) instead of stuck mid-COPY.
                    let _ = copy.abort("the rows could not be sent").await;
                    return Err(error.into());
                }
                copy.finish().await?;
                Ok(())
            }
        }
    }
}

/// PostgreSQL: inserts the rows of the JSON array in parameter `$parameter` that pass `filter` (a
/// WHERE clause, or empty).
fn json_insert(table: &str, names: &str, parameter: usize, filter: &str, conflict: &str) -> String {
    format!(
        "INSERT INTO {table} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{table}, ${parameter}::json) {filter} {conflict}"
    )
}

/// Deletes the rows whose `scope_column` is in the JSON array of text in parameter `$parameter`
/// and whose `keep_column` is not in the one after it.
fn delete(engine: Engine, table: &str, scope_column: &str, keep_column: &str, parameter: usize) -> String {
    format!(
        "DELETE FROM {table} WHERE {scope_column} {} AND NOT ({keep_column} {})",
        in_json_list(engine, parameter),
        in_json_list(engine, parameter + 1)
    )
}

/// `IN (…)` over the JSON array of text given as parameter `$n`: one parameter for any number of
/// values. On PostgreSQL it is `= ANY(ARRAY(…))`: the planner guesses a hundred rows for a
/// set-returning function and, for `IN (SELECT …)`, then prefers a sequential scan of the table
/// to its index; an array it treats as short.
fn in_json_list(engine: Engine, n: usize) -> String {
    match engine {
        Engine::Postgres => format!("= ANY(ARRAY(SELECT json_array_elements_text(${n}::json)))"),
        Engine::Sqlite => format!("IN (SELECT value FROM json_each(${n}))"),
    }
}

fn values<T: serde::Serialize>(table: &str, columns: &[&str], rows: &[T]) -> Result<Rows, ProjectionError> {
    Ok(Rows::Values(
        rows.iter()
            .map(|row| row_values::cells(columns, row))
            .collect::<Result<_, _>>()
            .map_err(|e| ProjectionError::Malformed(format!("rows of {table}: {e}")))?,
    ))
}
