//! Sending a stored document: as an attachment (never rendered inline, so an uploaded HTML file
//! cannot run in Lodge's origin), with its length, and in parts when the client asks for a Range
//! (resuming a download on a flaky connection).

use std::ops::Bound;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::headers::{HeaderMapExt, Range};
use futures_util::TryStreamExt;
use lodge_projections::portal::PortalDocument;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn send(
    state: &AppState,
    document: &PortalDocument,
    request_headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let length = document.size;
    let range = match request_headers.typed_get::<Range>() {
        None => None,
        Some(range) => {
            let ranges: Vec<_> = range.satisfiable_ranges(length).collect();
            match ranges.as_slice() {
                [(start, end)] => Some(bounds(*start, *end, length).ok_or_else(|| unsatisfiable(length))?),
                [] => return Err(unsatisfiable(length)),
                // Several ranges at once would need multipart/byteranges; the whole file does too.
                _ => None,
            }
        }
    };
    let stored = state.blobs.get(&document.sha256, range.clone()).await?;
    let body = Body::from_stream(stored.into_stream().map_err(std::io::Error::other));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&document.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_DISPOSITION, attachment(&document.file_name));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    match range {
        None => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        Some(range) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(range.end - range.start));
            let content_range = format!("bytes {}-{}/{length}", range.start, range.end - 1);
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range).expect("digits are a header value"),
            );
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
    }
    Ok(response)
}

/// The bytes a range asks for, cut at the file's end; none if it holds no byte of the file. A
/// bound may be as large as the client likes (`bytes=0-18446744073709551615`), so nothing here
/// adds to one without checking.
fn bounds(start: Bound<u64>, end: Bound<u64>, length: u64) -> Option<std::ops::Range<u64>> {
    let start = match start {
        Bound::Included(s) => s,
        Bound::Excluded(s) => s.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match end {
        Bound::Included(e) => e.saturating_add(1),
        Bound::Excluded(e) => e,
        Bound::Unbounded => length,
    }
    .min(length);
    (start < end).then_some(start..end)
}

fn unsatisfiable(length: u64) -> ApiError {
    ApiError::RangeNotSatisfiable {
        detail: format!("the range asked for is outside the file, which has {length} bytes"),
        length,
    }
}

/// `attachment; filename="…"; filename*=UTF-8''…`: an ASCII fallback, and the real name encoded.
fn attachment(file_name: &str) -> HeaderValue {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in file_name.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(byte) {
            encoded.push(*byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_cut_at_the_end_of_the_file_without_overflowing() {
        let whole = bounds(Bound::Included(0), Bound::Included(u64::MAX), 10);
        assert_eq!(whole, Some(0..10));
        assert_eq!(bounds(Bound::Excluded(u64::MAX), Bound::Unbounded, 10), None);
        assert_eq!(bounds(Bound::Included(5), Bound::Included(9), 10), Some(5..10));
        assert_eq!(bounds(Bound::Included(10), Bound::Unbounded, 10), None);
    }
}
