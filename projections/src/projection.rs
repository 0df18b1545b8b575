//! What a projection is: tables, and the rows it writes for one invite.

use lodge_eventlog::Engine;

use crate::error::ProjectionError;
use crate::history::{InviteHistory, Touched};
use crate::load::Load;

/// A read-model table: its `columns`, `key` the columns of its unique key (if any), `indexes` the
/// columns of each other index (with `WHERE` and a condition after them for an index of only the
/// rows that meet it), in SQL that SQLite and PostgreSQL share. The key is a unique index made with
/// the others, not a primary key among the columns: a rebuild loads rows first and builds indexes
/// after, which is far cheaper than updating them row by row. (A table that a rebuild loads with
/// `ON CONFLICT` on its key needs the key while loading, so declares it on its column instead.)
///
/// A table added to a projection after its first release names how to fill it from the
/// projection's other tables (`backfill`, an `INSERT … SELECT` for a generation on an engine), so
/// that a generation an earlier Lodge built gains it when the projection registers, without a
/// rebuild. A table that takes the place of an earlier one (`replaces`: its rows in another form)
/// is filled from it the same way, and the earlier table and its view are dropped once it is.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [crate::tables::Column],
    pub key: Option<&'static str>,
    pub indexes: &'static [&'static str],
    pub backfill: Option<fn(Engine, Generation) -> String>,
    pub replaces: Option<&'static str>,
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

pub trait Projection: Send + Sync + 'static {
    /// Stable: the key of the projector's checkpoint.
    const NAME: &'static str;
    const TABLES: &'static [Table];

    /// Everything this projection keeps about each invite a batch touches, as its whole history
    /// says, to replace what `generation`'s tables hold. It must depend on the histories alone: it
    /// is called again for every new event of an invite, and with histories that run ahead of the
    /// projector's checkpoint. It only encodes rows: the runtime writes them together with the
    /// projector's checkpoint, on PostgreSQL in one statement (docs/decisions/0025). Encoding a
    /// batch of invites at once lets each table take them in one statement instead of one per
    /// invite.
    fn writes(&self, engine: Engine, generation: Generation, touched: &[Touched])
    -> Result<Vec<Load>, ProjectionError>;

    /// The same rows as [`Projection::writes`], for a rebuild's new tables of `generation`, which
    /// hold nothing yet and receive each invite once: encoded for `engine` without touching the
    /// database, so that a rebuild encodes the next batch while the server writes this one. (The
    /// tables' keys and indexes are made after they are filled.)
    fn loads(
        &self,
        engine: Engine,
        generation: Generation,
        histories: &[InviteHistory],
    ) -> Result<Vec<Load>, ProjectionError>;
}

/// A projection behind a pointer, for work on several at once (a rebuild renders each invite for
/// all of them in one pass).
pub trait DynProjection: Send + Sync {
    fn name(&self) -> &'static str;
    fn tables(&self) -> &'static [Table];
    fn writes_dyn(
        &self,
        engine: Engine,
        generation: Generation,
        touched: &[Touched],
    ) -> Result<Vec<Load>, ProjectionError>;
    fn loads_dyn(
        &self,
        engine: Engine,
        generation: Generation,
        histories: &[InviteHistory],
    ) -> Result<Vec<Load>, ProjectionError>;
}

impl<P: Projection> DynProjection for P {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn tables(&self) -> &'static [Table] {
        P::TABLES
    }

    fn writes_dyn(
        &self,
        engine: Engine,
        generation: Generation,
        touched: &[Touched],
    ) -> Result<Vec<Load>, ProjectionError> {
        self.writes(engine, generation, touched)
    }

    fn loads_dyn(
        &self,
        engine: Engine,
        generation: Generation,
        histories: &[InviteHistory],
    ) -> Result<Vec<Load>, ProjectionError> {
        self.loads(engine, generation, histories)
    }
}
