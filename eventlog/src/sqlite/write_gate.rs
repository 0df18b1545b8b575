//! One queue per SQLite file for this process's writers: the log's appends and the read models'
//! transactions take turns here before they take SQLite's write lock.
//!
//! Why: SQLite has one write lock per file, and a connection that finds it taken sleeps in SQLite's
//! busy handler on a fixed backoff (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms), however soon
//! the lock comes free. Under a steady load the appends and the projectors kept waking late, and an
//! append took up to 165 ms to reach the portal view (docs/decisions/0016). Here they queue in
//! arrival order and each wakes the moment the turn before it ends. Other processes on the same file
//! (`lodge rebuild` beside `lodge serve`) still meet SQLite's busy handler, as before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The queue of writers to one SQLite file in this process.
#[derive(Clone)]
pub struct WriteGate {
    turns: Arc<AsyncMutex<()>>,
}

/// A writer's turn: while it is held, no other writer of this process writes the file.
pub type WriteTurn = OwnedMutexGuard<()>;

/// Gates by canonical file path. Weak, so that a file no one writes any more leaves no gate behind.
static GATES: LazyLock<Mutex<HashMap<PathBuf, Weak<AsyncMutex<()>>>>> = LazyLock::new(Default::default);

impl WriteGate {
    /// The gate of the file at `path`: the same one for every caller that names the same file, by
    /// whatever relative path or link.
    pub fn of_file(path: &Path) -> Self {
        // A file not yet created has no canonical path; its gate is keyed by the path as given.
        let key = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let mut gates = GATES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(turns) = gates.get(&key).and_then(Weak::upgrade) {
            return Self { turns };
        }
        gates.retain(|_, gate| gate.strong_count() > 0);
        let turns = Arc::new(AsyncMutex::new(()));
        gates.insert(key, Arc::downgrade(&turns));
        Self { turns }
    }

    /// The gate of the SQLite database a `sqlite:` URL names.
    pub fn of_url(url: &str) -> Result<Self, sqlx::Error> {
        use std::str::FromStr;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
        Ok(Self::of_file(options.get_filename()))
    }

    /// Waits for this writer's turn, behind those that asked before.
    pub async fn turn(&self) -> WriteTurn {
        self.turns.clone().lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn writers_of_one_file_take_turns_whatever_path_names_it() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("lodge.db");
        std::fs::write(&file, b"").unwrap();
        let by_path = WriteGate::of_file(&file);
        let by_url = WriteGate::of_url(&format!("sqlite://{}/./lodge.db", folder.path().display())).unwrap();

        let held = by_path.turn().await;
        let waiting = tokio::spawn(async move { by_url.turn().await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "a second writer of the same file must wait for the first"
        );
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting writer gets its turn once the first ends")
            .unwrap();
    }

    #[tokio::test]
    async fn writers_of_different_files_do_not_wait_for_each_other() {
        let folder = tempfile::tempdir().unwrap();
        let (one, other) = (folder.path().join("one.db"), folder.path().join("other.db"));
        let _held = WriteGate::of_file(&one).turn().await;
        tokio::time::timeout(Duration::from_secs(5), WriteGate::of_file(&other).turn())
            .await
            .expect("another file's gate is free");
    }
}
