//! The API's own tables (staff tokens, portal sessions, staff view links, limits' slots), in
//! `migrations/api/`: run by the server at start and by every `lodge` command.

use lodge_eventlog::Engine;
use lodge_store::Store;

pub async fn migrate(store: &Store) -> Result<(), sqlx::Error> {
    store
        .migrate(match store.engine() {
            Engine::Sqlite => sqlx::migrate!("../migrations/api/sqlite"),
            Engine::Postgres => sqlx::migrate!("../migrations/api/postgres"),
        })
        .await
}
