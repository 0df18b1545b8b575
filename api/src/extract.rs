//! Extractors that turn what a request carries into what the application needs, failing with a
//! problem+json error rather than axum's plain-text rejections.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use lodge_domain::Actor;
use lodge_eventlog::{Metadata, Position, Source};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;

/// A JSON body. Unknown fields, wrong types and malformed JSON are refused with a detail that says
/// where.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedType("send the body as JSON, with Content-Type: application/json".into())
            }
            JsonRejection::JsonDataError(error) => ApiError::Invalid(error.body_text()),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

/// A browser form's body (`application/x-www-form-urlencoded`), refused with a problem+json detail
/// (a page, on the portal's pages) when it does not parse.
#[derive(FromRequest)]
#[from_request(via(axum::Form), rejection(ApiError))]
pub struct FormBody<T>(pub T);

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        ApiError::BadRequest(format!("the form could not be read: {}", rejection.body_text()))
    }
}

/// A multipart body (uploads), refused with a problem+json detail when it is not one.
pub struct MultipartBody(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for MultipartBody {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(request, state)
            .await
            .map(MultipartBody)
            .map_err(|rejection| {
                ApiError::BadRequest(format!(
                    "send files as multipart/form-data, each in a field named `file` ({})",
                    rejection.body_text()
                ))
            })
    }
}

/// Query parameters, refused with a problem+json detail when they do not parse.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// Path parameters (ids), refused with a problem+json detail when they do not parse.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParams<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// `?after=POSITION` on a read: wait until the read models have reached a position that a command
/// returned, so that a client reads its own writes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadAfter {
    pub after: Option<i64>,
}

impl ReadAfter {
    pub fn position(&self) -> Result<Option<Position>, ApiError> {
        after_position(self.after)
    }
}

/// `?after=` as a position: 0 asks for nothing, a negative one is no position.
pub fn after_position(after: Option<i64>) -> Result<Option<Position>, ApiError> {
    match after {
        Some(position) if position < 0 => Err(ApiError::Invalid(format!(
            "`after` is {position}, but positions start at 1: give a position a command returned"
        ))),
        Some(0) | None => Ok(None),
        Some(position) => Ok(Some(Position(position))),
    }
}

/// Where a request came from and which command it is, for the events it causes.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub source: Source,
    /// From an `Idempotency-Key` header: a retried request carries the same key.
    pub idempotency_key: Option<String>,
}

impl RequestContext {
    /// Metadata for the events this request causes on behalf of `actor`. With an Idempotency-Key,
    /// the command id is derived from the actor and the key, so that a retry is the same command
    /// and appends nothing more.
    pub fn metadata(&self, actor: Actor, scope: &str) -> Metadata {
        let mut metadata = Metadata::new(actor);
        if let Some(key) = &self.idempotency_key {
            let actor_key = match &metadata.actor {
                Actor::Staff { id, .. } => format!("staff:{id}"),
                Actor::Contact { id, .. } => format!("contact:{id}"),
                Actor::System => "system".to_owned(),
            };
            metadata.command_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{actor_key}\n{scope}\n{key}").as_bytes());
            metadata.correlation_id = metadata.command_id;
        }
        metadata.source = Some(self.source.clone());
        metadata
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip: Option<IpAddr> = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().filter(|c| !c.is_control()).take(500).collect());
        let idempotency_key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(value) => {
                let key = value
                    .to_str()
                    .ok()
                    .filter(|key| !key.is_empty() && key.len() <= 255)
                    .ok_or_else(|| {
                        ApiError::BadRequest(
                            "the Idempotency-Key header must be 1 to 255 visible ASCII characters".into(),
                        )
                    })?;
                Some(key.to_owned())
            }
        };
        Ok(Self {
            source: Source { ip, user_agent },
            idempotency_key,
        })
    }
}
