//! A transaction that writes. On SQLite it first waits for this process's turn to write the file
//! (`WriteGate`, shared with the log's appends) and keeps the turn until it ends, so that writers
//! queue in order instead of sleeping in SQLite's busy handler.

use lodge_eventlog::sqlite::WriteTurn;
use sqlx::{Postgres, Sqlite, Transaction};

use crate::connection::{AsConnection, Native, NativeConnection};

pub struct WriteTransaction<'c> {
    // Fields drop in order: the transaction ends before the turn passes on.
    transaction: Native<Transaction<'c, Sqlite>, Transaction<'c, Postgres>>,
    _turn: Option<WriteTurn>,
}

impl<'c> WriteTransaction<'c> {
    pub(crate) fn new(
        transaction: Native<Transaction<'c, Sqlite>, Transaction<'c, Postgres>>,
        turn: Option<WriteTurn>,
    ) -> Self {
        Self {
            transaction,
            _turn: turn,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.transaction {
            Native::Sqlite(t) => t.commit().await,
            Native::Postgres(t) => t.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.transaction {
            Native::Sqlite(t) => t.rollback().await,
            Native::Postgres(t) => t.rollback().await,
        }
    }
}

impl AsConnection for WriteTransaction<'_> {
    fn native(&mut self) -> NativeConnection<'_> {
        match &mut self.transaction {
            Native::Sqlite(t) => Native::Sqlite(&mut **t),
            Native::Postgres(t) => Native::Postgres(&mut **t),
        }
    }
}
