//! The command path: load, fold, decide, append with the expected version, retry on conflict.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use crate::support::*;
use lodge_domain::invite::*;
use lodge_domain::testing::ANA;
use lodge_domain::{Decider, EventDecodeError, EventSchema, InviteId};
use lodge_eventlog::command::{self, CommandError, MAX_ATTEMPTS};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{ExpectedVersion, LogError, NewEvent, StreamId};
use uuid::Uuid;

fn invite_id() -> InviteId {
    lodge_domain::testing::INVITE
}

fn send_invite() -> InviteCommand {
    InviteCommand::SendInvite(lodge_domain::testing::send_invite())
}

fn message(body: &str) -> InviteCommand {
    lodge_domain::testing::message(Uuid::now_v7().as_u128(), ANA, MessageFrom::Contact, body)
}

lodge_eventlog::test_on_both_engines!(
    a_command_is_decided_and_its_events_appended,
    a_repeated_command_returns_its_first_outcome,
    a_refused_command_appends_nothing,
    concurrent_commands_on_one_stream_all_land,
    a_command_that_loses_a_race_is_decided_again,
    a_stream_that_keeps_moving_gives_up_after_bounded_attempts,
    events_that_cannot_be_read_stop_the_command,
);

async fn a_command_is_decided_and_its_events_appended(db: TestDatabase) {
    let log = db.log().await;
    let stream = StreamId::invite(invite_id());
    let outcome = command::execute::<InviteDecider>(&log, &stream, &send_invite(), &meta())
        .await
        .unwrap();
    assert!(matches!(outcome.events[..], [InviteEvent::InviteSent(_)]));
    assert_eq!(outcome.stream_version, 1);
    assert!(!outcome.replayed);
    let recorded = log.read_stream(&stream).await.unwrap();
    assert_eq!(Some(recorded[0].position), outcome.position);
    assert_eq!(recorded[0].decode::<InviteEvent>().unwrap(), outcome.events[0]);
    assert_eq!(recorded[0].stream_id.as_str(), format!("invite-{}", invite_id()));

    let next = command::execute::<InviteDecider>(&log, &stream, &message("Here you go"), &meta())
        .await
        .unwrap();
    assert_eq!(next.stream_version, 2);
    assert!(next.position > outcome.position);
}

async fn a_repeated_command_returns_its_first_outcome(db: TestDatabase) {
    let log = db.log().await;
    let stream = StreamId::invite(invite_id());
    let metadata = meta();
    let first = command::execute::<InviteDecider>(&log, &stream, &send_invite(), &metadata)
        .await
        .unwrap();
    // Deciding SendInvite again would be refused (already sent); the id makes it a retry instead.
    let again = command::execute::<InviteDecider>(&log, &stream, &send_invite(), &metadata)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.events, first.events);
    assert_eq!(
        (again.stream_version, again.position),
        (first.stream_version, first.position)
    );
    assert_eq!(appended(&log).await, 1);

    let elsewhere = command::execute::<InviteDecider>(
        &log,
        &StreamId::parse("invite-other").unwrap(),
        &send_invite(),
        &metadata,
    )
    .await;
    assert!(matches!(
        elsewhere,
        Err(CommandError::Log(LogError::CommandIdReused { .. }))
    ));

    // The same id for another command on the same stream is not a retry.
    let another = command::execute::<InviteDecider>(&log, &stream, &message("Hello"), &metadata).await;
    assert!(
        matches!(another, Err(CommandError::Log(LogError::CommandIdReused { .. }))),
        "{another:?}"
    );
    assert_eq!(appended(&log).await, 1, "nothing appended");
}

/// Events in the log, counted from the streams' versions: `read_all` stops at the settled horizon,
/// which other transactions on the same PostgreSQL cluster can hold back for a moment.
async fn appended(log: &lodge_eventlog::EventLog) -> usize {
    log.summary().await.unwrap().events as usize
}

async fn a_refused_command_appends_nothing(db: TestDatabase) {
    let log = db.log().await;
    let stream = StreamId::invite(invite_id());
    let early = command::execute::<InviteDecider>(&log, &stream, &message("hello?"), &meta()).await;
    assert!(matches!(early, Err(CommandError::Rejected(InviteError::NotSent))));
    command::execute::<InviteDecider>(&log, &stream, &send_invite(), &meta())
        .await
        .unwrap();
    let empty = command::execute::<InviteDecider>(&log, &stream, &message("   "), &meta()).await;
    assert!(matches!(empty, Err(CommandError::Rejected(InviteError::Text(_)))));
    assert_eq!(appended(&log).await, 1);
}

async fn concurrent_commands_on_one_stream_all_land(db: TestDatabase) {
    let log = db.log().await;
    let stream = StreamId::invite(invite_id());
    command::execute::<InviteDecider>(&log, &stream, &send_invite(), &meta())
        .await
        .unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(4));
    let tasks: Vec<_> = (0..4)
        .map(|n| {
            let (log, stream, barrier) = (log.clone(), stream.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                command::execute::<InviteDecider>(&log, &stream, &message(&format!("message {n}")), &meta()).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("every command lands, retrying on conflict");
    }
    let recorded = log.read_stream(&stream).await.unwrap();
    assert_eq!(recorded.len(), 5);
    let state = InviteDecider::fold(&recorded.iter().map(|e| e.decode().unwrap()).collect::<Vec<_>>());
    assert_eq!(state.invite().unwrap().message_ids.len(), 4);
}

/// A counter whose `decide` can be held at a gate, so that a test can append while it decides. The
/// command names its gate, so that tests running at the same time do not share one.
struct GatedCounter;

#[derive(Debug, PartialEq)]
struct Counted(u64);

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

struct Gate {
    started: mpsc::Sender<()>,
    go: Mutex<mpsc::Receiver<()>>,
    decisions: AtomicUsize,
}

static GATES: Mutex<BTreeMap<String, Arc<Gate>>> = Mutex::new(BTreeMap::new());

/// Installs a gate: every decision under `name` reports on the first receiver, then waits for a
/// go-ahead on the sender.
fn gate(name: &str) -> (mpsc::Receiver<()>, mpsc::Sender<()>, Arc<Gate>) {
    let (started, started_rx) = mpsc::channel();
    let (go_tx, go) = mpsc::channel();
    let gate = Arc::new(Gate {
        started,
        go: Mutex::new(go),
        decisions: AtomicUsize::new(0),
    });
    GATES.lock().unwrap().insert(name.to_owned(), gate.clone());
    (started_rx, go_tx, gate)
}

impl Decider for GatedCounter {
    type State = u64;
    type Command = String;
    type Event = Counted;
    type Error = Never;

    fn decide(state: &u64, gate_name: &String) -> Result<Vec<Counted>, Never> {
        let gate = GATES.lock().unwrap().get(gate_name).cloned();
        if let Some(gate) = gate {
            gate.decisions.fetch_add(1, Ordering::SeqCst);
            gate.started.send(()).unwrap();
            gate.go.lock().unwrap().recv().unwrap();
        }
        Ok(vec![Counted(state + 1)])
    }

    fn evolve(_: u64, event: &Counted) -> u64 {
        event.0
    }

    fn command_name(_: &String) -> &'static str {
        "Count"
    }
}

impl EventSchema for Counted {
    fn event_type(&self) -> &'static str {
        "Counted"
    }
    fn schema_version(&self) -> u32 {
        1
    }
    fn to_json(&self) -> String {
        format!(r#"{{"n":{}}}"#, self.0)
    }
    fn from_json(event_type: &str, _: u32, json: &str) -> Result<Self, EventDecodeError> {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        value["n"].as_u64().map(Counted).ok_or(EventDecodeError::UnknownType {
            event_type: event_type.to_owned(),
        })
    }
}

fn counted(n: u64) -> NewEvent {
    NewEvent::from_domain(&Counted(n))
}

/// Runs a command whose decision blocks at a gate on a thread of its own: blocking a runtime worker
/// could strand tasks queued on it (such as a pooled connection being returned).
fn run_gated<F: std::future::Future + Send + 'static>(command: F) -> tokio::task::JoinHandle<F::Output>
where
    F::Output: Send,
{
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(command))
}

/// Waits, off the async threads, until the gated decision has started.
async fn decision_started(started: mpsc::Receiver<()>) -> mpsc::Receiver<()> {
    tokio::task::spawn_blocking(move || {
        started
            .recv_timeout(Duration::from_secs(10))
            .expect("the command decides");
        started
    })
    .await
    .unwrap()
}

async fn a_command_that_loses_a_race_is_decided_again(db: TestDatabase) {
    let log = db.log().await;
    let stream = StreamId::parse("counter-race").unwrap();
    log.append(&stream, ExpectedVersion::NoStream, &[counted(1)], &meta())
        .await
        .unwrap();

    let name = format!("{}-race", db.engine());
    let (started, go, gate) = gate(&name);
    let running = {
        let (log, stream) = (log.clone(), stream.clone());
        run_gated(async move { command::execute::<GatedCounter>(&log, &stream, &name, &meta()).await })
    };
    let started = decision_started(started).await;
    // While the command decides on version 1, another writer moves the stream to version 2.
    log.append(&stream, ExpectedVersion::Exact(1), &[counted(2)], &meta())
        .await
        .unwrap();
    go.send(()).unwrap();
    decision_started(started).await;
    go.send(()).unwrap();

    let outcome = running.await.unwrap().unwrap();
    assert_eq!(
        gate.decisions.load(Ordering::SeqCst),
        2,
        "decided once more after the conflict"
    );
    assert_eq!(
        outcome.events,
        vec![Counted(3)],
        "the second decision saw the other writer's event"
    );
    assert_eq!(outcome.stream_version, 3);
}

async fn a_stream_that_keeps_moving_gives_up_after_bounded_attempts(db: TestDatabase) {
    let log = db.log().await;
    let stream = StreamId::parse("counter-busy").unwrap();
    log.append(&stream, ExpectedVersion::NoStream, &[counted(1)], &meta())
        .await
        .unwrap();

    let name = format!("{}-busy", db.engine());
    let (mut started, go, gate) = gate(&name);
    let metadata = meta();
    let running = {
        let (log, stream, metadata) = (log.clone(), stream.clone(), metadata.clone());
        run_gated(async move { command::execute::<GatedCounter>(&log, &stream, &name, &metadata).await })
    };
    // Each time the command decides, another writer appends before it can.
    for _ in 0..MAX_ATTEMPTS {
        started = decision_started(started).await;
        log.append(&stream, ExpectedVersion::Any, &[counted(100)], &meta())
            .await
            .unwrap();
        go.send(()).unwrap();
    }
    let result = running.await.unwrap();
    assert!(
        matches!(
            result,
            Err(CommandError::Contention {
                attempts: MAX_ATTEMPTS,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(gate.decisions.load(Ordering::SeqCst), MAX_ATTEMPTS as usize);
    assert!(
        log.command_outcome(metadata.command_id).await.unwrap().is_none(),
        "nothing appended"
    );
}

async fn events_that_cannot_be_read_stop_the_command(db: TestDatabase) {
    let log = db.log().await;
    let stream = StreamId::invite(invite_id());
    let foreign = NewEvent {
        event_type: "InviteShredded".into(),
        schema_version: 1,
        data: "{}".into(),
    };
    log.append(&stream, ExpectedVersion::NoStream, &[foreign], &meta())
        .await
        .unwrap();
    let result = command::execute::<InviteDecider>(&log, &stream, &message("hi"), &meta()).await;
    assert!(matches!(
        result,
        Err(CommandError::Log(LogError::Decode {
            source: EventDecodeError::UnknownType { .. },
            ..
        }))
    ));
}
