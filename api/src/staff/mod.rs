//! The staff side: tokens, authentication, and what staff do to invites.

pub mod archive;
pub mod auth;
pub mod firm;
pub mod invites;
pub mod records;
pub mod team;
pub mod team_record;
pub mod tokens;
pub mod view_links;
