//! `lodge serve` (and a bare `lodge`): the staff API, the portals and the projectors in one process,
//! until Ctrl-C or SIGTERM; requests in flight finish first.

use std::process::ExitCode;

use anyhow::Context;
use lodge_api::Server;
use lodge_projections::ReadStore;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let mut settings = config.api_settings(config.secret_key()?)?;
    let log = super::open_log(config).await?;
    let store = ReadStore::connect(config.database_url.expose_secret()).await?;
    let listener = TcpListener::bind(&config.listen).await.with_context(|| {
        format!(
            "cannot listen on {} (set LODGE_LISTEN to another address)",
            config.listen
        )
    })?;
    let operations = match &config.ops_listen {
        Some(address) => Some(TcpListener::bind(address).await.with_context(|| {
            format!("cannot listen on {address} for operations (set LODGE_OPS_LISTEN to another address)")
        })?),
        None => None,
    };
    let operations_address = operations.as_ref().map(TcpListener::local_addr).transpose()?;
    if config.public_url.is_none() {
        // Links point where Lodge is listening: the port it was given, even when that was 0.
        settings.public_url = format!("http://{}", listener.local_addr()?);
    }
    let public_url = settings.public_url.clone();
    let tokens = lodge_api::staff::tokens::list(store.store()).await?;
    let team = lodge_api::staff::team::team(&log).await?;
    let shutdown = CancellationToken::new();
    let notifier_settings = config.notifier_settings(&settings)?;
    let server = Server {
        log: log.clone(),
        store: store.clone(),
        settings,
        run_projectors: true,
        operations,
    }
    .start(listener, shutdown.clone())
    .await?;
    // Started once the server has created the read models' tables: creating them from two tasks
    // at once collides on PostgreSQL.
    let notifier = tokio::spawn(lodge_notifier::run(log, store, notifier_settings, shutdown.clone()));

    eprintln!(
        "Lodge {} is serving at http://{}",
        env!("CARGO_PKG_VERSION"),
        server.address
    );
    eprintln!("  database     {}", config.database_url_shown());
    eprintln!("  portal links {public_url}/p/…");
    match operations_address {
        Some(address) => eprintln!("  operations   http://{address}/metrics and /readyz in full"),
        None if config.ops_token.is_some() => {
            eprintln!("  operations   /metrics and /readyz in full with the operations token")
        }
        None => eprintln!("  operations   set LODGE_OPS_LISTEN (or LODGE_OPS_TOKEN) to read /metrics"),
    }
    eprintln!();
    eprintln!("Next:");
    eprintln!("  {public_url}/staff/   the staff console");
    if team.members.is_empty() {
        eprintln!(
            "  lodge staff add --email you@firm.example --name \"Your Name\" --role owner   the first owner: open the sign-in link it prints"
        );
    }
    eprintln!("  http://{}/readyz   is it ready", server.address);
    if tokens.iter().all(|t| t.revoked_at.is_some()) {
        eprintln!("  lodge token create --name \"Your Name\" --email you@firm.example   a staff token for the API");
    }
    eprintln!(
        "  README.md, \"Send an invite\"   the API in a few curl commands; open a contact's portal_url in a browser"
    );
    eprintln!("Ctrl-C stops.");

    tokio::spawn(async move {
        stop_signal().await;
        eprintln!("Stopping: finishing the requests in flight…");
        shutdown.cancel();
    });
    server.wait().await?;
    match notifier.await {
        Ok(Ok(())) => {}
        // The API served on without it; say why it stopped.
        Ok(Err(error)) => eprintln!("the notifier stopped: {error}"),
        Err(panic) => eprintln!("the notifier failed: {panic}"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
