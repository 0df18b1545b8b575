//! The `lodge` binary as an operator runs it: a command in an empty folder, and a serving process
//! whose diagnostics are kept.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lodge_eventlog::testing::TestDatabase;
use serde_json::Value;

/// A `lodge` command on `db`, run in `folder` with no configuration around it.
pub fn lodge(db: &TestDatabase, folder: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lodge"));
    command
        .current_dir(folder)
        .env_remove("LODGE_CONFIG")
        .env_remove("LODGE_LOG")
        .env("LODGE_DATABASE_URL", db.url())
        .env("LODGE_POLL_INTERVAL_MS", "100");
    command
}

/// [`lodge`], started under `umask 022` (files readable by all, unless Lodge says otherwise); the
/// caller adds the arguments.
pub fn lodge_under_permissive_umask(db: &TestDatabase, folder: &Path) -> Command {
    let mut command = Command::new("sh");
    command
        .current_dir(folder)
        .env_remove("LODGE_CONFIG")
        .env_remove("LODGE_LOG")
        .env("LODGE_DATABASE_URL", db.url())
        .env("LODGE_POLL_INTERVAL_MS", "100")
        .args(["-c", "umask 022; exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_lodge")]);
    command
}

pub fn run(mut command: Command) -> Output {
    let output = command.output().expect("lodge runs");
    if std::env::var_os("LODGE_TEST_VERBOSE").is_some() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    }
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

pub fn lodge_ok(db: &TestDatabase, folder: &Path, args: &[&str]) -> String {
    let mut command = lodge(db, folder);
    command.args(args);
    let output = run(command);
    assert!(
        output.status.success(),
        "lodge {args:?} failed: {}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// `lodge serve` running, with everything it wrote to stderr.
pub struct Serving {
    pub child: Child,
    /// `http://…`, as it said.
    pub address: String,
    said: Arc<Mutex<Vec<String>>>,
}

impl Serving {
    /// Starts `command` (a `lodge` command that serves) on a free port, once it says where.
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .env("LODGE_LISTEN", "127.0.0.1:0")
            .stderr(Stdio::piped())
            .spawn()
            .expect("lodge starts");
        let said = Arc::new(Mutex::new(Vec::new()));
        let (address_sender, address) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let keep = said.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(rest) = line.split("serving at ").nth(1) {
                    let _ = address_sender.send(rest.trim().to_owned());
                }
                keep.lock().unwrap().push(line);
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("lodge did not say where it serves: {:?}", said.lock().unwrap()));
        Self { child, address, said }
    }

    /// What it has written to stderr so far.
    pub fn said(&self) -> String {
        self.said.lock().unwrap().join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Stops it as SIGTERM does and returns everything it wrote to stderr.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The reader thread gets the last lines as the pipe closes.
        std::thread::sleep(Duration::from_millis(100));
        self.said.lock().unwrap().join("\n")
    }
}
