//! A contact uploads files to a request. Each file streams into blob storage while its SHA-256 is
//! computed; its type is recognised from its first bytes, not taken from the browser. Only when
//! every file is stored durably are they recorded, all in one append; if anything is refused, the
//! files this upload stored are removed again and nothing is recorded.

use axum::extract::Multipart;
use axum::extract::multipart::Field;
use lodge_domain::invite::{InviteCommand, UploadDocument};
use lodge_domain::limits::MAX_FILE_NAME_CHARS;
use lodge_domain::request::type_allowed;
use lodge_domain::{DocumentId, RequestId};
use lodge_projections::portal::{DocumentStatus, PortalRequest, RequestKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::blobs::{BlobStore, IncomingBlob, SNIFF_BYTES, StoredBlob};
use crate::commands;
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::limits::{self, Action};
use crate::portal::session::ContactSession;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Uploaded {
    pub documents: Vec<UploadedDocument>,
    pub position: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadedDocument {
    pub id: DocumentId,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
}

/// A file as received, before it is recorded.
struct Received {
    file_name: String,
    content_type: String,
    blob: StoredBlob,
}

pub async fn upload(
    state: &AppState,
    session: &ContactSession,
    context: &RequestContext,
    request_id: RequestId,
    mut multipart: Multipart,
) -> Result<Uploaded, ApiError> {
    let request = assigned_file_request(session, request_id)?;
    limits::check(state, Action::Upload, session.who(context)).await?;
    let live = request
        .documents
        .iter()
        .filter(|d| d.status != DocumentStatus::Rejected)
        .count() as u32;
    let room = request.max_files.unwrap_or(u32::MAX).saturating_sub(live);

    let mut received: Vec<Received> = Vec::new();
    let outcome = async {
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            if field.name() != Some("file") {
                return Err(ApiError::BadRequest(format!(
                    "unexpected form field `{}`: send each file in a field named `file`",
                    field.name().unwrap_or("")
                )));
            }
            // A browser form sends an empty, nameless part for a file input left empty. One that
            // carries bytes is refused at its first chunk, not read to its end.
            if field.file_name() == Some("") {
                skip_empty_part(field).await?;
                continue;
            }
            if received.len() as u32 >= room {
                return Err(ApiError::Conflict(format!(
                    "\"{}\" takes at most {} files; wait for a review, or replace a rejected file",
                    request.title,
                    request.max_files.unwrap_or_default()
                )));
            }
            received.push(receive(state, request, field).await?);
        }
        if received.is_empty() {
            return Err(ApiError::BadRequest(
                "no file was sent: add at least one field named `file`".into(),
            ));
        }
        let metadata = context.metadata(session.actor(), &format!("upload:{request_id}"));
        let commands: Vec<InviteCommand> = received
            .iter()
            .enumerate()
            .map(|(index, file)| {
                InviteCommand::UploadDocument(UploadDocument {
                    // A retried request decides the same documents: ids come from the command id.
                    document_id: DocumentId::from_uuid(Uuid::new_v5(
                        &metadata.command_id,
                        format!("document:{index}").as_bytes(),
                    )),
                    request_id,
                    contact_id: session.contact_id,
                    file_name: file.file_name.clone(),
                    size_bytes: file.blob.size,
                    sha256: file.blob.sha256.clone(),
                    content_type: file.content_type.clone(),
                    blob_key: BlobStore::key(&file.blob.sha256).to_string(),
                })
            })
            .collect();
        let outcome =
            commands::execute_all(state, Some(session.writer()), session.invite_id, &commands, &metadata).await?;
        let documents = commands
            .into_iter()
            .map(|command| match command {
                InviteCommand::UploadDocument(upload) => UploadedDocument {
                    id: upload.document_id,
                    file_name: upload.file_name,
                    size: upload.size_bytes,
                    sha256: upload.sha256,
                    content_type: upload.content_type,
                },
                _ => unreachable!("only uploads were decided"),
            })
            .collect();
        Ok(Uploaded {
            documents,
            position: outcome.position.map(|p| p.0),
        })
    }
    .await;
    if outcome.is_err() {
        let stored: Vec<StoredBlob> = received.into_iter().map(|r| r.blob).collect();
        state.blobs.discard(&stored).await;
    }
    outcome
}

/// Reads a part whose file name is empty: it must be empty too.
async fn skip_empty_part(mut field: Field<'_>) -> Result<(), ApiError> {
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if !chunk.is_empty() {
            return Err(ApiError::BadRequest(
                "a file was sent without a file name: give each file part a filename".into(),
            ));
        }
    }
    Ok(())
}

/// The request, as this contact's portal shows it, if it is theirs and takes files.
fn assigned_file_request(session: &ContactSession, request_id: RequestId) -> Result<&PortalRequest, ApiError> {
    let request = session.request(request_id)?;
    if request.kind != RequestKind::File {
        return Err(ApiError::Invalid(format!(
            "\"{}\" is a form: send its answers to /api/portal/requests/{request_id}/form",
            request.title
        )));
    }
    Ok(request)
}

/// Streams one file into blob storage, checking its size and type as it comes.
async fn receive(state: &AppState, request: &PortalRequest, mut field: Field<'_>) -> Result<Received, ApiError> {
    let file_name = display_name(field.file_name().unwrap_or(""));
    let max = state.settings.max_file_bytes;
    let mut blob = state.blobs.begin().await?;
    let mut content_type: Option<String> = None;
    let result: Result<(), ApiError> = async {
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if blob.size() + chunk.len() as u64 > max {
                return Err(ApiError::TooLarge(format!(
                    "\"{file_name}\" is larger than {} MiB, the most one file may be",
                    max / (1024 * 1024)
                )));
            }
            blob.write(chunk).await?;
            if content_type.is_none() && blob.head().len() >= SNIFF_BYTES {
                content_type = Some(check_type(request, &file_name, &blob)?);
            }
        }
        if content_type.is_none() {
            content_type = Some(check_type(request, &file_name, &blob)?);
        }
        if blob.size() == 0 {
            return Err(ApiError::Invalid(format!("\"{file_name}\" is empty")));
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(Received {
            file_name,
            content_type: content_type.expect("the type was recognised"),
            blob: blob.finish(&state.blobs).await?,
        }),
        Err(error) => {
            blob.abort().await;
            Err(error)
        }
    }
}

fn check_type(request: &PortalRequest, file_name: &str, blob: &IncomingBlob) -> Result<String, ApiError> {
    let content_type = sniff(blob.head());
    if type_allowed(&request.allowed_types, &content_type) {
        Ok(content_type)
    } else {
        Err(ApiError::UnsupportedType(format!(
            "\"{file_name}\" is {content_type}, which \"{}\" does not accept (accepted: {})",
            request.title,
            request.allowed_types.join(", ")
        )))
    }
}

/// The type of a file from its first bytes. Text without a recognised signature is text/plain;
/// anything else unrecognised is application/octet-stream.
pub fn sniff(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the sniffed bytes is still text.
        Err(error) => error.error_len().is_none(),
    };
    if text && !head.contains(&0) {
        "text/plain".to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

/// A file name fit to show and to record: the last path component, without control characters or
/// direction overrides, trimmed and shortened; "document" when nothing is left.
pub fn display_name(original: &str) -> String {
    let last = original.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|&c| !c.is_control() && !lodge_domain::text::is_bidi_control(c))
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let name: String = trimmed.chars().take(MAX_FILE_NAME_CHARS).collect();
    if name.is_empty() { "document".to_owned() } else { name }
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    let status = error.status();
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(error.body_text())
    } else {
        ApiError::BadRequest(format!(
            "the upload was cut short or is not valid multipart: {}",
            error.body_text()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(display_name("C:\\Users\\ana\\payslip.pdf"), "payslip.pdf");
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("pay\u{0}slip\n.pdf"), "payslip.pdf");
        assert_eq!(display_name("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        assert_eq!(display_name("\u{2067}a\u{200f}b\u{2069}.pdf"), "ab.pdf");
        assert_eq!(display_name("  ..hidden "), "hidden");
        assert_eq!(display_name("/"), "document");
        assert_eq!(display_name(&"é".repeat(1000)).chars().count(), MAX_FILE_NAME_CHARS);
    }

    #[test]
    fn types_come_from_content() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), "application/pdf");
        assert_eq!(
            sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0]),
            "image/png"
        );
        assert_eq!(sniff("date,amount\n2026-01-01,12.50\n".as_bytes()), "text/plain");
        assert_eq!(sniff(&[0xff, 0x00, 0x13, 0x37]), "application/octet-stream");
        assert_eq!(sniff(&"é".as_bytes()[..1]), "text/plain", "a cut multi-byte character");
    }
}
