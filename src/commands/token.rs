//! `lodge token`: staff API tokens. A token is printed once, alone on the last line of stdout, so
//! that scripts can take it with `tail -n 1`; Lodge keeps only its hash.

use std::process::ExitCode;

use lodge_api::staff::tokens;
use lodge_projections::ReadStore;
use secrecy::ExposeSecret;

use crate::cli::TokenCommand;
use crate::config::Config;

pub async fn run(config: &Config, command: TokenCommand) -> anyhow::Result<ExitCode> {
    // The log's migrations create the token table.
    let log = super::open_log(config).await?;
    let store = ReadStore::connect(config.database_url.expose_secret()).await?;
    match command {
        TokenCommand::Create(args) => {
            let created = match (&args.staff, &args.name) {
                (Some(email), _) => {
                    let (id, member) = super::staff::member(&log, email).await?;
                    if !member.active {
                        anyhow::bail!("{email} is deactivated: `lodge staff reactivate --email {email}` first");
                    }
                    tokens::create_for_member(store.store(), id, &member.name, &member.email, member.role).await?
                }
                (None, Some(name)) => tokens::create(store.store(), name, args.email.as_deref()).await?,
                (None, None) => unreachable!("clap requires --name without --staff"),
            };
            eprintln!(
                "Created token {} for {} (staff id {}, {}). It is shown once; keep it somewhere safe:",
                created.id, created.staff.name, created.staff.id, created.staff.role
            );
            println!("{}", created.token);
        }
        TokenCommand::List => {
            for token in tokens::list(store.store()).await? {
                let state = match &token.revoked_at {
                    Some(at) => format!("revoked {at}"),
                    None => "live".to_owned(),
                };
                println!(
                    "{}  {}  {}  created {}  {state}",
                    token.id,
                    token.name,
                    token.email.as_deref().unwrap_or("-"),
                    token.created_at
                );
            }
        }
        TokenCommand::Revoke(args) => {
            if !tokens::revoke(store.store(), args.id).await? {
                anyhow::bail!("there is no live token {}", args.id);
            }
            eprintln!("Revoked token {}.", args.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
