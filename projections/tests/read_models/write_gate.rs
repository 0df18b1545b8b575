//! On SQLite, the log's appends and the read models' transactions of one process queue for the file
//! at one gate, rather than meeting in SQLite's busy handler (docs/decisions/0016).

use std::time::Duration;

use crate::support::*;
use lodge_domain::Actor;
use lodge_domain::invite::{InviteCommand, InviteDecider};
use lodge_domain::testing::*;
use lodge_eventlog::sqlite::WriteGate;
use lodge_eventlog::testing::TestDatabase;
use lodge_eventlog::{Metadata, StreamId, command};

/// Long enough for a write that is not held back to finish on a slow machine.
const HELD_BACK: Duration = Duration::from_millis(200);
const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_read_model_transaction_holds_the_files_gate_until_it_ends() {
    let p = Projected::new(TestDatabase::sqlite()).await;
    let transaction = p.store.store().begin_write().await.unwrap();

    let gate = WriteGate::of_url(p.db.url()).unwrap();
    let waiting = tokio::spawn(async move { drop(gate.turn().await) });
    tokio::time::sleep(HELD_BACK).await;
    assert!(
        !waiting.is_finished(),
        "another writer must wait while a read-model transaction is open"
    );

    transaction.commit().await.unwrap();
    tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("the next writer gets its turn once the transaction commits")
        .unwrap();
}

#[tokio::test]
async fn an_append_waits_for_its_turn_and_then_goes_through() {
    let p = Projected::new(TestDatabase::sqlite()).await;
    let gate = WriteGate::of_url(p.db.url()).unwrap();
    let turn = gate.turn().await;

    let log = p.log.clone();
    let appending = tokio::spawn(async move {
        command::execute::<InviteDecider>(
            &log,
            &StreamId::invite(INVITE),
            &InviteCommand::SendInvite(send_invite()),
            &Metadata::new(Actor::System),
        )
        .await
    });
    tokio::time::sleep(HELD_BACK).await;
    assert!(
        !appending.is_finished(),
        "an append must wait while another writer has the turn"
    );
    assert_eq!(
        p.log.summary().await.unwrap().events,
        0,
        "nothing is appended before the turn"
    );

    drop(turn);
    tokio::time::timeout(PATIENCE, appending)
        .await
        .expect("the append goes through once the turn passes")
        .unwrap()
        .unwrap();
    assert!(p.log.summary().await.unwrap().events > 0);
}

#[tokio::test]
async fn a_single_statement_write_waits_for_its_turn_too() {
    let p = Projected::new(TestDatabase::sqlite()).await;
    lodge_store::on!(p.store.store(), |c| sqlx::query(
        "CREATE TABLE notes (body TEXT NOT NULL)"
    )
    .execute(c)
    .await
    .map(|_| ()))
    .unwrap();
    let gate = WriteGate::of_url(p.db.url()).unwrap();
    let turn = gate.turn().await;

    let store = p.store.clone();
    let writing = tokio::spawn(async move {
        lodge_store::write_on!(store.store(), |c| {
            sqlx::query("INSERT INTO notes (body) VALUES ($1)")
                .bind("after the turn")
                .execute(c)
                .await
                .map(|_| ())
        })
    });
    tokio::time::sleep(HELD_BACK).await;
    assert!(
        !writing.is_finished(),
        "a write must wait while another writer has the turn"
    );
    let notes = || async {
        lodge_store::on!(p.store.store(), |c| {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM notes")
                .fetch_one(c)
                .await
        })
    };
    assert_eq!(notes().await.unwrap(), 0, "nothing is written before the turn");

    drop(turn);
    tokio::time::timeout(PATIENCE, writing)
        .await
        .expect("the write goes through once the turn passes")
        .unwrap()
        .unwrap();
    assert_eq!(notes().await.unwrap(), 1);
}
