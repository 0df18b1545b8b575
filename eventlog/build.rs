//! The schema is embedded at compile time by `sqlx::migrate!`: rebuild when a migration changes or
//! a new one appears.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
