//! A generation's tables: made, keyed and indexed, pointed at by the views, dropped; and their
//! columns, typed, written out for each engine.

use lodge_eventlog::Engine;
use lodge_store::{AsConnection, execute_sql, on};

use crate::error::ProjectionError;
use crate::projection::{Generation, Table};

/// A read-model table's column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub not_null: bool,
    /// Its table's key, declared with the column: for a table a rebuild loads with `ON CONFLICT`
    /// on it (see [`Table`]).
    pub primary_key: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Bytes,
    BigInt,
}

impl Column {
    const fn of(name: &'static str, kind: ColumnKind) -> Self {
        Self {
            name,
            kind,
            not_null: false,
            primary_key: false,
        }
    }

    pub const fn text(name: &'static str) -> Self {
        Self::of(name, ColumnKind::Text)
    }

    pub const fn bytes(name: &'static str) -> Self {
        Self::of(name, ColumnKind::Bytes)
    }

    pub const fn big_int(name: &'static str) -> Self {
        Self::of(name, ColumnKind::BigInt)
    }

    pub const fn not_null(self) -> Self {
        Self { not_null: true, ..self }
    }

    pub const fn primary_key(self) -> Self {
        Self {
            primary_key: true,
            ..self
        }
    }

    /// The column's definition on `engine`. On PostgreSQL, text columns compare byte by byte
    /// (`COLLATE "C"`), as SQLite's do: read models hold ids, hashes, ISO 8601 times and JSON,
    /// whose order is their bytes' order anyway, while a database's own collation (a glibc locale,
    /// even `C.UTF-8`) compares with `strcoll` and cannot sort by abbreviated keys, which made a
    /// rebuild's indexes on text ids take twice as long to build (docs/decisions/0018).
    fn definition(&self, engine: Engine) -> String {
        let kind = match (self.kind, engine) {
            (ColumnKind::Text, Engine::Sqlite) => "TEXT",
            (ColumnKind::Text, Engine::Postgres) => "TEXT COLLATE \"C\"",
            (ColumnKind::Bytes, Engine::Sqlite) => "BLOB",
            (ColumnKind::Bytes, Engine::Postgres) => "BYTEA",
            (ColumnKind::BigInt, _) => "BIGINT",
        };
        let mut definition = format!("{} {kind}", self.name);
        if self.primary_key {
            definition.push_str(" PRIMARY KEY");
        }
        if self.not_null {
            definition.push_str(" NOT NULL");
        }
        definition
    }
}

/// Creates `generation`'s tables, with their primary keys but without their secondary indexes.
pub(crate) async fn create_tables(
    connection: &mut dyn AsConnection,
    engine: Engine,
    tables: &[Table],
    generation: Generation,
) -> Result<(), ProjectionError> {
    for table in tables {
        let name = generation.table(table.name);
        let columns = column_definitions(engine, table.columns);
        execute_sql(connection, format!("CREATE TABLE {name} ({columns})")).await?;
    }
    Ok(())
}

/// Creates the tables of `generation` that it lacks (made by an earlier Lodge, before the tables
/// were part of their projection), each filled by its backfill from the projection's other tables
/// and then indexed; returns them. A table that replaces an earlier one is filled from it, which is
/// then dropped with its view. The added tables' views are the caller's: a rebuild's tables have
/// none until the switch. (A rebuild resumed in its catch-up phase builds no indexes again, so the
/// added tables get theirs here, whatever the phase.)
pub(crate) async fn add_missing_tables(
    connection: &mut dyn AsConnection,
    engine: Engine,
    tables: &[Table],
    generation: Generation,
) -> Result<Vec<Table>, ProjectionError> {
    let exists = match engine {
        Engine::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        Engine::Postgres => "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1",
    };
    let mut added = Vec::new();
    for table in tables {
        let name = generation.table(table.name);
        let found: i64 = on!(connection, |c| sqlx::query_scalar(exists).bind(name).fetch_one(c).await)?;
        if found > 0 {
            continue;
        }
        let backfill = table.backfill.ok_or_else(|| {
            ProjectionError::Malformed(format!(
                "table {} is missing from generation {} and cannot be filled in place: rebuild its projection",
                table.name, generation.0
            ))
        })?;
        create_tables(connection, engine, std::slice::from_ref(table), generation).await?;
        execute_sql(connection, backfill(engine, generation)).await?;
        create_indexes(connection, engine, std::slice::from_ref(table), generation).await?;
        if let Some(replaced) = table.replaces {
            // The view first: PostgreSQL keeps a table that a view still reads.
            execute_sql(connection, format!("DROP VIEW IF EXISTS {replaced}")).await?;
            execute_sql(
                connection,
                format!("DROP TABLE IF EXISTS {}", generation.table(replaced)),
            )
            .await?;
        }
        added.push(*table);
    }
    Ok(added)
}

fn column_definitions(engine: Engine, columns: &[Column]) -> String {
    let definitions: Vec<String> = columns.iter().map(|column| column.definition(engine)).collect();
    definitions.join(", ")
}

/// Creates the key and the other indexes of `generation`'s tables. A rebuild creates them once its
/// tables are filled: building an index over a full table is far cheaper than updating it row by row.
/// It then has PostgreSQL gather the tables' statistics, so that the planner sees them as full.
pub(crate) async fn create_indexes(
    connection: &mut dyn AsConnection,
    engine: Engine,
    tables: &[Table],
    generation: Generation,
) -> Result<(), ProjectionError> {
    for table in tables {
        for statement in index_statements(engine, table, generation) {
            execute_sql(connection, statement).await?;
        }
    }
    Ok(())
}

/// The statements that build `table`'s key and other indexes in `generation`, then, on PostgreSQL,
/// gather its statistics.
fn index_statements(engine: Engine, table: &Table, generation: Generation) -> Vec<String> {
    let name = generation.table(table.name);
    let mut statements = Vec::new();
    if let Some(key) = table.key {
        statements.push(format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {name}_key ON {name} ({key})"
        ));
    }
    for (i, index) in table.indexes.iter().enumerate() {
        let (columns, filter) = index_parts(index);
        let filter = filter.map_or(String::new(), |f| format!(" WHERE {f}"));
        statements.push(format!(
            "CREATE INDEX IF NOT EXISTS {name}_i{i} ON {name} ({columns}){filter}"
        ));
    }
    if engine == Engine::Postgres {
        // Only the columns reads look rows up by: on a wide table, statistics of every column
        // took as long as building its indexes.
        let mut looked_up: Vec<&str> = Vec::new();
        for column in table
            .key
            .iter()
            .copied()
            .chain(table.indexes.iter().map(|index| index_parts(index).0))
            .flat_map(|i| i.split(','))
            .map(str::trim)
        {
            if !looked_up.contains(&column) {
                looked_up.push(column);
            }
        }
        let columns = if looked_up.is_empty() {
            String::new()
        } else {
            format!(" ({})", looked_up.join(", "))
        };
        statements.push(format!("ANALYZE {name}{columns}"));
    }
    statements
}

/// An index's columns, and the condition of the rows it covers if it is partial (see [`Table`]).
fn index_parts(index: &str) -> (&str, Option<&str>) {
    match index.split_once(" WHERE ") {
        Some((columns, filter)) => (columns, Some(filter)),
        None => (index, None),
    }
}

pub(crate) async fn point_views_at(
    connection: &mut dyn AsConnection,
    tables: &[Table],
    generation: Generation,
) -> Result<(), ProjectionError> {
    for table in tables {
        execute_sql(connection, format!("DROP VIEW IF EXISTS {}", table.name)).await?;
        execute_sql(
            connection,
            format!(
                "CREATE VIEW {} AS SELECT * FROM {}",
                table.name,
                generation.table(table.name)
            ),
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn drop_tables(
    connection: &mut dyn AsConnection,
    tables: &[Table],
    generation: Generation,
) -> Result<(), ProjectionError> {
    // With what an earlier Lodge may have left of the tables they replace (an abandoned rebuild's).
    for name in tables
        .iter()
        .flat_map(|table| [Some(table.name), table.replaces])
        .flatten()
    {
        execute_sql(connection, format!("DROP TABLE IF EXISTS {}", generation.table(name))).await?;
    }
    Ok(())
}

/// SQL that makes bytes of `hex_text`, an expression of hexadecimal digits, on `engine`.
pub(crate) fn bytes_from_hex(engine: Engine, hex_text: &str) -> String {
    match engine {
        Engine::Sqlite => format!("unhex({hex_text})"),
        Engine::Postgres => format!("decode({hex_text}, 'hex')"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_text_columns_compare_bytes() {
        const COLUMNS: &[Column] = &[
            Column::text("token_hash").primary_key(),
            Column::big_int("position").not_null(),
            Column::text("doc"),
            Column::text("at").not_null(),
        ];
        assert_eq!(
            column_definitions(Engine::Postgres, COLUMNS),
            r#"token_hash TEXT COLLATE "C" PRIMARY KEY, position BIGINT NOT NULL, doc TEXT COLLATE "C", at TEXT COLLATE "C" NOT NULL"#
        );
        assert_eq!(
            column_definitions(Engine::Sqlite, COLUMNS),
            "token_hash TEXT PRIMARY KEY, position BIGINT NOT NULL, doc TEXT, at TEXT NOT NULL"
        );
        const BYTES: &[Column] = &[Column::bytes("invite_id").not_null(), Column::bytes("sha256")];
        assert_eq!(
            column_definitions(Engine::Postgres, BYTES),
            "invite_id BYTEA NOT NULL, sha256 BYTEA"
        );
        assert_eq!(
            column_definitions(Engine::Sqlite, BYTES),
            "invite_id BLOB NOT NULL, sha256 BLOB"
        );
    }

    #[test]
    fn a_partial_index_covers_only_the_rows_it_names() {
        const COLUMNS: &[Column] = &[Column::big_int("position").not_null(), Column::text("document_id")];
        let table = Table {
            name: "entries",
            columns: COLUMNS,
            key: Some("position"),
            indexes: &["document_id WHERE document_id IS NOT NULL"],
            backfill: None,
            replaces: None,
        };
        let statements = index_statements(Engine::Postgres, &table, Generation(3));
        assert_eq!(
            statements,
            [
                "CREATE UNIQUE INDEX IF NOT EXISTS entries__g3_key ON entries__g3 (position)",
                "CREATE INDEX IF NOT EXISTS entries__g3_i0 ON entries__g3 (document_id) WHERE document_id IS NOT NULL",
                "ANALYZE entries__g3 (position, document_id)",
            ]
        );
        assert_eq!(
            index_statements(Engine::Sqlite, &table, Generation(3)).len(),
            2,
            "no ANALYZE on SQLite"
        );
    }
}
