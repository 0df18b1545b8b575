//! `lodge project`: runs every projector until Ctrl-C. Each follows the log on its own; one that stops
//! on an event it cannot handle says so, and the others carry on.

use std::process::ExitCode;

use lodge_projections::{ProjectionError, ReadStore, all};
use secrecy::ExposeSecret;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    let store = ReadStore::connect(config.database_url.expose_secret()).await?;
    all::register_all(&store).await?;

    let shutdown = CancellationToken::new();
    let mut projectors = JoinSet::new();
    all::spawn_all(&log, &store, &shutdown, &mut projectors);
    eprintln!("Projecting the log into read models; Ctrl-C stops.");

    let mut failed = false;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => shutdown.cancel(),
            finished = projectors.join_next() => match finished {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(error @ ProjectionError::Stopped { .. }))) => {
                    eprintln!("{error}");
                    failed = true;
                }
                Some(Ok(Err(error))) => return Err(error.into()),
                Some(Err(panic)) => return Err(panic.into()),
            },
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
