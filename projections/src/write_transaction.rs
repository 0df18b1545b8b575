//! A transaction that writes read models. On SQLite it first waits for this process's turn to write
//! the file (`WriteGate`, shared with the log's appends) and keeps the turn until it ends, so that
//! writers queue in order instead of sleeping in SQLite's busy handler.

use std::ops::{Deref, DerefMut};

use lodge_eventlog::sqlite::WriteTurn;
use sqlx::{Any, AnyConnection, Transaction};

pub struct WriteTransaction<'c> {
    // Fields drop in order: the transaction ends before the turn passes on.
    transaction: Transaction<'c, Any>,
    _turn: Option<WriteTurn>,
}

impl<'c> WriteTransaction<'c> {
    pub(crate) fn new(transaction: Transaction<'c, Any>, turn: Option<WriteTurn>) -> Self {
        Self {
            transaction,
            _turn: turn,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.transaction.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.transaction.rollback().await
    }
}

impl Deref for WriteTransaction<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.transaction
    }
}

impl DerefMut for WriteTransaction<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.transaction
    }
}
