//! The real server on a random port with a fresh database, for end-to-end tests of the API.

pub mod browser;
pub mod process;

use std::time::Duration;

pub use lodge_api::openapi::AuditTrail;
pub use lodge_api::portal::uploads::Uploaded;
pub use lodge_api::portal::view::PortalResponse;
pub use lodge_api::staff::invites::{
    AddedContact, AddedRequest, InviteList, PostedMessage, Recorded, ReissuedLink, SentInvite,
};
use lodge_api::staff::tokens;
pub use lodge_api::staff::view_links::ViewLink;
use lodge_api::{RunningServer, Server, Settings};
pub use lodge_domain::Actor;
use lodge_domain::ContactId;
use lodge_eventlog::EventLog;
use lodge_eventlog::testing::TestDatabase;
use lodge_projections::ReadStore;
pub use lodge_projections::as_of::{Custody, InviteAsOf};
pub use lodge_projections::portal::{DocumentStatus, InviteStatus, MessageFrom, RequestKind, RequestStatus, Totals};
pub use lodge_projections::staff::{Progress, StaffInviteView};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub db: TestDatabase,
    pub log: EventLog,
    pub store: ReadStore,
    pub base: String,
    /// A staff member's token: Sam Staff, sam@firm.example.
    pub staff_token: String,
    pub blobs: tempfile::TempDir,
    /// The server's secret, from which portal links are derived.
    pub secret_key: lodge_api::SecretKey,
    /// The settings the server started with.
    pub settings: Settings,
    /// The operations token: `/metrics` and `/readyz` in full.
    pub ops_token: String,
    server: Option<RunningServer>,
}

impl TestApp {
    pub async fn start(db: TestDatabase) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// Starts the app with settings adjusted by `configure`.
    pub async fn start_with(db: TestDatabase, configure: impl FnOnce(&mut Settings)) -> Self {
        if let Ok(filter) = std::env::var("LODGE_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let log = db.log().await;
        let store = ReadStore::connect(db.url()).await.expect("read store");
        lodge_api::migrations::migrate(store.store())
            .await
            .expect("the API's tables");
        let blobs = tempfile::tempdir().expect("a blob folder");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().unwrap();
        let mut settings = Settings::local(blobs.path().to_owned());
        settings.public_url = format!("http://{address}");
        let ops_token = format!("ops-{}", uuid::Uuid::new_v4().simple());
        settings.operations.token_hash = Some(lodge_api::secrets::hash_token(&ops_token));
        configure(&mut settings);
        let secret_key = settings.secret_key.clone();
        let started_with = settings.clone();
        let staff_token = tokens::create(store.store(), "Sam Staff", Some("sam@firm.example"))
            .await
            .expect("a staff token")
            .token;
        let server = Server {
            log: log.clone(),
            store: store.clone(),
            settings,
            run_projectors: true,
            operations: None,
        }
        .start(listener, CancellationToken::new())
        .await
        .expect("the server starts");
        Self {
            db,
            log,
            store,
            base: format!("http://{address}"),
            staff_token,
            blobs,
            secret_key,
            settings: started_with,
            ops_token,
            server: Some(server),
        }
    }

    /// Another server on the same database and blobs, with the same settings, as a second process
    /// of Lodge would be: its address, and the server to stop.
    pub async fn another_server(&self) -> (String, RunningServer) {
        let log = self.db.log().await;
        let store = ReadStore::connect(self.db.url()).await.expect("read store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().unwrap();
        let server = Server {
            log,
            store,
            settings: self.settings.clone(),
            run_projectors: true,
            operations: None,
        }
        .start(listener, CancellationToken::new())
        .await
        .expect("the second server starts");
        (format!("http://{address}"), server)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> Client {
        Client::builder().build().unwrap()
    }

    /// A staff member's client: every request carries the staff token.
    pub fn staff(&self) -> StaffClient<'_> {
        self.staff_with(&self.staff_token)
    }

    /// A staff client with another token than the app's own.
    pub fn staff_with(&self, token: &str) -> StaffClient<'_> {
        StaffClient {
            app: self,
            token: token.to_owned(),
        }
    }

    /// Opens a contact's portal with the link from a sent invite, as their browser would.
    pub async fn contact(&self, portal_url: &str) -> ContactClient<'_> {
        let client = Client::builder().cookie_store(true).build().unwrap();
        let token = portal_url.rsplit("/p/").next().unwrap().to_owned();
        let response = client
            .post(self.url("/api/portal/session"))
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "opening the portal: {body}");
        ContactClient {
            app: self,
            client,
            password_required: body["password_required"].as_bool().unwrap(),
        }
    }

    /// Every event in the log, to check that refused requests appended nothing.
    pub async fn event_count(&self) -> u64 {
        // Counted from the streams' versions: read_all stops at the settled horizon, which may
        // trail an append that has just returned.
        self.log.summary().await.unwrap().events
    }

    /// Asks the server to stop, as SIGTERM does, and returns what waits for it to finish.
    pub fn begin_shutdown(&mut self) -> tokio::task::JoinHandle<()> {
        let server = self.server.take().expect("the server is running");
        server.shutdown.cancel();
        tokio::spawn(async move { server.wait().await.expect("the server stops cleanly") })
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server.stop())
                .await
                .expect("the server stops within 10 s")
                .expect("the server stops cleanly");
        }
    }
}

pub struct StaffClient<'a> {
    app: &'a TestApp,
    token: String,
}

impl StaffClient<'_> {
    pub async fn get(&self, path: &str) -> Response {
        self.app
            .anonymous()
            .get(self.app.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.app
            .anonymous()
            .post(self.app.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.app
            .anonymous()
            .patch(self.app.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A staff view link to a contact's portal.
    pub async fn view_link(&self, invite: &str, contact: &str) -> ViewLink {
        let path = format!("/api/invites/{invite}/portal/{contact}/view-link");
        serde_json::from_value(expect(self.post(&path, &json!({})).await, StatusCode::CREATED).await)
            .expect("a ViewLink")
    }

    /// Sends an invite and returns the 201 body, read as the API's own type.
    pub async fn send_invite(&self, body: &Value) -> SentInvite {
        let response = self.post("/api/invites", body).await;
        serde_json::from_value(expect(response, StatusCode::CREATED).await).expect("a SentInvite")
    }

    /// Writes to a contact of an invite.
    pub async fn write_to(&self, invite: &str, contact: ContactId, body: &str) -> PostedMessage {
        let message = serde_json::json!({"contact_id": contact, "body": body});
        let response = self.post(&format!("/api/invites/{invite}/messages"), &message).await;
        serde_json::from_value(expect(response, StatusCode::CREATED).await).expect("a PostedMessage")
    }

    /// An invite's audit trail once it shows the log up to `after`.
    pub async fn audit(&self, invite: &str, after: impl std::fmt::Display) -> AuditTrail {
        let response = self.get(&format!("/api/invites/{invite}/audit?after={after}")).await;
        expect_as(response, StatusCode::OK).await
    }
}

pub struct ContactClient<'a> {
    app: &'a TestApp,
    pub client: Client,
    pub password_required: bool,
}

impl ContactClient<'_> {
    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.app.url(path)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.app.url(path)).json(body).send().await.unwrap()
    }

    /// The portal, once it shows what happened up to `position`, read as the API's own type.
    pub async fn portal(&self, position: Option<i64>) -> PortalResponse {
        let response = self.get(&format!("/api/portal?after={}", position.unwrap_or(0))).await;
        expect_as(response, StatusCode::OK).await
    }
}

/// Checks the status and returns the JSON body (or Null for an empty body).
pub async fn expect(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    if text.is_empty() {
        return Value::Null;
    }
    if !actual.is_success() {
        assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{text}");
    }
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body: {text}"))
}

/// Checks the status and reads the JSON body into the API's own type: a renamed or retyped field
/// fails here, by name, rather than as a null at a JSON path.
pub async fn expect_as<T: serde::de::DeserializeOwned>(response: Response, status: StatusCode) -> T {
    let body = expect(response, status).await;
    serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("a {}: {e}: {body}", std::any::type_name::<T>()))
}

/// The token at the end of a portal link.
pub fn link_token(portal_url: &str) -> &str {
    portal_url.rsplit("/p/").next().unwrap()
}

/// Asks the server at `base` for a portal session with a link's `token`, as `client`.
pub async fn open_session(client: &Client, base: &str, token: &str) -> Response {
    client
        .post(format!("{base}/api/portal/session"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
}

/// The JSON at `url`, as `client` gets it.
pub async fn json_at(client: &Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// The text of the page at `url`, as `client` (a browser, with its cookies) gets it.
pub async fn page_text(client: &Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// Checks that a response is an HTML page of `status` and returns its text.
pub async fn expect_page(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    response.text().await.unwrap()
}

/// Checks that a response is a problem of `status` whose detail mentions `detail`.
pub async fn expect_problem(response: Response, status: StatusCode, detail: &str) -> Value {
    let body = expect(response, status).await;
    assert_eq!(body["status"], status.as_u16(), "{body}");
    let text = body["detail"].as_str().expect("a detail");
    assert!(
        text.to_lowercase().contains(&detail.to_lowercase()),
        "expected the detail to mention {detail:?}: {text}"
    );
    body
}

/// An invite for two contacts: a file request for both, a form for Ana, due in 10 days.
pub fn two_contact_invite() -> Value {
    let ana = uuid::Uuid::now_v7();
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(10)).to_string();
    json!({
        "title": "Tax return 2026",
        "message": "Please send these by the due date.",
        "due_date": due,
        "channels": ["email"],
        "contacts": [
            {"id": ana, "name": "Ana Alves", "email": "ana@example.com"},
            {"name": "Ben Alves", "email": "ben@example.com", "phone": "+61400000002"}
        ],
        "requests": [
            {"kind": "file", "title": "Payslips", "description": "July to June", "allowed_types": ["application/pdf", "image/*"], "max_files": 3},
            {"kind": "form", "title": "Your details", "contact_ids": [ana], "fields": [
                {"name": "tfn", "label": "Tax file number", "type": "text", "required": true},
                {"name": "health", "label": "Private health cover", "type": "yes_no", "required": false}
            ]}
        ]
    })
}

/// `/readyz` once every projector has reached `position`.
pub async fn eventually_ready(app: &TestApp, position: i64) -> Value {
    eventually_ready_within(app, position, Duration::from_secs(10)).await
}

/// [`eventually_ready`], waiting up to `within`.
pub async fn eventually_ready_within(app: &TestApp, position: i64, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let response = app
            .anonymous()
            .get(app.url("/readyz"))
            .bearer_auth(&app.ops_token)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        let caught_up = body["projectors"]
            .as_array()
            .is_some_and(|ps| ps.iter().all(|p| p["position"].as_i64() >= Some(position)));
        if caught_up {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the projectors did not catch up: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A small but real PDF's first bytes, enough for its type to be recognised.
pub fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.7\n% {text}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n").into_bytes()
}

/// A PNG signature and header, enough for its type to be recognised.
pub fn png() -> Vec<u8> {
    let mut bytes = vec![
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    bytes.extend_from_slice(&[0u8; 64]);
    bytes
}

impl ContactClient<'_> {
    /// Uploads `files` (name, bytes) to a request in one multipart request.
    pub async fn upload(&self, request_id: &Value, files: &[(&str, Vec<u8>)]) -> Response {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in files {
            // The browser's claimed type is deliberately wrong: Lodge must look at the content.
            let part = reqwest::multipart::Part::bytes(bytes.clone())
                .file_name(name.to_string())
                .mime_str("text/html")
                .unwrap();
            form = form.part("file", part);
        }
        self.client
            .post(self.app.url(&format!(
                "/api/portal/requests/{}/documents",
                request_id.as_str().unwrap()
            )))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

impl TestApp {
    /// Files in the blob store, by path relative to it (staging files included).
    pub fn blob_files(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, root: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, found);
                } else {
                    found.push(path.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let mut found = Vec::new();
        walk(self.blobs.path(), self.blobs.path(), &mut found);
        found.sort();
        found
    }
}

/// How long a test waits for what happens in the background (a read model catching up, a cache
/// taking up a change) before it fails. Generous, for a busy CI machine running PostgreSQL tests
/// side by side; a test waits this long only when what it waits for never comes.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Waits until `check` holds, for a change made around the server (the operator's command line,
/// another server), which a server's memory of the team and sessions takes up within two seconds
/// (`console::cache`); fails saying `what` if it never does.
pub async fn within_moments<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
