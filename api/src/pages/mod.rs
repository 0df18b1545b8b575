//! The portal as web pages: what a contact opens from the link in their email or SMS, and what
//! staff see through a view link. Server-rendered HTML (minijinja) with a little JavaScript for
//! uploads; every asset is in the binary. The pages read and write through the same use cases as
//! the portal API.

pub mod assets;
pub mod help;
pub mod layer;
pub mod templates;
pub mod viewer;

pub use templates::Pages;
