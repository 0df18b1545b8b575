//! What can go wrong opening the store (a statement's own failure is sqlx's error).

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{0}` is not a database URL Lodge can use: give sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the database: {0}")]
    Log(#[from] lodge_eventlog::LogError),
}
