//! What staff and compliance read from the record: the audit trail (JSON or CSV, streamed), an
//! invite or a document's custody as of a moment, and the documents themselves.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use lodge_domain::{DocumentId, InviteId};
use lodge_projections::Projection;
use lodge_projections::as_of::{self, AsOfError};
use lodge_projections::audit::{self, AuditEntry, AuditFilter, AuditProjection};
use lodge_projections::{ProjectionError, ReadStore, portal};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::after_position;
use crate::own_writes::Writer;
use crate::state::AppState;

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum AuditFormat {
    #[default]
    Json,
    Csv,
    /// JSON lines: one entry per line.
    Jsonl,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[serde(default)]
    pub format: AuditFormat,
    pub after: Option<i64>,
}

/// The invite's audit trail, written out entry by entry as the database hands it over: an export
/// of any size is served in constant memory.
pub async fn audit_trail(
    state: &AppState,
    reader: &Writer,
    invite: InviteId,
    query: AuditQuery,
) -> Result<Response, ApiError> {
    state
        .wait_for(AuditProjection::NAME, after_position(query.after)?, Some(reader))
        .await?;
    if lodge_projections::staff::invite(&state.read_models, invite)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("there is no invite {invite}")));
    }
    let entries = owned_entries(
        state.read_models.clone(),
        AuditFilter {
            invite_id: Some(invite),
            contact_id: None,
            document_id: None,
        },
    );
    let (content_type, body) = match query.format {
        AuditFormat::Json => {
            let mut first = true;
            let items = entries.map_ok(move |entry| {
                let separator = if std::mem::take(&mut first) { "" } else { "," };
                let json = serde_json::to_string(&entry).expect("audit entries serialise");
                format!("{separator}{json}")
            });
            let body = stream::once(async { Ok("{\"entries\":[".to_owned()) })
                .chain(items)
                .chain(stream::once(async { Ok("]}".to_owned()) }));
            (
                "application/json",
                Body::from_stream(body.map_err(std::io::Error::other)),
            )
        }
        AuditFormat::Jsonl => {
            let lines = entries.map_ok(|entry| {
                let mut line = serde_json::to_string(&entry).expect("audit entries serialise");
                line.push('\n');
                line
            });
            (
                "application/x-ndjson",
                Body::from_stream(lines.map_err(std::io::Error::other)),
            )
        }
        AuditFormat::Csv => {
            let header = csv_line(AuditEntry::CSV_HEADER.iter().map(|s| s.to_string()).collect());
            let rows = entries.map_ok(|entry| csv_line(entry.csv_record()));
            let body = stream::once(async move { Ok(header) }).chain(rows);
            (
                "text/csv; charset=utf-8",
                Body::from_stream(body.map_err(std::io::Error::other)),
            )
        }
    };
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let extension = match query.format {
        AuditFormat::Json => None,
        AuditFormat::Csv => Some("csv"),
        AuditFormat::Jsonl => Some("jsonl"),
    };
    if let Some(extension) = extension {
        let disposition = format!("attachment; filename=\"audit-{invite}.{extension}\"");
        response.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).expect("an id is a header value"),
        );
    }
    Ok(response)
}

/// Entries read on a task of their own and handed over through a small channel: the response body
/// needs a stream that owns what it reads from, and the channel's bound keeps memory flat when the
/// client reads slower than the database answers.
fn owned_entries(
    store: ReadStore,
    filter: AuditFilter,
) -> impl futures_util::Stream<Item = Result<AuditEntry, ProjectionError>> + Send + 'static {
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let mut entries = std::pin::pin!(audit::entries(&store, &filter));
        while let Some(entry) = entries.next().await {
            // The client went away: stop reading.
            if sender.send(entry).await.is_err() {
                break;
            }
        }
    });
    // Fused: a body that ended may be polled again (the compression layer does, to flush), and an
    // `unfold` that returned its end panics when polled after it.
    stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|entry| (entry, receiver))
    })
    .fuse()
}

fn csv_line(record: Vec<String>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&record).expect("writing CSV to memory");
    String::from_utf8(writer.into_inner().expect("writing CSV to memory")).expect("CSV of strings is UTF-8")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    pub as_of: Option<DateTime<Utc>>,
    pub document_id: Option<DocumentId>,
}

fn as_of_error(error: AsOfError) -> ApiError {
    match error {
        AsOfError::Log(log) => ApiError::Log(log),
        AsOfError::UnknownInvite(_) | AsOfError::UnknownDocument { .. } => ApiError::NotFound(error.to_string()),
        AsOfError::BeforeItExisted { .. } => ApiError::Invalid(error.to_string()),
    }
}

/// The invite, or one document's chain of custody, as it stood at a moment, from the log alone.
pub async fn history(state: &AppState, invite: InviteId, query: HistoryQuery) -> Result<serde_json::Value, ApiError> {
    let value = match query.document_id {
        None => serde_json::to_value(
            as_of::invite(&state.log, invite, query.as_of)
                .await
                .map_err(as_of_error)?,
        ),
        Some(document) => serde_json::to_value(
            as_of::custody(&state.log, invite, document, query.as_of)
                .await
                .map_err(as_of_error)?,
        ),
    };
    value.map_err(|e| ApiError::Internal(format!("a history: {e}")))
}

/// The invite as it stood at a moment (now, without one), from the log alone, with the check of its
/// hash chain.
pub async fn invite_as_of(
    state: &AppState,
    invite: InviteId,
    at: Option<DateTime<Utc>>,
) -> Result<as_of::InviteAsOf, ApiError> {
    as_of::invite(&state.log, invite, at).await.map_err(as_of_error)
}

/// One document's chain of custody up to a moment, from the log alone.
pub async fn custody(
    state: &AppState,
    invite: InviteId,
    document: DocumentId,
    at: Option<DateTime<Utc>>,
) -> Result<as_of::Custody, ApiError> {
    as_of::custody(&state.log, invite, document, at)
        .await
        .map_err(as_of_error)
}

/// The invite's audit trail, as a page shows it: at most `most` entries, oldest first.
pub async fn entries(
    state: &AppState,
    reader: &Writer,
    invite: InviteId,
    most: usize,
) -> Result<Vec<AuditEntry>, ApiError> {
    state.wait_for(AuditProjection::NAME, None, Some(reader)).await?;
    let filter = AuditFilter {
        invite_id: Some(invite),
        contact_id: None,
        document_id: None,
    };
    Ok(audit::entries(&state.read_models, &filter)
        .take(most)
        .try_collect()
        .await?)
}

/// Any document, for staff: found through the audit trail, sent like the contact's download.
pub async fn download(state: &AppState, document: DocumentId, headers: &HeaderMap) -> Result<Response, ApiError> {
    let missing = || ApiError::NotFound(format!("there is no document {document}"));
    let filter = AuditFilter {
        invite_id: None,
        contact_id: None,
        document_id: Some(document),
    };
    let uploaded = audit::entries(&state.read_models, &filter)
        .try_filter(|entry| std::future::ready(entry.action == "document_uploaded"))
        .boxed()
        .try_next()
        .await?
        .ok_or_else(missing)?;
    let contact = uploaded.contact_id.ok_or_else(missing)?;
    let view = portal::portal_view(&state.read_models, uploaded.invite_id, contact)
        .await?
        .ok_or_else(missing)?;
    let found = view
        .requests
        .iter()
        .flat_map(|r| &r.documents)
        .find(|d| d.id == document)
        .ok_or_else(missing)?;
    crate::downloads::send(state, found, headers).await
}
