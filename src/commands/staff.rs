//! `lodge staff`: the firm's team, through the same command path as everything else (the `team`
//! stream, decided by the domain's `TeamDecider`). The operator at the command line may do anything
//! the team's rules allow; each change is an event on the record, by Lodge itself (the system).

use std::process::ExitCode;

use anyhow::Context;
use lodge_domain::team::{AddMember, Authority, ChangeRole, Member, MemberChange, TeamCommand, TeamDecider, TeamState};
use lodge_domain::{Actor, StaffId};
use lodge_eventlog::command::{self, CommandError};
use lodge_eventlog::{EventLog, Metadata, StreamId};
use uuid::Uuid;

use lodge_api::console::{links, sessions};
use lodge_projections::ReadStore;
use secrecy::ExposeSecret;

use crate::cli::StaffCommand;
use crate::config::Config;

pub async fn run(config: &Config, command: StaffCommand) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    // Sign-in links and sessions live beside the log, in the API's tables (migrated with the log).
    let store = ReadStore::connect(config.database_url.expose_secret()).await?;
    let settings = config.api_settings(lodge_api::settings::random_secret_key())?;
    let link = |staff_id| links::create(store.store(), &settings, staff_id);
    match command {
        StaffCommand::Add(args) => {
            let staff_id = StaffId::from_uuid(Uuid::now_v7());
            decide(
                &log,
                TeamCommand::AddMember(AddMember {
                    by: Authority::Operator,
                    staff_id,
                    email: args.email,
                    name: args.name,
                    role: args.role,
                }),
            )
            .await?;
            let team = team(&log).await?;
            let member = &team.members[&staff_id];
            let link = link(staff_id).await?;
            eprintln!(
                "Added {} <{}> to the team as {} (staff id {staff_id}). Their one-time sign-in link, to choose a password \
                 (it opens once, within {} days):",
                member.name,
                member.email,
                member.role,
                settings.console.link_lifetime.as_secs() / 86_400
            );
            println!("{link}");
        }
        StaffCommand::Link(args) => {
            let (staff_id, member) = member(&log, &args.email).await?;
            if !member.active {
                anyhow::bail!(
                    "{} is deactivated: `lodge staff reactivate --email {}` first",
                    args.email,
                    args.email
                );
            }
            let link = link(staff_id).await?;
            eprintln!(
                "A one-time sign-in link for {} <{}>, to choose a new password (it opens once, within {} days; any earlier link no longer opens):",
                member.name,
                member.email,
                settings.console.link_lifetime.as_secs() / 86_400
            );
            println!("{link}");
        }
        StaffCommand::List => {
            for (id, member) in team(&log).await?.members {
                let state = if member.active { "active" } else { "deactivated" };
                println!("{id}  {}  {}  {}  {state}", member.name, member.email, member.role);
            }
        }
        StaffCommand::Role(args) => {
            let (staff_id, _) = member(&log, &args.email).await?;
            decide(
                &log,
                TeamCommand::ChangeRole(ChangeRole {
                    by: Authority::Operator,
                    staff_id,
                    role: args.role,
                }),
            )
            .await?;
            eprintln!("{} is {}.", args.email, args.role);
        }
        StaffCommand::Deactivate(args) => {
            let change = MemberChange {
                by: Authority::Operator,
                staff_id: member(&log, &args.email).await?.0,
            };
            let staff_id = change.staff_id;
            decide(&log, TeamCommand::Deactivate(change)).await?;
            let ended = sessions::end_all(store.store(), staff_id).await?;
            eprintln!("{} is deactivated ({ended} console sessions ended).", args.email);
        }
        StaffCommand::Reactivate(args) => {
            let change = MemberChange {
                by: Authority::Operator,
                staff_id: member(&log, &args.email).await?.0,
            };
            decide(&log, TeamCommand::Reactivate(change)).await?;
            eprintln!("{} is active again.", args.email);
        }
    }
    log.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Decides `command` on the team's stream and records what it decides, as Lodge itself.
async fn decide(log: &EventLog, command: TeamCommand) -> anyhow::Result<()> {
    match command::execute::<TeamDecider>(log, &StreamId::team(), &command, &Metadata::new(Actor::System)).await {
        Ok(_) => Ok(()),
        // The team's own words: what to change, for the person at the command line.
        Err(CommandError::Rejected(refusal)) => anyhow::bail!("{refusal}"),
        Err(other) => Err(other).context("recording the change to the team"),
    }
}

/// The team as its stream leaves it (empty before the first member).
async fn team(log: &EventLog) -> anyhow::Result<TeamState> {
    Ok(lodge_api::staff::team::team(log).await?)
}

/// The member whose email is `email`, active or not, or an error saying how to find them.
pub(super) async fn member(log: &EventLog, email: &str) -> anyhow::Result<(StaffId, Member)> {
    let team = team(log).await?;
    let found = team.by_email(email.trim()).map(|(id, member)| (id, member.clone()));
    found.with_context(|| format!("the team has no member {email}: `lodge staff list` shows who it has"))
}
