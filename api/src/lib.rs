//! Lodge's HTTP API: the staff API (Bearer tokens), the portal API (a contact's session), health.
//!
//! Data flows one way: a handler turns a request into a command on the log, or reads a read model
//! that the projectors keep; it never writes a read model itself.

pub mod blobs;
mod commands;
pub mod console;
mod downloads;
pub mod error;
mod extract;
pub mod firm;
mod health;
pub mod limits;
pub mod listener;
pub mod live;
mod metrics;
pub mod migrations;
pub mod openapi;
pub mod own_writes;
pub mod pages;
pub mod portal;
mod routes;
mod same_origin;
pub mod secrets;
pub mod server;
pub mod settings;
pub mod staff;
mod state;
mod watcher;

pub use error::ApiError;
pub use server::{RunningServer, Server};
pub use settings::{Firm, SecretKey, Settings};
pub use state::{AppState, Services};
