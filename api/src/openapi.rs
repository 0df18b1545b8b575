//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the handlers' annotations and
//! the types they take and return (utoipa), so that it cannot drift from the code. The router adds
//! each API route with its description (utoipa-axum's `routes!`), so what is served is what is
//! documented; a test checks that each documented route answers.

use lodge_projections::as_of::{Custody, InviteAsOf};
use lodge_projections::audit::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::routes::pages;

/// Every error: RFC 9457 problem details.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProblemDocument {
    /// Always `about:blank`: `code` says which problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do, for the person who made the request.
    pub detail: String,
    /// A stable name clients can branch on: `invalid`, `not_found`, `conflict`, …
    pub code: String,
}

/// The files of an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// Repeat the field for several files.
    #[schema(format = Binary, value_type = Vec<String>)]
    pub file: Vec<Vec<u8>>,
}

/// `GET /api/invites/{invite_id}/audit` in JSON (written entry by entry as it streams; read whole by
/// clients).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AuditTrail {
    pub entries: Vec<AuditEntry>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A staff token from `lodge token create`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operations_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operations token (LODGE_OPS_TOKEN), for metrics and readiness in full",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "portal_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "lodge_portal",
                "Set by POST /api/portal/session",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Lodge", description = "A self-hostable client portal for collecting documents: the staff API and the portal API."),
    // The API's paths come from the router (`routes::openapi`); of the pages, the portal link.
    paths(pages::follow_link),
    components(schemas(
        ProblemDocument, UploadForm, AuditTrail, InviteAsOf, Custody, crate::staff::records::AuditFormat,
        lodge_projections::portal::InviteStatus,
    )),
    modifiers(&Security),
    tags(
        (name = "staff", description = "What staff do with invites (Bearer token)"),
        (name = "portal", description = "What a contact does on their portal (session cookie)"),
        (name = "records", description = "The audit trail, history as of a moment, and documents"),
        (name = "team", description = "The firm's staff and their roles (Bearer token; owners change it)"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, description = "This document")))]
pub(crate) async fn openapi_json() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    axum::Json(crate::routes::openapi())
}
