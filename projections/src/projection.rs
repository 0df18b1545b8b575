//! What a projection is: tables, and the rows it writes for one invite.

use std::future::Future;
use std::pin::Pin;

use sqlx::AnyConnection;

use crate::error::ProjectionError;
use crate::history::InviteHistory;
use crate::store::ReadStore;

/// A read-model table: `columns` is the body of its CREATE TABLE, `indexes` the columns of each
/// index, both in SQL that SQLite and PostgreSQL share.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static str,
    pub indexes: &'static [&'static str],
}

/// One generation of a projection's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(pub i64);

impl Generation {
    /// The physical name of `table` in this generation.
    pub fn table(&self, table: &str) -> String {
        format!("{table}__g{}", self.0)
    }
}

/// What a generation's tables already hold about the invites being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// Perhaps rows from an earlier write, which the write replaces.
    Rows,
    /// Nothing: a rebuild writes each invite once into new tables, before their secondary indexes
    /// exist, so the write need not look for old rows (without those indexes, looking would scan).
    Nothing,
}

pub trait Projection: Send + Sync + 'static {
    /// Stable: the key of the projector's checkpoint.
    const NAME: &'static str;
    const TABLES: &'static [Table];

    /// Writes everything this projection keeps about each invite, as its whole history says, into
    /// `generation`'s tables, replacing what was there; one history per invite. It must depend on
    /// the histories alone: it is called again for every new event of an invite, and with
    /// histories that run ahead of the projector's checkpoint. Writing a batch of invites at once
    /// lets a projection use a few set-based statements instead of a few per invite.
    /// `store` knows the database's dialect (see [`ReadStore::insert_json_rows`]); `connection` is
    /// inside the transaction that also moves the projector's checkpoint.
    fn write(
        &self,
        store: &ReadStore,
        connection: &mut AnyConnection,
        generation: Generation,
        prior: Prior,
        histories: &[InviteHistory],
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send;
}

/// A projection behind a pointer, for work on several at once (a rebuild renders each invite for
/// all of them in one pass).
pub trait DynProjection: Send + Sync {
    fn name(&self) -> &'static str;
    fn tables(&self) -> &'static [Table];
    fn write_dyn<'a>(
        &'a self,
        store: &'a ReadStore,
        connection: &'a mut AnyConnection,
        generation: Generation,
        prior: Prior,
        histories: &'a [InviteHistory],
    ) -> Pin<Box<dyn Future<Output = Result<(), ProjectionError>> + Send + 'a>>;
}

impl<P: Projection> DynProjection for P {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn tables(&self) -> &'static [Table] {
        P::TABLES
    }

    fn write_dyn<'a>(
        &'a self,
        store: &'a ReadStore,
        connection: &'a mut AnyConnection,
        generation: Generation,
        prior: Prior,
        histories: &'a [InviteHistory],
    ) -> Pin<Box<dyn Future<Output = Result<(), ProjectionError>> + Send + 'a>> {
        Box::pin(self.write(store, connection, generation, prior, histories))
    }
}
