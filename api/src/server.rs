//! The server: the router with its layers, and a running instance with the projectors beside it.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, Uri, header};
use axum::response::Response;
use lodge_eventlog::EventLog;
use lodge_projections::{ProjectionError, ReadStore, all};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, OnResponse, TraceLayer};

use crate::blobs::BlobStore;
use crate::commands::StreamLocks;
use crate::error::{ApiError, FailureCause};
use crate::metrics::{self, Metrics};
use crate::portal::cache::PortalCache;
use crate::routes;
use crate::settings::Settings;
use crate::state::{AppState, Services};
use crate::{limits, listener};
use futures_util::FutureExt;

/// JSON bodies are small; uploads have their own limit.
const JSON_BODY_LIMIT: usize = 1024 * 1024;
/// Requests that take longer are answered 408; uploads and downloads, which take as long as the
/// connection needs, are not bounded.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The router with every endpoint and layer, for a server or a test.
pub fn app(state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    routes::router(
        TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT),
        &state,
    )
    .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::record))
    .fallback(no_endpoint)
    .method_not_allowed_fallback(wrong_method)
    .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
    .layer(CompressionLayer::new())
    // Every answer, API and pages alike: never sniffed into another type, never kept by a cache
    // (the portal's JSON holds personal data). A response that says otherwise (an asset) keeps its own.
    .layer(SetResponseHeaderLayer::if_not_present(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    .layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
    .layer(PropagateRequestIdLayer::new(request_id.clone()))
    .layer(trace_layer())
    .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
    .with_state(state)
}

type Trace = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&Request<axum::body::Body>) -> tracing::Span,
    DefaultOnRequest,
    fn(&Response, Duration, &tracing::Span),
>;

/// The request's span (method, path without secrets, request id), and the log's one place for a
/// failure: the cause an [`ApiError`] left in the response ([`FailureCause`]) is logged here.
pub fn trace_layer() -> Trace {
    fn span(request: &Request<axum::body::Body>) -> tracing::Span {
        let id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let path = loggable_path(request.uri().path());
        tracing::info_span!("request", method = %request.method(), path = %path, request_id = %id)
    }
    fn on_response(response: &Response, latency: Duration, span: &tracing::Span) {
        DefaultOnResponse::default().on_response(response, latency, span);
        if let Some(FailureCause(cause)) = response.extensions().get() {
            tracing::error!(status = response.status().as_u16(), %cause, "request failed");
        }
    }
    TraceLayer::new_for_http()
        .make_span_with(span as fn(&Request<axum::body::Body>) -> tracing::Span)
        .on_response(on_response as fn(&Response, Duration, &tracing::Span))
}

/// Paths whose last part is a secret: a portal link's token, a staff view link's, a sign-in link's.
const SECRET_PATHS: [&str; 3] = ["/p/", "/v/", crate::console::links::PATH];

/// A request's path fit for the log: the token of a link (`/p/{token}`, `/v/{token}`) is a
/// credential, so it never reaches a log line, at any level.
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match SECRET_PATHS.iter().find(|prefix| path.starts_with(*prefix)) {
        Some(prefix) => format!("{prefix}…").into(),
        None => path.into(),
    }
}

async fn no_endpoint(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("there is no endpoint at {}", uri.path()))
}

async fn wrong_method(uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not take this method", uri.path()))
}

/// What a server needs to start.
pub struct Server {
    pub log: EventLog,
    pub store: ReadStore,
    pub settings: Settings,
    /// Run the projectors in this process too (what `lodge serve` does).
    pub run_projectors: bool,
    /// The operators' own address (`ops_listen`): health, readiness in full and metrics, no token.
    pub operations: Option<TcpListener>,
}

/// A server taking requests, until [`RunningServer::shutdown`] or the token given to it is cancelled.
pub struct RunningServer {
    pub address: SocketAddr,
    pub shutdown: CancellationToken,
    tasks: JoinSet<Result<(), ServerError>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error("{0}")]
    Blobs(String),
    #[error("the portal pages' settings: {0}")]
    Pages(String),
    #[error("the HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
}

impl Server {
    pub async fn start(self, listener: TcpListener, shutdown: CancellationToken) -> Result<RunningServer, ServerError> {
        let blobs = BlobStore::open(&self.settings.blob_url, &self.settings.blob_options)
            .map_err(|e| ServerError::Blobs(e.to_string()))?;
        let firm = crate::firm::FirmNow::new(self.settings.firm.clone());
        firm.load(&self.log).await.map_err(ProjectionError::from)?;
        let pages = crate::pages::Pages::new(&self.settings, firm.clone()).map_err(ServerError::Pages)?;
        crate::migrations::migrate(self.store.store())
            .await
            .map_err(ProjectionError::from)?;
        all::register_all(&self.store).await?;
        let address = listener.local_addr()?;
        let mut tasks = JoinSet::new();
        if self.run_projectors {
            let mut projectors = JoinSet::new();
            all::spawn_all(&self.log, &self.store, &shutdown, &mut projectors);
            tasks.spawn(async move {
                while let Some(finished) = projectors.join_next().await {
                    match finished {
                        Ok(Ok(())) => {}
                        // A stopped projector is reported on /readyz; the others and the API carry on.
                        Ok(Err(error)) => tracing::error!(%error, "a projector stopped"),
                        Err(panic) => tracing::error!(%panic, "a projector panicked"),
                    }
                }
                Ok(())
            });
        }
        let portal_cache = PortalCache::default();
        let live = crate::live::Live::default();
        let accounts = std::sync::Arc::new(crate::console::cache::AccountCache::default());
        let listeners = crate::watcher::Listeners {
            portal: portal_cache.clone(),
            live: live.clone(),
            accounts: accounts.clone(),
            firm: firm.clone(),
        };
        tasks.spawn(crate::watcher::watch(self.log.clone(), self.store.clone(), listeners, shutdown.clone()).map(Ok));
        let connections = self.settings.connections;
        let state = AppState::new(Services {
            log: self.log,
            store: self.store.store().clone(),
            read_models: self.store,
            blobs,
            metrics: Metrics::default(),
            stream_locks: StreamLocks::default(),
            portal_cache: portal_cache.clone(),
            live,
            stopping: shutdown.clone(),
            dashboard: Default::default(),
            accounts,
            own_writes: Default::default(),
            firm,
            pages,
            settings: self.settings,
        });
        tasks.spawn(sweep_limits(state.clone(), shutdown.clone()).map(Ok));
        if let Some(operations) = self.operations {
            let app = routes::health::operations_routes().with_state(state.clone());
            let stop = shutdown.clone();
            tasks.spawn(async move {
                listener::serve(operations, app, connections, stop).await?;
                Ok(())
            });
        }
        let app = app(state);
        let stop = shutdown.clone();
        tasks.spawn(async move {
            listener::serve(listener, app, connections, stop).await?;
            Ok(())
        });
        Ok(RunningServer {
            address,
            shutdown,
            tasks,
        })
    }
}

/// How often slots older than any limit's window are removed.
const SWEEP_LIMITS_EVERY: Duration = Duration::from_secs(5 * 60);

/// Removes, now and then, the slots of limits that no request looked at again (see `limits`). The
/// first sweep is one period after start, not at once: slots past their window count for nothing
/// meanwhile, and a sweep racing the start raced a test's own.
async fn sweep_limits(state: AppState, shutdown: CancellationToken) {
    let first = tokio::time::Instant::now() + SWEEP_LIMITS_EVERY;
    let mut every = tokio::time::interval_at(first, SWEEP_LIMITS_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {
                if let Err(error) = limits::sweep(&state.store).await {
                    tracing::warn!(%error, "could not remove old slots of the limits");
                }
            }
        }
    }
}

impl RunningServer {
    /// Waits until the server and projectors have stopped (after the shutdown token is cancelled,
    /// in-flight requests finish first).
    pub async fn wait(mut self) -> Result<(), ServerError> {
        while let Some(finished) = self.tasks.join_next().await {
            match finished {
                Ok(result) => result?,
                Err(panic) => return Err(ServerError::Http(std::io::Error::other(panic.to_string()))),
            }
        }
        Ok(())
    }

    pub async fn stop(self) -> Result<(), ServerError> {
        self.shutdown.cancel();
        self.wait().await
    }
}
