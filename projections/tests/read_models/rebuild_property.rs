//! Property: after any random history, a rebuilt generation equals the incrementally built one, row
//! for row, on both engines.

use crate::support::*;
use lodge_domain::invite::{InviteCommand, InviteDecider, InviteEvent};
use lodge_domain::testing::random::{Action, action, command_for, starting_invite};
use lodge_domain::testing::{staff, uuid};
use lodge_domain::{Actor, Decider, InviteId};
use lodge_eventlog::command::{self, CommandError};
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Engine, Metadata, Position, StreamId};
use lodge_projections::all::{self, ALL};
use lodge_projections::rebuild::{self, RebuildOutcome};
use proptest::prelude::*;
use tokio_util::sync::CancellationToken;

type Life = (lodge_domain::invite::SendInvite, Vec<Action>);

/// Plays the invites' lives against the log, their steps interleaved, through the command path;
/// commands the domain refuses are skipped.
async fn play(p: &Projected, lives: Vec<Life>) -> Position {
    let mut last = Position::START;
    let mut streams = Vec::new();
    let mut plans = Vec::new();
    for (i, (mut send, actions)) in lives.into_iter().enumerate() {
        send.invite_id = InviteId::from_uuid(uuid(0x5000 + i as u128));
        let stream = StreamId::invite(send.invite_id);
        let sent = execute(p, &stream, InviteCommand::SendInvite(send)).await.unwrap();
        last = sent.position.unwrap();
        streams.push(stream);
        plans.push(actions);
    }
    let longest = plans.iter().map(Vec::len).max().unwrap_or(0);
    for step in 0..longest {
        for (i, (stream, actions)) in streams.iter().zip(&plans).enumerate() {
            let Some(action) = actions.get(step) else { continue };
            let history: Vec<InviteEvent> = p
                .log
                .read_stream(stream)
                .await
                .unwrap()
                .iter()
                .map(|e| e.decode().unwrap())
                .collect();
            let state = InviteDecider::fold(&history);
            let command = command_for(state.invite().unwrap(), action, step, i as u8 + 1);
            match execute(p, stream, command).await {
                Ok(outcome) => last = outcome.position.unwrap_or(last),
                Err(CommandError::Rejected(_)) => {}
                Err(error) => panic!("{error}"),
            }
        }
    }
    last
}

async fn execute(
    p: &Projected,
    stream: &StreamId,
    command: InviteCommand,
) -> Result<command::CommandOutcome<InviteEvent>, CommandError<lodge_domain::invite::InviteError>> {
    let metadata = Metadata::new(Actor::from(&staff()));
    command::execute::<InviteDecider>(&p.log, stream, &command, &metadata).await
}

fn rebuilt_equals_incremental(engine: Engine, lives: Vec<Life>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let p = Projected::new(TestDatabase::new(engine).await).await;
        all::register_all(&p.store).await.unwrap();
        let shutdown = CancellationToken::new();
        let mut projectors = start_all(&p, &shutdown);
        let last = play(&p, lives).await;
        wait_all(&p, last).await;
        shutdown.cancel();
        while projectors.join_next().await.is_some() {}
        let incremental = snapshot(&p.store).await;

        let outcome = rebuild::rebuild(&p.log, &p.store, &ALL, &CancellationToken::new(), |_| {})
            .await
            .unwrap();
        prop_assert!(matches!(outcome, RebuildOutcome::Done(_)));
        prop_assert_eq!(snapshot(&p.store).await, incremental);
        Ok(())
    })
}

fn lives() -> impl Strategy<Value = Vec<Life>> {
    (
        (starting_invite(1), proptest::collection::vec(action(), 0..25)),
        (starting_invite(2), proptest::collection::vec(action(), 0..25)),
    )
        .prop_map(|(a, b)| vec![a, b])
}

proptest! {
    // Each case builds a database and plays a history: a few cases, each a real one.
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_a_rebuild_equals_the_incremental_read_models(lives in lives()) {
        rebuilt_equals_incremental(Engine::Sqlite, lives)?;
    }

    #[test]
    fn postgres_a_rebuild_equals_the_incremental_read_models(lives in lives()) {
        rebuilt_equals_incremental(Engine::Postgres, lives)?;
    }
}
