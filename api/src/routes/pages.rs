//! The portal's pages: thin handlers that read the portal as the viewer may see it, or hand a form
//! to the same use case the portal API uses, and answer with a page or a redirect.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use axum_extra::extract::CookieJar;
use lodge_domain::RequestId;
use lodge_projections::portal::{DocumentStatus, InviteStatus, PortalRequest, RequestKind};
use minijinja::{Value, context};

use crate::error::ApiError;
use crate::extract::{FormBody, MultipartBody, PathParams, QueryParams, ReadAfter, RequestContext};
use crate::pages::templates::{Video, serialized};
use crate::pages::viewer::Viewer;
use crate::pages::{assets, layer};
use crate::portal::contact::{self, ContactMessage, FormAnswers};
use crate::portal::password;
use crate::portal::session::{self, Contact, PendingContact};
use crate::portal::uploads;
use crate::portal::view::PortalResponse;
use crate::same_origin;
use crate::staff::view_links;
use crate::state::AppState;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/p/{token}", get(follow_link).post(switch_portal))
        .route("/v/{token}", get(open_staff_view))
        .route("/portal", get(requests))
        .route("/portal/password", post(give_password))
        .route("/portal/sign-out", post(sign_out))
        .route("/portal/messages", post(post_message))
        .route("/portal/requests/{request_id}", get(request))
        .route("/portal/requests/{request_id}/form", post(submit_form))
        .route("/portal/contact", get(contact_tab))
        .route("/portal/help", get(help))
        .route("/portal/help/{slug}", get(help_article))
        .route("/portal/video", get(video))
        .route(
            "/assets/portal.css",
            get(|| async { asset("text/css", assets::PORTAL_CSS) }),
        )
        .route(
            "/assets/portal.js",
            get(|| async { asset("text/javascript", assets::PORTAL_JS) }),
        )
        .route("/assets/theme.css", get(theme))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            same_origin::refuse_cross_site,
        ))
        .layer(middleware::from_fn_with_state(state, layer::pages))
}

/// Pages that move files: outside the request timeout, and not bound by the JSON body limit.
pub fn file_routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/portal/requests/{request_id}/documents",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/portal/video/file", get(video_file))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            same_origin::refuse_cross_site,
        ))
        .layer(middleware::from_fn_with_state(state, layer::pages))
}

pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

async fn theme(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        state.pages.theme_css.clone(),
    )
        .into_response()
}

/// The values every portal page shows: the portal, whose it is, and who is looking.
fn page_values(state: &AppState, viewer: &Viewer, portal: &PortalResponse, tab: &str, title: String) -> Value {
    context! {
        page_title => title,
        tab,
        contact_name => &portal.contact.name,
        staff_banner => viewer.banner(&state.pages.text("staff_view_banner"), &portal.contact.name),
        read_only => viewer.read_only(),
        invite => serialized(&portal.invite),
        sender => serialized(&portal.sender),
        totals => serialized(&portal.totals),
        requests => serialized(&portal.requests),
        messages => serialized(&portal.messages),
    }
}

/// A page for the viewer, or the password page while the portal is still locked to them.
async fn portal_page(
    state: &AppState,
    viewer: &Viewer,
    after: Option<lodge_eventlog::Position>,
    page: impl FnOnce(&PortalResponse) -> Result<String, ApiError>,
) -> Result<Response, ApiError> {
    let portal = viewer.portal(state, after).await?;
    if viewer.needs_password() {
        return password_page(state, &portal, None, StatusCode::OK);
    }
    Ok(Html(page(&portal)?).into_response())
}

fn password_page(
    state: &AppState,
    portal: &PortalResponse,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let html = state.pages.render(
        "password.html",
        context! {
            page_title => state.pages.text("password_heading"),
            sender_name => &portal.sender.name,
            error,
        },
    )?;
    Ok((status, Html(html)).into_response())
}

/// Follows a portal link: signs the contact in and goes on to the portal.
#[utoipa::path(get, path = "/p/{token}", tag = "portal",
    params(("token" = String, Path, description = "The token at the end of a portal link")),
    responses((status = 200, description = "Signed in: a session cookie is set, and the page goes on to the portal (or its password step); or, when the browser is signed in to another portal, a page asking before switching", content_type = "text/html"),
        (status = 401, description = "no valid credentials", content_type = "text/html"),
        (status = 404, description = "no such thing (or not yours)", content_type = "text/html"),
        (status = 429, description = "too many links opened in a short time", content_type = "text/html")))]
pub(crate) async fn follow_link(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    PathParams(token): PathParams<String>,
) -> Result<Response, ApiError> {
    let link = session::find_link(&state, &context, &token).await?;
    let current = match jar.get(session::COOKIE) {
        Some(cookie) => session::session_for(&state, cookie.value(), session::Purpose::Write)
            .await
            .ok(),
        None => None,
    };
    // A link to another portal than the one this browser is signed in to asks first: a link from
    // someone else must not quietly put the visitor in a portal that is not theirs.
    if let Some(current) = current
        && (current.invite_id, current.contact_id) != (link.invite_id, link.contact_id)
    {
        let html = state.pages.render(
            "switch.html",
            context! {
                page_title => state.pages.text("switch_heading"),
                current_name => &current.contact_name,
                current_title => &current.view.invite.title,
            },
        )?;
        return Ok(Html(html).into_response());
    }
    open_link(&state, jar, &context, link).await
}

/// The visitor chose to leave the portal they were signed in to for the link's.
async fn switch_portal(
    State(state): State<AppState>,
    jar: CookieJar,
    context: RequestContext,
    PathParams(token): PathParams<String>,
) -> Result<Response, ApiError> {
    let link = session::find_link(&state, &context, &token).await?;
    open_link(&state, jar, &context, link).await
}

/// Signs in with a link (ending the browser's earlier session) and goes on to the portal.
async fn open_link(
    state: &AppState,
    jar: CookieJar,
    context: &RequestContext,
    link: session::Link,
) -> Result<Response, ApiError> {
    let replacing = jar.get(session::COOKIE).map(|cookie| cookie.value().to_owned());
    let opened = session::open(state, context, link, replacing.as_deref()).await?;
    // A page rather than a redirect: the browser sends a SameSite=Strict cookie set while following
    // a link from an email only on a navigation this site starts itself, and the token leaves the
    // address bar at once.
    Ok((jar.add(opened.cookie), Html(opening(state)?)).into_response())
}

async fn sign_out(State(state): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    if let Some(cookie) = jar.get(session::COOKIE) {
        session::end(&state, cookie.value()).await?;
    }
    let html = state.pages.render(
        "signed_out.html",
        context! { page_title => state.pages.text("signed_out_heading") },
    )?;
    Ok((jar.add(session::removal_cookie()), Html(html)).into_response())
}

fn opening(state: &AppState) -> Result<String, ApiError> {
    state.pages.render("opening.html", context! { next => "/portal" })
}

async fn open_staff_view(
    State(state): State<AppState>,
    jar: CookieJar,
    PathParams(token): PathParams<String>,
) -> Result<(CookieJar, Html<String>), ApiError> {
    let cookie = view_links::open(&state, &token).await?;
    Ok((jar.add(cookie), Html(opening(&state)?)))
}

async fn requests(
    State(state): State<AppState>,
    viewer: Viewer,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Response, ApiError> {
    portal_page(&state, &viewer, read.position()?, |portal| {
        let values = page_values(&state, &viewer, portal, "requests", portal.invite.title.clone());
        state.pages.render("requests.html", values)
    })
    .await
}

#[derive(serde::Deserialize)]
struct PasswordForm {
    password: String,
}

async fn give_password(
    State(state): State<AppState>,
    jar: CookieJar,
    PendingContact(session): PendingContact,
    context: RequestContext,
    FormBody(form): FormBody<PasswordForm>,
) -> Result<Response, ApiError> {
    match password::unlock(&state, &context, &session, form.password).await {
        Ok(password::Unlocked::NewSession(cookie)) => Ok((jar.add(cookie), Redirect::to("/portal")).into_response()),
        Ok(password::Unlocked::AlreadyOpen) => Ok(Redirect::to("/portal").into_response()),
        Err(refused @ (ApiError::Unauthenticated(_) | ApiError::TooManyRequests { .. })) => {
            let portal = contact::view(&state, session, None).await?;
            let (message, status) = match &refused {
                ApiError::TooManyRequests { retry_after, .. } => (
                    state
                        .pages
                        .text("password_locked")
                        .replace("{minutes}", &retry_after.as_secs().div_ceil(60).to_string())
                        .replace("{firm}", &state.firm.get().name),
                    StatusCode::TOO_MANY_REQUESTS,
                ),
                // The form again, saying what was wrong: a page, not a failed load.
                _ => (state.pages.text("password_wrong"), StatusCode::OK),
            };
            password_page(&state, &portal, Some(message), status)
        }
        Err(other) => Err(other),
    }
}

async fn post_message(
    State(state): State<AppState>,
    Contact(session): Contact,
    context: RequestContext,
    FormBody(form): FormBody<ContactMessage>,
) -> Result<Redirect, ApiError> {
    let posted = contact::post_message(&state, &session, &context, form).await?;
    Ok(Redirect::to(&after("/portal", posted.position, "#messages")))
}

fn after(path: &str, position: Option<i64>, anchor: &str) -> String {
    match position {
        Some(position) => format!("{path}?after={position}{anchor}"),
        None => format!("{path}{anchor}"),
    }
}

/// One request, with its files or its form; `error` and `values` when a form was refused.
fn request_page(
    state: &AppState,
    viewer: &Viewer,
    portal: &PortalResponse,
    request: &PortalRequest,
    error: Option<String>,
    values: Option<&Vec<(String, String)>>,
) -> Result<String, ApiError> {
    let live = request
        .documents
        .iter()
        .filter(|d| d.status != DocumentStatus::Rejected)
        .count() as u32;
    let invite_open = portal.invite.status == InviteStatus::Open;
    let can_upload = invite_open && request.max_files.is_none_or(|max| live < max);
    // Binary units under the labels people know: 100 MiB reads "100 MB", as file managers show it.
    let size = humansize::format_size(state.settings.max_file_bytes, humansize::WINDOWS);
    let upload_hint = if request.allowed_types.is_empty() {
        state.pages.text("upload_hint_any").replace("{size}", &size)
    } else {
        state
            .pages
            .text("upload_hint")
            .replace("{types}", &friendly_types(state, &request.allowed_types))
            .replace("{size}", &size)
    };
    // The answers as sent back, or as last submitted.
    let mut shown: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    if let Some(answers) = &request.answers {
        for (name, answer) in answers {
            use lodge_domain::request::Answer;
            let text = match answer {
                Answer::Text(text) | Answer::Number(text) | Answer::Choice(text) => text.clone(),
                Answer::Date(date) => date.to_string(),
                Answer::YesNo(yes) => if *yes { "yes" } else { "no" }.to_owned(),
            };
            shown.insert(name.clone(), text);
        }
    }
    if let Some(values) = values {
        shown = values.iter().cloned().collect();
    }
    let mut page = page_values(state, viewer, portal, "requests", request.title.clone());
    page = context! {
        request => serialized(request),
        error,
        values => shown,
        accept => request.allowed_types.join(","),
        upload_hint,
        can_upload,
        invite_open,
        ..page
    };
    state.pages.render("request.html", page)
}

/// `application/pdf, image/*` as a contact reads it: `PDF, photos and images`.
fn friendly_types(state: &AppState, types: &[String]) -> String {
    types
        .iter()
        .map(|content_type| match content_type.split_once('/') {
            Some(("image", "*")) => state.pages.text("type_any_image"),
            Some((_, "*")) => content_type.clone(),
            Some((_, subtype)) => subtype.trim_start_matches("x-").to_uppercase(),
            None => content_type.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn find_request(portal: &PortalResponse, request_id: RequestId) -> Result<&PortalRequest, ApiError> {
    portal
        .requests
        .iter()
        .find(|r| r.id == request_id)
        .ok_or_else(|| ApiError::NotFound(format!("your portal has no request {request_id}")))
}

async fn request(
    State(state): State<AppState>,
    viewer: Viewer,
    PathParams(request_id): PathParams<RequestId>,
    QueryParams(read): QueryParams<ReadAfter>,
) -> Result<Response, ApiError> {
    portal_page(&state, &viewer, read.position()?, |portal| {
        request_page(&state, &viewer, portal, find_request(portal, request_id)?, None, None)
    })
    .await
}

/// Without JavaScript, the upload form posts here; with it, each file goes to the portal API.
async fn upload(
    State(state): State<AppState>,
    Contact(session): Contact,
    context: RequestContext,
    PathParams(request_id): PathParams<RequestId>,
    MultipartBody(multipart): MultipartBody,
) -> Result<Redirect, ApiError> {
    let uploaded = uploads::upload(&state, &session, &context, request_id, multipart).await?;
    Ok(Redirect::to(&after(
        &format!("/portal/requests/{request_id}"),
        uploaded.position,
        "",
    )))
}

async fn submit_form(
    State(state): State<AppState>,
    Contact(session): Contact,
    context: RequestContext,
    PathParams(request_id): PathParams<RequestId>,
    FormBody(values): FormBody<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let portal_request = session.request(request_id)?.clone();
    if portal_request.kind != RequestKind::Form {
        return Err(ApiError::Invalid(format!(
            "\"{}\" asks for files",
            portal_request.title
        )));
    }
    // Browser forms send text: each value is read as its field's type.
    let mut answers = serde_json::Map::new();
    for (name, value) in &values {
        let value = value.trim();
        let Some(field) = portal_request.fields.iter().find(|f| &f.name == name) else {
            continue;
        };
        let typed = match (field.field_type, value) {
            (_, "") => serde_json::Value::Null,
            (lodge_domain::request::FieldType::YesNo, yes) => serde_json::Value::Bool(yes == "yes"),
            (lodge_domain::request::FieldType::Number, digits) => serde_json::Value::String(digits.replace(',', ".")),
            (_, text) => serde_json::Value::String(text.to_owned()),
        };
        answers.insert(name.clone(), typed);
    }
    match contact::submit_form(&state, &session, &context, request_id, FormAnswers { answers }).await {
        Ok(recorded) => {
            Ok(Redirect::to(&after(&format!("/portal/requests/{request_id}"), recorded.position, "")).into_response())
        }
        Err(refused @ (ApiError::Invalid(_) | ApiError::Rejected(_))) => {
            let viewer = Viewer::Contact(session.clone());
            let portal = contact::view(&state, session, None).await?;
            let html = request_page(
                &state,
                &viewer,
                &portal,
                find_request(&portal, request_id)?,
                Some(refused.to_string()),
                Some(&values),
            )?;
            // The form again with the answers given and what to fix.
            Ok(Html(html).into_response())
        }
        Err(other) => Err(other),
    }
}

async fn contact_tab(State(state): State<AppState>, viewer: Viewer) -> Result<Response, ApiError> {
    portal_page(&state, &viewer, None, |portal| {
        let values = page_values(&state, &viewer, portal, "contact", state.pages.text("tab_contact"));
        state.pages.render("contact.html", values)
    })
    .await
}

async fn help(State(state): State<AppState>, viewer: Viewer) -> Result<Response, ApiError> {
    help_page(&state, &viewer, None).await
}

async fn help_article(
    State(state): State<AppState>,
    viewer: Viewer,
    PathParams(slug): PathParams<String>,
) -> Result<Response, ApiError> {
    if !state.pages.articles.iter().any(|a| a.slug == slug) {
        return Err(ApiError::NotFound(format!("there is no help article `{slug}`")));
    }
    help_page(&state, &viewer, Some(slug)).await
}

async fn help_page(state: &AppState, viewer: &Viewer, slug: Option<String>) -> Result<Response, ApiError> {
    let articles = &state.pages.articles;
    let article = match &slug {
        Some(slug) => articles.iter().find(|a| &a.slug == slug),
        None => articles.first(),
    };
    portal_page(state, viewer, None, |portal| {
        let title = article.map_or_else(|| state.pages.text("tab_help"), |a| a.title.clone());
        let values = page_values(state, viewer, portal, "help", title);
        state.pages.render(
            "help.html",
            context! { articles => serialized(articles), article => serialized(&article), ..values },
        )
    })
    .await
}

async fn video(State(state): State<AppState>, viewer: Viewer) -> Result<Response, ApiError> {
    portal_page(&state, &viewer, None, |portal| {
        let values = page_values(&state, &viewer, portal, "video", state.pages.text("tab_video"));
        let (embed, file) = match &state.pages.video {
            Video::None => (None, false),
            Video::Embed(url) => (Some(url.clone()), false),
            Video::File(_) => (None, true),
        };
        state.pages.render(
            "video.html",
            context! { video_embed => embed, video_file => file, ..values },
        )
    })
    .await
}

/// The firm's explainer video, with ranges so that a phone can seek and stream it.
async fn video_file(State(state): State<AppState>, _viewer: Viewer, headers: HeaderMap) -> Result<Response, ApiError> {
    let Video::File(path) = &state.pages.video else {
        return Err(ApiError::NotFound("this portal has no video file".into()));
    };
    let mut request = axum::http::Request::new(axum::body::Body::empty());
    *request.headers_mut() = headers;
    let response = tower::ServiceExt::oneshot(tower_http::services::ServeFile::new(path), request)
        .await
        .map_err(|e| ApiError::Internal(format!("the video file: {e}")))?;
    Ok(response.into_response())
}
