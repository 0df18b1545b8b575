//! PostgreSQL going away and coming back under load, on a throwaway cluster of the test's own (the
//! shared server is never stopped): every read model catches up afterwards without restarting Lodge.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::json;

/// A PostgreSQL cluster in a folder of its own, on a free port, stopped when dropped.
struct Cluster {
    folder: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
}

fn as_postgres(bin: &Path, program: &str, args: &[&str]) {
    let status = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join(program))
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("runuser runs");
    assert!(status.success(), "{program} {args:?} failed");
}

impl Cluster {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's programs under /usr/lib/postgresql (apt-get install postgresql)")
            .flatten()
            .map(|entry| entry.path().join("bin"))
            .max()
            .expect("a PostgreSQL version");
        let folder = tempfile::tempdir().unwrap();
        let status = Command::new("chown")
            .args(["postgres:postgres", folder.path().to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
        let data = folder.path().join("data");
        as_postgres(
            &bin,
            "initdb",
            &["-D", data.to_str().unwrap(), "--auth=trust", "-U", "postgres"],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self { folder, port, bin };
        cluster.up();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.folder.path().join("data")
    }

    fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.folder.path().display()
        );
        let log = self.folder.path().join("server.log");
        as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
    }

    fn down(&self) {
        as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", self.data().to_str().unwrap(), "-m", "fast", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", self.data().to_str().unwrap(), "-m", "immediate", "stop"])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_read_models_catch_up_after_the_database_restarts_under_load() {
    let cluster = Cluster::start();
    let db = TestDatabase::postgres_on(&cluster.url()).await;
    let app = TestApp::start_with(db, |settings| settings.limits.enabled = false).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let url = sent.contacts[0].portal_url.as_str().to_owned();
    let ana = app.contact(&url).await;
    let ana_client = ana.client.clone();

    // A steady load: a contact's messages and new invites, whatever the database is doing.
    let stop = Arc::new(AtomicBool::new(false));
    let recorded = Arc::new(AtomicU64::new(0));
    let load = {
        let (stop, recorded) = (stop.clone(), recorded.clone());
        let (base, token) = (app.base.clone(), app.staff_token.clone());
        tokio::spawn(async move {
            let staff = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let message = ana_client
                    .post(format!("{base}/api/portal/messages"))
                    .timeout(Duration::from_secs(5))
                    .json(&json!({ "body": format!("message {n}") }))
                    .send()
                    .await;
                if message.is_ok_and(|r| r.status() == StatusCode::CREATED) {
                    recorded.fetch_add(1, Ordering::Relaxed);
                }
                if n.is_multiple_of(5) {
                    let _ = staff
                        .post(format!("{base}/api/invites"))
                        .bearer_auth(&token)
                        .json(&two_contact_invite())
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_outage = recorded.load(Ordering::Relaxed);
    assert!(before_outage > 0, "the load runs");

    cluster.down();
    tokio::time::sleep(Duration::from_secs(6)).await;
    cluster.up();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert!(
        recorded.load(Ordering::Relaxed) > before_outage,
        "writes were recorded again once the database was back"
    );

    // Without restarting Lodge, every read model reaches the log's head, and it says it is ready.
    let head = app.log.settled_head().await.unwrap().0;
    let ready = eventually_ready_within(&app, head, Duration::from_secs(60)).await;
    assert_eq!(ready["ready"], true);
    // And reads that wait for the last write answer again.
    let last: PostedMessage = expect_as(
        ana.post("/api/portal/messages", &json!({"body": "after the restart"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let portal = ana.portal(last.position).await;
    assert!(portal.messages.iter().any(|m| m.body.contains("after the restart")));
    let invite = &sent.id.to_string();
    let audit = app.staff().audit(invite, last.position.unwrap()).await;
    assert!(audit.entries.len() > 2);
    app.stop().await;
}
