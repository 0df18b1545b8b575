//! The API's one error type, and how each error reads over HTTP: `application/problem+json`
//! (RFC 9457) with the status, a title, a `detail` written for whoever made the request, and a
//! stable `code` that clients can branch on.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lodge_domain::invite::InviteError;
use lodge_domain::team::TeamError;
use lodge_eventlog::LogError;
use lodge_eventlog::command::CommandError;
use lodge_projections::ProjectionError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read: malformed JSON, a missing field, a wrong type.
    #[error("{0}")]
    BadRequest(String),
    /// The request was read but its content is not acceptable.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// Known, but not allowed: a request from another site, say.
    #[error("{0}")]
    Forbidden(String),
    /// Also for what exists but belongs to someone else: a 404 never reveals which.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error("{detail}")]
    RangeNotSatisfiable { detail: String, length: u64 },
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: Duration },
    /// The read models did not reach a position a read asked for in time.
    #[error("{0}")]
    NotYetVisible(String),
    /// The domain refused a command.
    #[error(transparent)]
    Rejected(#[from] InviteError),
    /// The team's rules refused a change to the team.
    #[error(transparent)]
    Team(#[from] TeamError),
    /// The firm's details as given will not do.
    #[error(transparent)]
    Firm(#[from] lodge_domain::firm::FirmError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl From<CommandError<InviteError>> for ApiError {
    fn from(error: CommandError<InviteError>) -> Self {
        match error {
            CommandError::Rejected(rejected) => ApiError::Rejected(rejected),
            CommandError::Log(LogError::CommandIdReused { .. }) => ApiError::Conflict(
                "this Idempotency-Key was already used for a different request; use a new key for a new request".into(),
            ),
            CommandError::Log(error) => ApiError::Log(error),
            contention @ CommandError::Contention { .. } => ApiError::Conflict(format!("{contention}; try again")),
        }
    }
}

impl From<CommandError<lodge_domain::firm::FirmError>> for ApiError {
    fn from(error: CommandError<lodge_domain::firm::FirmError>) -> Self {
        match error {
            CommandError::Rejected(rejected) => ApiError::Firm(rejected),
            CommandError::Log(error) => ApiError::Log(error),
            contention @ CommandError::Contention { .. } => ApiError::Conflict(format!("{contention}; try again")),
        }
    }
}

impl From<CommandError<TeamError>> for ApiError {
    fn from(error: CommandError<TeamError>) -> Self {
        match error {
            CommandError::Rejected(rejected) => ApiError::Team(rejected),
            CommandError::Log(LogError::CommandIdReused { .. }) => ApiError::Conflict(
                "this Idempotency-Key was already used for a different request; use a new key for a new request".into(),
            ),
            CommandError::Log(error) => ApiError::Log(error),
            contention @ CommandError::Contention { .. } => ApiError::Conflict(format!("{contention}; try again")),
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'static str,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use InviteError as E;
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type"),
            ApiError::RangeNotSatisfiable { .. } => (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable"),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::NotYetVisible(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_yet_visible"),
            // Every refusal placed by hand: a new one does not compile until it has a status.
            ApiError::Rejected(rejected) => match rejected {
                E::NotSent
                | E::UnknownContact(_)
                | E::UnknownRequest(_)
                | E::UnknownDocument(_)
                | E::NotAssigned { .. } => (StatusCode::NOT_FOUND, "not_found"),
                E::AlreadySent
                | E::Closed { .. }
                | E::DuplicateContact { .. }
                | E::DuplicateId(_)
                | E::TooManyFiles { .. }
                | E::NotAwaitingReview { .. } => (StatusCode::CONFLICT, "conflict"),
                E::TypeNotAllowed { .. } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type"),
                E::NoContacts
                | E::TooManyContacts { .. }
                | E::NoRequests
                | E::TooManyRequests { .. }
                | E::DueDateInPast { .. }
                | E::NotAFormRequest(_)
                | E::NotAFileRequest(_)
                | E::InvalidContentType(_)
                | E::EmptyFile(_)
                | E::InvalidFileName(_)
                | E::RejectionNeedsReason
                | E::NoPortalPassword
                | E::Text(_)
                | E::Contact(_)
                | E::Request(_)
                | E::Digest(_)
                | E::Reminder(_)
                | E::EmptyDigest => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            },
            ApiError::Team(rejected) => match rejected {
                TeamError::NotAnOwner => (StatusCode::FORBIDDEN, "forbidden"),
                TeamError::UnknownMember(_) => (StatusCode::NOT_FOUND, "not_found"),
                TeamError::EmailTaken { .. }
                | TeamError::DuplicateId(_)
                | TeamError::Deactivated { .. }
                | TeamError::LastOwner => (StatusCode::CONFLICT, "conflict"),
                TeamError::FirstMustBeOwner | TeamError::Email(_) | TeamError::Text(_) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
                }
            },
            // Every refusal of the firm's details is about what was typed.
            ApiError::Firm(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Log(_) | ApiError::Projection(_) | ApiError::Database(_) | ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

/// Why a request failed on Lodge's side, carried in the response's extensions to the tracing
/// layer, which logs it (`server::trace_layer`): the client reads only that something went wrong,
/// since the cause may name tables, hosts or files.
#[derive(Debug, Clone)]
pub struct FailureCause(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let internal = status.is_server_error() && code == "internal";
        let detail = if internal {
            "something went wrong on our side; it has been logged, and trying again may work".to_owned()
        } else {
            self.to_string()
        };
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            code,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        if internal {
            response.extensions_mut().insert(FailureCause(self.to_string()));
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::RangeNotSatisfiable { length, .. } = &self {
            let value = format!("bytes */{length}");
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&value).expect("digits are a header value"),
            );
        }
        if let ApiError::TooManyRequests { retry_after, .. } = &self {
            let seconds = retry_after.as_secs().max(1).to_string();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&seconds).expect("digits are a header value"),
            );
        }
        response
    }
}
