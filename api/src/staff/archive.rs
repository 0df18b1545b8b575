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
use lodge_projections::{Projection, staff};
use tokio_util::io::ReaderStream;

use crate::blobs::BlobStore;
use crate::error::ApiError;
use crate::own_writes::Writer;
use crate::state::AppState;

/// Bytes in flight between the archive writer and the response.
const PIPE_BYTES: usize = 256 * 1024;

/// One file of the archive.
struct Member {
    path: String,
    sha256: String,
}

/// The archive shows what the staff projection shows, with the reader's own reviews.
pub async fn documents_zip(state: &AppState, reader: &Writer, invite: InviteId) -> Result<Response, ApiError> {
    state.wait_for(staff::StaffProjection::NAME, None, Some(reader)).await?;
    let view = staff::invite(&state.read_models, invite)
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

/// Characters no component of a path may hold on Windows, macOS or Linux.
const NOT_IN_PATHS: [char; 9] = ['/', '\\', '"', '<', '>', ':', '|', '?', '*'];
/// Names Windows keeps for devices, whatever their extension.
const WINDOWS_DEVICES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2",
    "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];
/// Bytes in one component: most file systems allow 255.
const MAX_COMPONENT_BYTES: usize = 240;

/// A name fit for one component of a path in the archive, on every system that unpacks it: no
/// separator or character Windows refuses, no control or direction override, no leading or
/// trailing dot or space, no device name, at most [`MAX_COMPONENT_BYTES`].
fn component(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|&c| !lodge_domain::text::is_bidi_control(c))
        .map(|c| {
            if NOT_IN_PATHS.contains(&c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace()).to_owned();
    if trimmed.len() > MAX_COMPONENT_BYTES {
        let mut end = MAX_COMPONENT_BYTES;
        while !trimmed.is_char_boundary(end) {
            end -= 1;
        }
        trimmed.truncate(end);
    }
    let stem = trimmed.split('.').next().unwrap_or_default().trim_end();
    if trimmed.is_empty() || WINDOWS_DEVICES.iter().any(|device| device.eq_ignore_ascii_case(stem)) {
        format!("_{trimmed}")
    } else {
        trimmed
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
        assert_eq!(component("Anything\u{202e}exe.pdf"), "Anythingexe.pdf");
        assert_eq!(component("a\"b<c>d:e|f?g*h"), "a_b_c_d_e_f_g_h");
        assert_eq!(component("con.txt"), "_con.txt");
        assert_eq!(component("Console.txt"), "Console.txt");
        assert_eq!(component("..."), "_");
        assert_eq!(component("report. "), "report");
        assert_eq!(component(&"é".repeat(200)).len(), MAX_COMPONENT_BYTES);
        let mut taken = BTreeSet::new();
        assert_eq!(unique(&mut taken, "Ana/Payslips/july.pdf"), "Ana/Payslips/july.pdf");
        assert_eq!(unique(&mut taken, "Ana/Payslips/july.pdf"), "Ana/Payslips/july (2).pdf");
        assert_eq!(unique(&mut taken, "Ana/Payslips/july.pdf"), "Ana/Payslips/july (3).pdf");
        assert_eq!(unique(&mut taken, "Ana/v1.0/README"), "Ana/v1.0/README");
        assert_eq!(unique(&mut taken, "Ana/v1.0/README"), "Ana/v1.0/README (2)");
    }
}
