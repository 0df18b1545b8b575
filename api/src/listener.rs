//! Taking connections. `axum::serve` cannot be told how long to wait for a request's headers, so a
//! client that sent half a request line kept its connection for ever (slowloris); this loop serves
//! the same router through hyper's HTTP/1 with a timer: headers must arrive within
//! [`Connections::header_timeout`], and a kept-alive connection idle that long is closed (hyper
//! starts the same timer when it waits for the next request). At most
//! [`Connections::max_open`] connections are served at once; one more is answered 503 at once and
//! closed, rather than the process running out of file descriptors. On shutdown it stops taking
//! connections, and those open finish their request in flight, as `axum::serve`'s graceful
//! shutdown did.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::Service;

/// How connections are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// How long a client has to send a request's headers, and how long a kept-alive connection may
    /// wait idle for the next request.
    pub header_timeout: Duration,
    /// Connections served at once, at most.
    pub max_open: usize,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_open: 1000,
        }
    }
}

/// What a connection past the limit reads before it is closed.
const BUSY: &str = concat!(
    "HTTP/1.1 503 Service Unavailable\r\n",
    "Content-Type: application/problem+json\r\n",
    "Retry-After: 1\r\n",
    "Connection: close\r\n",
    "Content-Length: 170\r\n",
    "\r\n",
    r#"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"the server has as many connections open as it serves at once: try again shortly","code":"busy"}"#,
);
/// How long a refused connection is given to read [`BUSY`].
const BUSY_WRITE: Duration = Duration::from_secs(2);
/// After a failed accept (out of file descriptors, say), how long to wait before the next.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown`, then waits for the connections open to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    connections: Connections,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let open = Arc::new(Semaphore::new(connections.max_open));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(connections.header_timeout)
        .keep_alive(true);
    loop {
        let (stream, remote) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "could not take a connection");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(refuse_busy(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = match make_service.call(remote).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away, or is too slow with its headers, ends here; not worth a log line.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn refuse_busy(mut stream: TcpStream) {
    let _ = tokio::time::timeout(BUSY_WRITE, async {
        stream.write_all(BUSY.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_says_its_length() {
        let (head, body) = BUSY.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 503);
    }
}
