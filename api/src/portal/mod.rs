//! The contact's side: sessions opened with a portal link, and what a contact does on their portal.

pub mod cache;
pub mod contact;
pub mod password;
pub mod session;
pub mod uploads;
pub mod view;
