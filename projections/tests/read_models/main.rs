//! The read models against a real log on each engine, in one test binary (one link of sqlx and
//! the projections instead of one per file).

mod support;

mod as_of;
mod audit;
mod portal;
mod rebuild;
mod rebuild_property;
mod runtime;
mod staff;
mod write_gate;
