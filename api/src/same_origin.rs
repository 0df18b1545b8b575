//! Requests that change something on a cookie's strength must come from Lodge's own pages. A page
//! on another site can make a browser post a form here, cookies and all (login CSRF: a visitor made
//! to upload into someone else's portal); browsers say where a request comes from, so such a post
//! is refused with 403 before anything else runs. Programs (curl, the portal API's clients) send
//! neither header and are not affected; they hold their cookie themselves.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

pub async fn refuse_cross_site(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !request.method().is_safe() && from_another_site(request.headers(), &state.settings.public_url) {
        return ApiError::Forbidden(
            "this request came from another site, so it was refused: use the portal's own pages".into(),
        )
        .into_response();
    }
    next.run(request).await
}

/// Whether the browser says the request comes from a page of another origin. `Sec-Fetch-Site`
/// (every current browser) decides; without it, `Origin` must be Lodge's public address or the
/// address the request was sent to.
fn from_another_site(headers: &HeaderMap, public_url: &str) -> bool {
    let text = |name: header::HeaderName| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = text(header::ORIGIN) else {
        return false;
    };
    let public = url::Url::parse(public_url).map(|url| url.origin().ascii_serialization());
    let addressed = text(header::HOST).is_some_and(|host| {
        origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
    });
    !(public.as_deref() == Ok(origin) || addressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    const PUBLIC: &str = "https://portal.firm.example";

    #[test]
    fn the_browser_says_where_a_request_comes_from() {
        assert!(!from_another_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            PUBLIC
        ));
        assert!(!from_another_site(&headers(&[("sec-fetch-site", "none")]), PUBLIC));
        assert!(from_another_site(&headers(&[("sec-fetch-site", "cross-site")]), PUBLIC));
        assert!(from_another_site(&headers(&[("sec-fetch-site", "same-site")]), PUBLIC));
        let lying_origin = headers(&[("sec-fetch-site", "cross-site"), ("origin", PUBLIC)]);
        assert!(from_another_site(&lying_origin, PUBLIC), "Sec-Fetch-Site decides");
    }

    #[test]
    fn without_sec_fetch_site_the_origin_must_be_lodges() {
        assert!(!from_another_site(&headers(&[]), PUBLIC), "a program");
        assert!(!from_another_site(&headers(&[("origin", PUBLIC)]), PUBLIC));
        assert!(from_another_site(
            &headers(&[("origin", "https://evil.example")]),
            PUBLIC
        ));
        assert!(from_another_site(&headers(&[("origin", "null")]), PUBLIC));
        let addressed = headers(&[("origin", "http://localhost:8080"), ("host", "localhost:8080")]);
        assert!(
            !from_another_site(&addressed, "http://127.0.0.1:8080"),
            "the address it was sent to"
        );
        let elsewhere = headers(&[("origin", "http://localhost:9999"), ("host", "localhost:8080")]);
        assert!(from_another_site(&elsewhere, "http://127.0.0.1:8080"));
    }
}
