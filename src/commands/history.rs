//! `lodge history`: an invite, or a document's chain of custody, as it stood at a moment, from the
//! log alone, with the check of the invite's hash chain.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use lodge_domain::Actor;
use lodge_projections::as_of::{self, ChainCheck, Custodial, Custody, InviteAsOf};
use lodge_projections::portal::RequestStatus;

use crate::cli::HistoryArgs;
use crate::config::Config;

fn moment(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string()
}

fn who(actor: &Actor) -> String {
    match actor {
        Actor::Staff { name, .. } => format!("{name} (staff)"),
        Actor::Contact { name, .. } => format!("{name} (contact)"),
        Actor::System => "Lodge".to_owned(),
    }
}

fn status(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Open => "open",
        RequestStatus::WaitingForReview => "waiting for review",
        RequestStatus::Accepted => "accepted",
        RequestStatus::Rejected => "rejected",
        RequestStatus::FormSubmitted => "form submitted",
    }
}

fn print_chain(chain: &ChainCheck) {
    match &chain.broken {
        None => println!("Hash chain: intact ({} events checked).", chain.events),
        Some(broken) => println!("Hash chain: BROKEN at {broken}"),
    }
}

fn print_invite(report: &InviteAsOf) {
    let invite = &report.invite;
    println!(
        "Invite \"{}\" ({}) as of {}",
        invite.title,
        invite.id,
        moment(report.as_of)
    );
    println!(
        "  {} events, the last at {}; sent by {} at {}",
        report.events,
        moment(report.last_event_at),
        invite.sender.name,
        moment(invite.sent_at)
    );
    let due = invite.due_on.map_or("no due date".to_owned(), |d| format!("due {d}"));
    let status = serde_json::to_value(invite.status).unwrap_or_default();
    println!(
        "  {}, {due}; {} of {} requests done",
        status.as_str().unwrap_or("?"),
        invite.progress.done,
        invite.progress.total
    );
    for contact in &invite.contacts {
        let reach = contact.email.as_deref().or(contact.phone.as_deref()).unwrap_or("");
        println!(
            "  {} <{reach}>: {} of {} done",
            contact.name, contact.progress.done, contact.progress.total
        );
        for request in &contact.requests {
            let reason = request.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            println!("    {:<32} {}{reason}", request.title, self::status(request.status));
            for document in &request.documents {
                let document_status = serde_json::to_value(document.status).unwrap_or_default();
                println!(
                    "      {}  {} bytes  sha256 {}  {}",
                    document.file_name,
                    document.size,
                    document.sha256,
                    document_status.as_str().unwrap_or("?")
                );
            }
        }
    }
    print_chain(&report.chain);
}

fn print_custody(report: &Custody) {
    println!(
        "Document {} of invite {}, as of {}",
        report.document_id,
        report.invite_id,
        moment(report.as_of)
    );
    for step in &report.steps {
        let what = match step.step {
            Custodial::Uploaded => "uploaded".to_owned(),
            Custodial::Accepted => "accepted".to_owned(),
            Custodial::Rejected => "rejected".to_owned(),
            Custodial::ReplacedBy => format!("replaced by document {}", step.document_id),
        };
        println!("  {}  {what} by {}", moment(step.at), who(&step.actor));
        if let Some(sha256) = &step.sha256 {
            println!("      sha256 {sha256}");
        }
        if let Some(detail) = &step.detail {
            println!("      {detail}");
        }
        if let Some(ip) = &step.ip {
            println!(
                "      from {ip}{}",
                step.user_agent
                    .as_deref()
                    .map(|ua| format!(" ({ua})"))
                    .unwrap_or_default()
            );
        }
        println!("      event hash {}", step.event_hash);
    }
    print_chain(&report.chain);
}

pub async fn run(config: &Config, args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    let invite = args.invite.into();
    let intact = match args.document {
        None => {
            let report = as_of::invite(&log, invite, args.as_of).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_invite(&report);
            }
            report.chain.intact
        }
        Some(document) => {
            let report = as_of::custody(&log, invite, document.into(), args.as_of).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_custody(&report);
            }
            report.chain.intact
        }
    };
    Ok(if intact { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
