//! `GET /metrics`: Prometheus text. Request counts and latencies are recorded as requests pass;
//! projector positions and lag are read from the database when scraped, so they are right on
//! whichever server is scraped, leader or not.
//!
//! The registry belongs to the server (prometheus-client), not to the process, so that several
//! servers in one process (the tests) keep their own figures.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::ApiError;
use crate::health;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's pattern (`/api/invites/{invite_id}`), never the raw path: ids would make a
    /// series per invite.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProjectorLabels {
    projector: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    commands: Family<CommandLabels, Counter>,
    head: Gauge,
    projector_position: Family<ProjectorLabels, Gauge>,
    projector_lag_events: Family<ProjectorLabels, Gauge>,
    projector_lag_seconds: Family<ProjectorLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    projector_stopped: Family<ProjectorLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("lodge");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to the first byte of a streamed body)",
            latency.clone(),
        );
        let commands = Family::<CommandLabels, Counter>::default();
        registry.register(
            "commands",
            "Commands decided: recorded (appended to the log) or refused",
            commands.clone(),
        );
        let head = Gauge::default();
        registry.register(
            "log_head_position",
            "The position of the last settled event in the log",
            head.clone(),
        );
        let projector_position = Family::<ProjectorLabels, Gauge>::default();
        registry.register(
            "projector_position",
            "The last event each projector applied",
            projector_position.clone(),
        );
        let projector_lag_events = Family::<ProjectorLabels, Gauge>::default();
        registry.register(
            "projector_lag_events",
            "Positions between each projector and the head of the log",
            projector_lag_events.clone(),
        );
        let projector_lag_seconds = Family::<ProjectorLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "projector_lag_seconds",
            "How long the oldest event each projector has not applied has waited",
            projector_lag_seconds.clone(),
        );
        let projector_stopped = Family::<ProjectorLabels, Gauge>::default();
        registry.register(
            "projector_stopped",
            "1 when a projector stopped on an event it cannot handle",
            projector_stopped.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            commands,
            head,
            projector_position,
            projector_lag_events,
            projector_lag_seconds,
            projector_stopped,
        }
    }
}

impl Metrics {
    pub fn command(&self, command: &str, recorded: bool) {
        let outcome = if recorded { "recorded" } else { "refused" };
        self.commands
            .get_or_create(&CommandLabels {
                command: command.to_owned(),
                outcome,
            })
            .inc();
    }

    /// The text a scrape gets, with the projectors' figures read now.
    pub async fn render(&self, state: &AppState) -> Result<String, ApiError> {
        let readiness = health::readiness(state).await?;
        self.head.set(readiness.head);
        for projector in &readiness.projectors {
            let labels = ProjectorLabels {
                projector: projector.name.to_owned(),
            };
            self.projector_position.get_or_create(&labels).set(projector.position);
            self.projector_lag_events
                .get_or_create(&labels)
                .set(projector.lag_events);
            self.projector_lag_seconds
                .get_or_create(&labels)
                .set(projector.lag_seconds);
            self.projector_stopped
                .get_or_create(&labels)
                .set(i64::from(projector.error.is_some()));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|e| ApiError::Internal(format!("encoding metrics: {e}")))?;
        Ok(text)
    }
}

/// Counts every request and times it, by route pattern.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
