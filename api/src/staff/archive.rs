//! `GET /api/invites/{invite_id}/documents.zip`: every accepted and pending document of an invite,
//! as one ZIP streamed while it is made: files are read from blob storage and written into the
//! archive through a small pipe, so memory stays flat whatever the invite holds. Files are stored,
//! not compressed: documents are mostly PDFs and photos, already compressed.

use std::collections::BTreeSet;

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::{AsyncWriteExt, TryStreamExt};
use lodge_domain::InviteId;
use lodge_projections::portal::DocumentStatus;
use lodge_projections::staff;
use tokio_util::io::ReaderStream;

use crate::blobs::BlobStore;
use crate::error::ApiError;
use crate::state::AppState;

/// Bytes in flight between the archive writer and the response.
const PIPE_BYTES: usize = 256 * 1024;

/// One file of the archive.
struct Member {
    path: String,
    sha256: String,
}

pub async fn documents_zip(state: &AppState, invite: InviteId) -> Result<Response, ApiError> {
    let view = staff::invite(&state.store, invite)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no invite {invite}")))?;
    let mut taken = BTreeSet::new();
    let mut members = Vec::new();
    for contact in &view.contacts {
        for request in &contact.requests {
            for document in request
                .documents
                .iter()
                .filter(|d| d.status != DocumentStatus::Rejected)
            {
                let path = unique(
                    &mut taken,
                    &format!(
                        "{}/{}/{}",
                        component(&contact.name),
                        component(&request.title),
                        component(&document.file_name)
                    ),
                );
                members.push(Member {
                    path,
                    sha256: document.sha256.clone(),
                });
            }
        }
    }
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let blobs = state.blobs.clone();
    tokio::spawn(async move {
        if let Err(error) = write_archive(&blobs, members, writer).await {
            // The client sees a truncated download; the cause goes to the log.
            tracing::warn!(%error, %invite, "the documents archive could not be completed");
        }
    });
    let mut response = Body::from_stream(ReaderStream::new(reader)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    let disposition = format!("attachment; filename=\"documents-{invite}.zip\"");
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).expect("an id is a header value"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

async fn write_archive(
    blobs: &BlobStore,
    members: Vec<Member>,
    writer: tokio::io::DuplexStream,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut zip = ZipFileWriter::with_tokio(writer);
    for member in members {
        let entry = ZipEntryBuilder::new(member.path.into(), Compression::Stored).unix_permissions(0o644);
        let mut entry = zip.write_entry_stream(entry).await?;
        let mut chunks = blobs.get(&member.sha256, None).await?.into_stream();
        while let Some(chunk) = chunks.try_next().await? {
            entry.write_all(&chunk).await?;
        }
        entry.close().await?;
    }
    let mut writer = zip.close().await?.into_inner();
    tokio::io::AsyncWriteExt::shutdown(&mut writer).await?;
    Ok(())
}

/// A name fit for one component of a path in the archive.
fn component(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_matches('.');
    if trimmed.is_empty() {
        "_".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// `path`, or `name (2).ext`, … when an earlier member took it.
fn unique(taken: &mut BTreeSet<String>, path: &str) -> String {
    if taken.insert(path.to_owned()) {
        return path.to_owned();
    }
    let (stem, extension) = match path.rsplit_once('.') {
        Some((stem, extension)) if !stem.ends_with('/') && !extension.contains('/') => (stem, format!(".{extension}")),
        _ => (path, String::new()),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){extension}"))
        .find(|candidate| taken.insert(candidate.clone()))
        .expect("some number is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_safe_and_unique() {
        assert_eq!(component("../../etc"), "_.._etc");
        assert_eq!(component(" Bank / statements "), "Bank _ statements");
        let mut taken = BTreeSet::new();
        assert_eq!(unique(&mut taken, "Ana/Payslips/july.pdf"), "Ana/Payslips/july.pdf");
        assert_eq!(unique(&mut taken, "Ana/Payslips/july.pdf"), "Ana/Payslips/july (2).pdf");
        assert_eq!(unique(&mut taken, "Ana/Payslips/july.pdf"), "Ana/Payslips/july (3).pdf");
        assert_eq!(unique(&mut taken, "Ana/v1.0/README"), "Ana/v1.0/README");
        assert_eq!(unique(&mut taken, "Ana/v1.0/README"), "Ana/v1.0/README (2)");
    }
}
