//! Lodge's read models. Everything a person reads in Lodge is a projection of the event log.
//!
//! A [`Projection`] renders, from one invite's whole history, the rows it keeps about that invite.
//! Because rows depend on the history alone, writing them again is harmless, and a projector can read
//! a history that runs ahead of its checkpoint. The [`runtime`] follows the log from each projector's
//! checkpoint and writes rows and checkpoint together (one statement on PostgreSQL, one transaction
//! on SQLite), so a crash neither loses nor double-applies an event.
//!
//! Read-model tables carry a generation suffix (`portal_views__g1`) and are read through a view of
//! the plain name (`portal_views`), so that a rebuild can fill a new generation beside the live one.

pub mod all;
pub mod as_of;
pub mod audit;
mod batch_write;
mod error;
mod history;
mod load;
pub mod portal;
mod projection;
pub mod rebuild;
mod recent_histories;
mod row_values;
pub mod runtime;
pub mod staff;
mod store;
pub mod tables;

pub use error::ProjectionError;
pub use history::{HistoryEvent, InviteHistory, Touched};
pub use load::Load;
pub use projection::{DynProjection, Generation, Projection, Table};
pub use recent_histories::RecentHistories;
pub use store::{ProjectorStatus, ReadStore};
pub use tables::{Column, ColumnKind};
