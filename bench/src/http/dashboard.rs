//! The staff console's dashboard under load: 10,000 invites sent through the API, a staff member
//! signed in through their one-time link, then `GET /staff/` with their session cookie under wrk.

use anyhow::Context;
use futures_util::StreamExt;
use lodge_domain::team::{AddMember, Authority, Role, TeamCommand, TeamDecider};
use lodge_domain::{Actor, StaffId};
use lodge_eventlog::{EventLog, Metadata, StreamId, command};
use lodge_projections::ReadStore;
use serde_json::json;

/// Invites on the dashboard's database.
pub const INVITES: usize = 10_000;
/// Invites sent at once while filling it.
const SENDING_AT_ONCE: usize = 16;

/// Sends [`INVITES`] invites, a few at a time, and waits until the staff list shows the last.
pub async fn fill(base: &str, token: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(21)).to_string();
    let mut sent = futures_util::stream::iter(0..INVITES)
        .map(|n| {
            let client = client.clone();
            let due = due.clone();
            async move {
                let response: serde_json::Value = client
                    .post(format!("{base}/api/invites"))
                    .bearer_auth(token)
                    .json(&json!({
                        "title": format!("Tax return 2026 for client {n}"),
                        "due_date": due,
                        "channels": ["email"],
                        "contacts": [{"name": format!("Client {n}"), "email": format!("client{n}@example.com")}],
                        "requests": [{"kind": "file", "title": "Payslips"}, {"kind": "file", "title": "Bank statements"}]
                    }))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                anyhow::Ok(response["position"].as_i64().unwrap_or_default())
            }
        })
        .buffer_unordered(SENDING_AT_ONCE);
    let mut last = 0;
    while let Some(position) = sent.next().await {
        last = last.max(position?);
    }
    // The read model has them all once a read after the last append answers.
    client
        .get(format!("{base}/api/invites?limit=1&after={last}"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()
        .context("the staff list reaching the last invite")?;
    Ok(())
}

/// A staff member added to the team, signed in through their one-time link: their session cookie.
pub async fn staff_session(url: &str, base: &str, folder: &std::path::Path) -> anyhow::Result<String> {
    let log = EventLog::connect(url).await?;
    let staff_id = StaffId::from_uuid(uuid::Uuid::now_v7());
    let add = TeamCommand::AddMember(AddMember {
        by: Authority::Operator,
        staff_id,
        email: "owner@firm.example".into(),
        name: "Bench Owner".into(),
        role: Role::Owner,
    });
    command::execute::<TeamDecider>(&log, &StreamId::team(), &add, &Metadata::new(Actor::System)).await?;
    log.close().await;
    let store = ReadStore::connect(url).await?;
    let mut settings = lodge_api::Settings::local(folder.to_owned());
    settings.public_url = base.to_owned();
    let link = lodge_api::console::links::create(store.store(), &settings, staff_id).await?;
    let password = "a benchmark's long password";
    let chosen = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(link)
        .form(&[("password", password), ("again", password)])
        .send()
        .await?;
    chosen
        .cookies()
        .find(|c| c.name() == "lodge_staff")
        .map(|c| c.value().to_owned())
        .context("a console session from the sign-in link")
}
