//! The `lodge` command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "lodge",
    version,
    about = "Lodge: a self-hostable client portal for collecting documents, built on an event log",
    after_help = "Configuration comes from ./lodge.toml (or --config) and LODGE_* variables; see README.md."
)]
pub struct Cli {
    /// A TOML configuration file [default: ./lodge.toml when it exists]
    #[arg(long, env = "LODGE_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the staff API and the portals, with the projectors, until Ctrl-C or SIGTERM (what a bare
    /// `lodge` does)
    Serve,
    /// Create, list or revoke the staff API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// The firm's team: add staff with a role, list them, change a role, deactivate or reactivate
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Show where the log is, what it holds, and what to try next
    Status,
    /// Create or update the database schema (also done by every other command)
    Migrate,
    /// Check every stream's tamper-evident hash chain; exits with 1 at the first broken link
    Verify,
    /// Print events as JSON lines, one per line, from the whole log or from one stream
    Log(LogArgs),
    /// Send a sample invite through Lodge's rules, to see the log at work
    Demo,
    /// Run the projectors that build the read models from the log, until Ctrl-C
    Project,
    /// Run the notifier alone (portal links by email), until Ctrl-C
    Notify,
    /// Print the audit trail (as far as `lodge project` has built it), streamed
    Audit(AuditArgs),
    /// Rebuild read models from the whole log into fresh tables while the live ones keep serving, then
    /// switch over; Ctrl-C interrupts, and running it again resumes
    Rebuild(RebuildArgs),
    /// Show an invite, or one document's chain of custody, as it stood at a moment, from the log alone,
    /// with the check of its hash chain; exits with 1 if the chain is broken
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only this stream, e.g. invite-0193…, in version order
    #[arg(long, value_name = "STREAM")]
    pub stream: Option<String>,
    /// Start after this global position (0: from the beginning)
    #[arg(long, default_value_t = 0, value_name = "POSITION", conflicts_with = "stream")]
    pub after: i64,
    /// Print at most this many events
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Keep printing new events as they are appended (Ctrl-C to stop)
    #[arg(long, conflicts_with = "stream")]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this invite's entries
    #[arg(long, value_name = "ID")]
    pub invite: Option<uuid::Uuid>,
    /// Only this contact's entries
    #[arg(long, value_name = "ID")]
    pub contact: Option<uuid::Uuid>,
    /// Only this document's entries
    #[arg(long, value_name = "ID")]
    pub document: Option<uuid::Uuid>,
    #[arg(long, value_enum, default_value_t = AuditFormat::Jsonl)]
    pub format: AuditFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// One JSON object per line
    Jsonl,
    /// Comma-separated values with a header row
    Csv,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The projections to rebuild (portal, staff, audit)
    #[arg(value_name = "NAME", required_unless_present = "all", conflicts_with = "all")]
    pub names: Vec<String>,
    /// Rebuild every projection
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[arg(long, value_name = "ID")]
    pub invite: uuid::Uuid,
    /// Show this document's chain of custody instead of the whole invite
    #[arg(long, value_name = "ID")]
    pub document: Option<uuid::Uuid>,
    /// The moment: 2026-11-28T10:15:00Z, "2026-11-28 10:15" (UTC), or 2026-11-28 (the end of that
    /// day, UTC) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_moment)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// A moment given on the command line, in UTC unless it says otherwise.
fn parse_moment(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Utc.from_utc_datetime(&at));
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let end = day.and_hms_micro_opt(23, 59, 59, 999_999).expect("a valid time of day");
        return Ok(Utc.from_utc_datetime(&end));
    }
    Err(format!(
        "`{text}` is not a moment; use 2026-11-28T10:15:00Z, \"2026-11-28 10:15\" (UTC) or 2026-11-28"
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_moment;

    #[test]
    fn moments() {
        assert_eq!(
            parse_moment("2026-11-28T10:15:00+01:00").unwrap().to_rfc3339(),
            "2026-11-28T09:15:00+00:00"
        );
        assert_eq!(
            parse_moment("2026-11-28 10:15").unwrap().to_rfc3339(),
            "2026-11-28T10:15:00+00:00"
        );
        assert_eq!(
            parse_moment("2026-11-28").unwrap().to_rfc3339(),
            "2026-11-28T23:59:59.999999+00:00"
        );
        assert!(parse_moment("yesterday").unwrap_err().contains("is not a moment"));
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a staff member and print it (once: Lodge keeps only its hash)
    Create(TokenCreateArgs),
    /// List tokens (never the tokens themselves)
    List,
    /// Revoke a token by its id: requests with it are refused at once
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The team member (by email) the token acts as, with the role they have at each request
    #[arg(long, value_name = "EMAIL", conflicts_with_all = ["name", "email"])]
    pub staff: Option<String>,
    /// Without --staff: the name requests act under, as contacts and the audit trail show it
    #[arg(long, required_unless_present = "staff")]
    pub name: Option<String>,
    /// Without --staff: the email address shown to contacts as the sender's
    #[arg(long)]
    pub email: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id, as `lodge token list` shows it
    pub id: uuid::Uuid,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a member to the firm's team (the first must be an owner); prints their one-time sign-in
    /// link alone on the last line
    Add(StaffAddArgs),
    /// A new one-time sign-in link for a member, to choose a new password (the earlier link no
    /// longer opens); printed alone on the last line
    Link(StaffMemberArgs),
    /// List the team: each member's id, name, email, role and whether they are active
    List,
    /// Give a member another role
    Role(StaffRoleArgs),
    /// Stop a member from signing in or using their tokens (the firm keeps an active owner)
    Deactivate(StaffMemberArgs),
    /// Let a deactivated member back in, with the role they had
    Reactivate(StaffMemberArgs),
}

#[derive(Debug, Args)]
pub struct StaffAddArgs {
    /// Their email address: it names them in the team, and they sign in with it
    #[arg(long)]
    pub email: String,
    /// Their name, as contacts and the audit trail show it
    #[arg(long)]
    pub name: String,
    /// owner (everything, and the team and the firm's settings), staff (invites, review, messages)
    /// or viewer (reads everything, changes nothing)
    #[arg(long)]
    pub role: lodge_domain::team::Role,
}

#[derive(Debug, Args)]
pub struct StaffRoleArgs {
    /// The member's email address
    #[arg(long)]
    pub email: String,
    /// owner, staff or viewer
    #[arg(long)]
    pub role: lodge_domain::team::Role,
}

#[derive(Debug, Args)]
pub struct StaffMemberArgs {
    /// The member's email address
    #[arg(long)]
    pub email: String,
}
