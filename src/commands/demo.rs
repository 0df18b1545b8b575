//! `lodge demo`: sends a sample invite through the same command path the API will use, so that a
//! newcomer has something to look at with `lodge log` and `lodge verify`.

use std::collections::BTreeSet;
use std::process::ExitCode;

use chrono::{Days, Utc};
use lodge_domain::contact::{Channel, ContactDetails};
use lodge_domain::digest::TokenHash;
use lodge_domain::invite::{InviteCommand, InviteDecider, MessageFrom, PostMessage, SendInvite};
use lodge_domain::request::{Assignment, FieldType, FormField, RequestKind, RequestSpec};
use lodge_domain::{Actor, ContactId, InviteId, MessageId, RequestId, Sender, StaffId};
use lodge_eventlog::command::{self, CommandOutcome};
use lodge_eventlog::{Metadata, StreamId};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Config;

/// A fresh portal link token's hash. The demo has no portal to open yet, so the token is dropped.
fn new_portal_link() -> TokenHash {
    let mut token = [0u8; 32];
    rand::rng().fill_bytes(&mut token);
    TokenHash::parse(&hex::encode(Sha256::digest(token))).expect("a SHA-256 is a token hash")
}

fn sample_invite(invite_id: InviteId, sender: Sender, ana: ContactId) -> SendInvite {
    let today = Utc::now().date_naive();
    let file = |title: &str, description: &str, allowed: &[&str], max_files| RequestSpec {
        id: RequestId::from_uuid(Uuid::now_v7()),
        title: title.into(),
        description: Some(description.into()),
        kind: RequestKind::File {
            allowed_types: allowed.iter().map(|t| t.to_string()).collect(),
            max_files,
        },
        assigned_to: Assignment::AllContacts,
    };
    SendInvite {
        invite_id,
        title: "Tax return 2026".into(),
        message: Some("Hello! Please send us these by the due date. Photos from your phone are fine.".into()),
        sender,
        channels: BTreeSet::from([Channel::Email]),
        contacts: vec![
            ContactDetails {
                id: ana,
                name: "Ana Alves".into(),
                email: Some("ana@example.com".into()),
                phone: Some("+61 400 000 001".into()),
                portal_link: new_portal_link(),
            },
            ContactDetails {
                id: ContactId::from_uuid(Uuid::now_v7()),
                name: "Ben Alves".into(),
                email: Some("ben@example.com".into()),
                phone: None,
                portal_link: new_portal_link(),
            },
        ],
        requests: vec![
            file(
                "Payslips",
                "Every payslip from July to June.",
                &["application/pdf", "image/*"],
                12,
            ),
            file(
                "Bank interest statement",
                "From each of your banks.",
                &["application/pdf"],
                5,
            ),
            RequestSpec {
                id: RequestId::from_uuid(Uuid::now_v7()),
                title: "Your details".into(),
                description: None,
                kind: RequestKind::Form {
                    fields: vec![
                        FormField {
                            name: "tax_file_number".into(),
                            label: "Tax file number".into(),
                            field_type: FieldType::Text,
                            required: true,
                            choices: vec![],
                        },
                        FormField {
                            name: "private_health".into(),
                            label: "Private health insurance".into(),
                            field_type: FieldType::YesNo,
                            required: true,
                            choices: vec![],
                        },
                    ],
                },
                assigned_to: Assignment::AllContacts,
            },
        ],
        due_on: today.checked_add_days(Days::new(14)),
        portal_password: None,
        today,
    }
}

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let log = super::open_log(config).await?;
    let sender = Sender {
        id: StaffId::from_uuid(Uuid::now_v7()),
        name: "Sam Staff".into(),
        email: "sam@firm.example".into(),
        phone: Some("+61 2 9000 0000".into()),
    };
    let staff = sender.as_staff_member();
    let invite_id = InviteId::from_uuid(Uuid::now_v7());
    let ana = ContactId::from_uuid(Uuid::now_v7());
    let stream = StreamId::invite(invite_id);

    let send = InviteCommand::SendInvite(sample_invite(invite_id, sender, ana));
    let sent_by = Metadata::new(Actor::from(&staff));
    let sent: CommandOutcome<_> = command::execute::<InviteDecider>(&log, &stream, &send, &sent_by).await?;

    let welcome = InviteCommand::PostMessage(PostMessage {
        message_id: MessageId::from_uuid(Uuid::now_v7()),
        contact_id: ana,
        from: MessageFrom::Staff(staff.clone()),
        body: "Hi Ana, shout if anything is unclear.".into(),
    });
    let mut written_by = Metadata::new(Actor::from(&staff));
    written_by.correlation_id = sent_by.correlation_id;
    written_by.causation_id = Some(sent_by.command_id);
    let written = command::execute::<InviteDecider>(&log, &stream, &welcome, &written_by).await?;

    println!(
        "Sent the sample invite \"Tax return 2026\" to 2 contacts ({} events, stream {stream}, up to position {}).",
        sent.events.len() + written.events.len(),
        written.position.map_or(0, |p| p.0),
    );
    println!("Look at it:   lodge log --stream {stream}");
    println!("Check it:     lodge verify");
    Ok(ExitCode::SUCCESS)
}
