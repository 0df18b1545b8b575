//! `lodge-bench notify`: how fast the notifier turns InviteSent events into emails on a loopback
//! SMTP server (with its connection pool, recording each outcome in the log), and how long an
//! email takes to arrive after its invite was sent under a steady load.

use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Days, Utc};
use lodge_domain::contact::{Channel, ContactDetails};
use lodge_domain::invite::{InviteCommand, InviteDecider, SendInvite};
use lodge_domain::links::{SecretKey, portal_link_token};
use lodge_domain::reminder::ReminderPlan;
use lodge_domain::request::{Assignment, RequestKind, RequestSpec};
use lodge_domain::{Actor, ContactId, InviteId, RequestId, Sender, StaffId};
use lodge_eventlog::command;
use lodge_eventlog::{EventLog, Metadata, StreamId};
use lodge_notifier::{DigestSettings, NotifierSettings, RetrySettings, Templates};
use lodge_projections::ReadStore;
use mailin_embedded::response::{self, Response};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{BenchDatabase, grouped};
use crate::cli::NotifyBenchArgs;

/// Invites sent one by one, at a steady rate, for the delay measurement.
const PROBES: usize = 200;
const PROBES_PER_SECOND: u64 = 50;

#[derive(Debug, Serialize)]
struct Figures {
    bench: &'static str,
    engine: String,
    emails: usize,
    emails_per_s: f64,
    delay_p50_ms: f64,
    delay_p99_ms: f64,
}

/// When each recipient's email arrived.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// The SMTP server the emails go to: it keeps only who each message was for, and when.
#[derive(Clone)]
struct Sink {
    arrivals: Arrivals,
    recipients: Vec<String>,
}

impl mailin_embedded::Handler for Sink {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.recipients = to.to_vec();
        response::OK
    }

    fn data_end(&mut self) -> Response {
        let now = Instant::now();
        let mut arrivals = self.arrivals.lock().expect("the arrivals lock");
        for recipient in self.recipients.drain(..) {
            arrivals.insert(recipient.trim_matches(['<', '>']).to_owned(), now);
        }
        response::OK
    }
}

fn start_sink() -> anyhow::Result<(u16, Arrivals)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let arrivals: Arrivals = Arc::default();
    let mut server = mailin_embedded::Server::new(Sink {
        arrivals: arrivals.clone(),
        recipients: Vec::new(),
    });
    server
        .with_name("sink.bench")
        .with_num_threads(32)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        if let Err(error) = server.serve() {
            eprintln!("the benchmark's SMTP server stopped: {error}");
        }
    });
    Ok((port, arrivals))
}

fn address(n: usize) -> String {
    format!("contact{n}@bench.example")
}

async fn send_invite(log: &EventLog, n: usize) -> anyhow::Result<()> {
    let invite_id = InviteId::from_uuid(Uuid::now_v7());
    let sender = Sender {
        id: StaffId::from_uuid(Uuid::from_u128(1)),
        name: "Bench Staff".into(),
        email: "staff@firm.example".into(),
        phone: None,
    };
    let metadata = Metadata::new(Actor::from(&sender.as_staff_member()));
    let secret = SecretKey([7; 32]);
    let (_, portal_link) = portal_link_token(&secret, metadata.command_id, 0);
    let today = Utc::now().date_naive();
    let command = InviteCommand::SendInvite(SendInvite {
        invite_id,
        title: format!("Tax return 2026 #{n}"),
        message: Some("Please send these by the due date.".into()),
        sender,
        channels: BTreeSet::from([Channel::Email]),
        contacts: vec![ContactDetails {
            id: ContactId::from_uuid(Uuid::now_v7()),
            name: format!("Contact {n}"),
            email: Some(address(n)),
            phone: None,
            portal_link,
        }],
        requests: vec![RequestSpec {
            id: RequestId::from_uuid(Uuid::now_v7()),
            title: "Payslips".into(),
            description: None,
            kind: RequestKind::File {
                allowed_types: vec![],
                max_files: 10,
            },
            assigned_to: Assignment::AllContacts,
        }],
        due_on: today.checked_add_days(Days::new(30)),
        portal_password: None,
        today,
    });
    command::execute::<InviteDecider>(log, &StreamId::invite(invite_id), &command, &metadata).await?;
    Ok(())
}

async fn wait_for(arrivals: &Arrivals, count: usize, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while arrivals.lock().expect("the arrivals lock").len() < count {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the emails did not all arrive within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn measure(db: &BenchDatabase, args: &NotifyBenchArgs) -> anyhow::Result<Figures> {
    let engine = match db.engine {
        lodge_eventlog::Engine::Sqlite => "sqlite",
        lodge_eventlog::Engine::Postgres => "postgres",
    };
    let log = EventLog::connect(&db.url).await?;
    log.migrate().await?;
    let store = ReadStore::connect(&db.url).await?;
    let (port, arrivals) = start_sink()?;
    let emails = args.emails as usize;
    eprintln!("{engine}: sending {} invites…", grouped(emails as f64));
    for n in 0..emails {
        send_invite(&log, n).await?;
    }
    let settings = NotifierSettings {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}").into()),
        mail_from: "Lodge <lodge@firm.example>".into(),
        public_url: "http://127.0.0.1:8080".into(),
        secret_key: SecretKey([7; 32]),
        firm_name: "Bench & Co".into(),
        twilio: None,
        retry: RetrySettings::default(),
        reminders: ReminderPlan::off(),
        reminder_check_every: Duration::from_secs(3600),
        time_zone: chrono_tz::UTC,
        digest: DigestSettings::default(),
        templates: std::sync::Arc::new(Templates::built_in()),
        clock: lodge_notifier::system_clock(),
    };
    eprintln!("{engine}: the notifier works through them…");
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let notifier = tokio::spawn(lodge_notifier::run(
        log.clone(),
        store.clone(),
        settings,
        shutdown.clone(),
    ));
    wait_for(&arrivals, emails, Duration::from_secs(600)).await?;
    let drained = started.elapsed();

    eprintln!("{engine}: {PROBES} more invites at {PROBES_PER_SECOND}/s, timing each email…");
    let mut sent_at = Vec::with_capacity(PROBES);
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / PROBES_PER_SECOND));
    for n in emails..emails + PROBES {
        tick.tick().await;
        sent_at.push((n, Instant::now()));
        send_invite(&log, n).await?;
    }
    wait_for(&arrivals, emails + PROBES, Duration::from_secs(60)).await?;
    shutdown.cancel();
    notifier.await.context("the notifier")??;
    let arrived = arrivals.lock().expect("the arrivals lock").clone();
    let mut delays: Vec<f64> = sent_at
        .iter()
        .filter_map(|(n, at)| {
            arrived
                .get(&address(*n))
                .map(|arrival| arrival.duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    log.close().await;
    Ok(Figures {
        bench: "notify",
        engine: engine.to_owned(),
        emails,
        emails_per_s: emails as f64 / drained.as_secs_f64(),
        delay_p50_ms: percentile(&delays, 0.50),
        delay_p99_ms: percentile(&delays, 0.99),
    })
}

pub async fn run(args: &NotifyBenchArgs) -> anyhow::Result<ExitCode> {
    let results = super::on_each_engine(args.only, |db| async move {
        let measured = measure(&db, args).await;
        (db, measured)
    })
    .await?;
    for figures in &results {
        if args.json {
            println!("{}", serde_json::to_string(figures)?);
        } else {
            println!("{} — notifier to a loopback SMTP server", figures.engine);
            println!(
                "  {} emails at {} emails/s (each recorded in the log)",
                grouped(figures.emails as f64),
                grouped(figures.emails_per_s)
            );
            println!(
                "  InviteSent to arrival under {PROBES_PER_SECOND} invites/s: p50 {:.1} ms, p99 {:.1} ms",
                figures.delay_p50_ms, figures.delay_p99_ms
            );
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}
