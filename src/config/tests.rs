//! The configuration's sources, precedence, secrets and errors.

use super::*;

#[test]
fn keys_are_the_fields() {
    assert_eq!(
        Config::keys(),
        vec![
            "blob_url",
            "database_max_connections",
            "database_url",
            "firm_address",
            "firm_colour",
            "firm_email",
            "firm_logo_url",
            "firm_name",
            "firm_phone",
            "firm_time_zone",
            "help_dir",
            "listen",
            "mail_from",
            "max_connections",
            "max_file_mib",
            "ops_listen",
            "ops_token",
            "poll_interval_ms",
            "portal_video",
            "public_url",
            "rate_limits",
            "reminder_days_before",
            "reminder_overdue_every_days",
            "reminders_at_most",
            "secret_key",
            "secret_key_file",
            "session_hours",
            "smtp_url",
            "staff_idle_minutes",
            "staff_session_hours",
            "templates_dir",
            "twilio_account_sid",
            "twilio_auth_token",
            "twilio_base_url",
            "twilio_from",
            "twilio_messaging_service_sid"
        ]
    );
}

/// Every setting from its variable, each text one given text that looks like something else:
/// a phone number, a year, a key of digits, a boolean.
#[test]
fn every_variable_is_read_as_the_text_it_is() {
    let text = [
        ("blob_url", "2026"),
        ("database_url", "12345"),
        ("firm_address", "10"),
        ("firm_colour", "123456"),
        ("firm_email", "1@2.3"),
        ("firm_logo_url", "1.5"),
        ("firm_name", "1984"),
        ("firm_phone", "+61299998888"),
        ("firm_time_zone", "0"),
        ("help_dir", "true"),
        ("listen", "8080"),
        ("mail_from", "false"),
        ("ops_listen", "9090"),
        ("ops_token", "1234567890123456"),
        ("portal_video", "-1"),
        ("public_url", "1e3"),
        ("reminder_days_before", "3"),
        (
            "secret_key",
            "0123456789012345678901234567890123456789012345678901234567890123",
        ),
        ("secret_key_file", "007"),
        ("smtp_url", "25"),
        ("templates_dir", "yes"),
        ("twilio_account_sid", "0001"),
        ("twilio_auth_token", "00000000000000000000000000000000"),
        ("twilio_base_url", "on"),
        ("twilio_from", "+15550001111"),
        ("twilio_messaging_service_sid", "nan"),
    ];
    let flags = [("rate_limits", false)];
    let numbers = [
        ("database_max_connections", 32),
        ("max_connections", 64),
        ("max_file_mib", 5),
        ("poll_interval_ms", 250),
        ("reminder_overdue_every_days", 0),
        ("reminders_at_most", 4),
        ("session_hours", 1),
        ("staff_idle_minutes", 15),
        ("staff_session_hours", 9),
    ];
    let variables = text
        .iter()
        .map(|(key, value)| (key, value.to_string()))
        .chain(numbers.iter().map(|(key, value)| (key, value.to_string())))
        .chain(flags.iter().map(|(key, value)| (key, value.to_string())))
        .map(|(key, value)| (format!("LODGE_{}", key.to_ascii_uppercase()), value))
        .chain([("LODGE_TEST_POSTGRES_URL".to_owned(), "not a setting".to_owned())]);
    let config = Config::load_with(None, Variables::from_pairs(variables)).unwrap();
    let read = serde_json::to_value(&config).unwrap();
    let secret = |key: &str| match key {
        "database_url" => Some(&config.database_url),
        "ops_token" => config.ops_token.as_ref(),
        "secret_key" => config.secret_key.as_ref(),
        "smtp_url" => config.smtp_url.as_ref(),
        "twilio_auth_token" => config.twilio_auth_token.as_ref(),
        _ => None,
    };
    for (key, value) in text {
        match secret(key) {
            Some(secret) => {
                assert_eq!(secret.expose_secret(), value, "{key}");
                assert_eq!(read[key], REDACTED, "{key} is shown redacted");
            }
            None => assert_eq!(read[key], value, "{key}"),
        }
    }
    for (key, value) in numbers {
        assert_eq!(read[key], value, "{key}");
    }
    for (key, value) in flags {
        assert_eq!(read[key], value, "{key}");
    }
    assert_eq!(
        text.len() + numbers.len() + flags.len(),
        Config::keys().len(),
        "every setting is covered"
    );
    let wrong = Variables::from_pairs([("LODGE_SESSION_HOURS".to_owned(), "eight".to_owned())]);
    let error = Config::load_with(None, wrong).unwrap_err().to_string();
    assert!(error.contains("LODGE_SESSION_HOURS"), "{error}");
}

#[test]
fn secrets_never_print() {
    let secrets = [
        "postgres://lodge:db-password-1@db/lodge",
        "ops-token-0123456789",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "smtp://mail:smtp-password-2@mail.example",
        "twilio-token-3",
    ];
    let config = Config {
        database_url: secrets[0].into(),
        ops_token: Some(secrets[1].into()),
        secret_key: Some(secrets[2].into()),
        smtp_url: Some(secrets[3].into()),
        twilio_auth_token: Some(secrets[4].into()),
        ..Config::default()
    };
    let shown = [
        format!("{config:?}"),
        format!("{config:#?}"),
        serde_json::to_string(&config).unwrap(),
    ];
    for (shown, secret) in shown
        .iter()
        .flat_map(|shown| secrets.iter().map(move |secret| (shown, secret)))
    {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    for password in ["db-password-1", "smtp-password-2"] {
        assert!(!shown.iter().any(|shown| shown.contains(password)), "{password}");
    }
}

#[test]
fn converting_settings_writes_no_key_file() {
    let folder = tempfile::tempdir().unwrap();
    let config = Config {
        secret_key_file: folder.path().join("secret.key").display().to_string(),
        ..Config::default()
    };
    let settings = config.api_settings(lodge_api::SecretKey([1; 32])).unwrap();
    config.notifier_settings(&settings).unwrap();
    assert!(!folder.path().join("secret.key").exists());
    let made = config.secret_key().unwrap();
    assert_eq!(config.secret_key().unwrap().0, made.0, "made once, then read");
}

#[test]
fn the_firms_reminders_are_read_and_checked() {
    let config = Config {
        reminder_days_before: " 7, 2 ,2".into(),
        reminder_overdue_every_days: 0,
        reminders_at_most: 3,
        ..Config::default()
    };
    let plan = config.reminder_plan().unwrap();
    assert_eq!(plan.days_before, vec![7, 2]);
    assert_eq!((plan.overdue_every_days, plan.at_most), (0, 3));
    assert_eq!(Config::default().reminder_plan().unwrap(), Default::default());
    let words = Config {
        reminder_days_before: "three".into(),
        ..Config::default()
    };
    assert!(words.reminder_plan().unwrap_err().to_string().contains("such as 3,1,0"));
    let too_many = Config {
        reminders_at_most: 99,
        ..Config::default()
    };
    assert!(too_many.reminder_plan().is_err());
}
