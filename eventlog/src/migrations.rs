//! Each crate owns its tables and runs its own migrations (`migrations/{crate}/{engine}/`): the log
//! crate the log's, projections the read models' registry, api the sessions', tokens' and limits',
//! the notifier its own. They share one record of what ran (`_sqlx_migrations`) and one sequence of
//! version numbers across crates (a new migration takes the next number of its engine, whichever
//! crate it is in), which is how databases made before the split keep their record as it is.

use sqlx::migrate::Migrator;

/// `migrator`, one crate's migrations, told that versions it does not know were run by another
/// crate's, not lost.
pub fn of_a_crate(mut migrator: Migrator) -> Migrator {
    migrator.set_ignore_missing(true);
    migrator
}
