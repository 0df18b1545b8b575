//! The notifier's own tables (its checkpoint, retries, reminder plans and digests), in
//! `migrations/notifier/`: run by the notifier at start and by every `lodge` command.

use lodge_eventlog::Engine;
use lodge_store::Store;

pub async fn migrate(store: &Store) -> Result<(), sqlx::Error> {
    store
        .migrate(match store.engine() {
            Engine::Sqlite => sqlx::migrate!("../migrations/notifier/sqlite"),
            Engine::Postgres => sqlx::migrate!("../migrations/notifier/postgres"),
        })
        .await
}
