//! The leak test: secrets of every format planted in every position an event has (message,
//! `%`/`?`/str fields, fields named like secrets, span fields, `Span::record`, nested JSON,
//! multi-line values), through both tracing-subscriber formatters, captured for real. No
//! 6-character window of any secret may survive, every JSON line must parse, and every event
//! must stay one line.

#![cfg(feature = "tracing")]

mod support;

use stanchion_redact::{Redactor, subscriber};
use stanchion_test_support::CapturedLogs;
use support::leaked_windows;
use tracing::{field::Empty, info, info_span, warn};
use tracing_subscriber::layer::SubscriberExt as _;

/// Secrets that are caught by name only (spaces inside, no token shape).
const BY_NAME: &[&str] = &["correct horse battery staple", "hunter2hunter2"];

/// A secret registered at runtime; it has no recognizable shape at all.
const REGISTERED: &str = "opaque-Registered-Value-9931";

/// Emits every planted secret in every position; returns how many events were emitted.
fn emit(tokens: &[String]) -> usize {
    let mut events = 0;
    for secret in tokens {
        let secret = secret.as_str();
        let span = info_span!("op", upstream = %secret, detail = Empty, token = Empty);
        span.record("detail", secret);
        span.record("token", format!("tok {secret}").as_str());
        let _entered = span.enter();
        info!("calling upstream with {secret}");
        info!(value = %secret, "display field");
        info!(value = secret, "str field");
        info!(value = ?secret, "debug field");
        let nested = serde_json::json!({"outer": {"inner": secret, "list": [secret]}});
        info!(payload = %nested, "nested json");
        info!(payload = ?nested.to_string(), "nested json as debug string");
        info!(password = %secret, "by name");
        warn!(error = %format!("upstream failed: {secret}\nINFO forged line"), "multi-line");
        events += 8;
    }
    for secret in BY_NAME {
        let span = info_span!("login", password = %secret, api_key = Empty);
        span.record("api_key", *secret);
        let _entered = span.enter();
        info!(password = %secret, client_secret = *secret, "by name");
        info!(credentials = ?secret, "debug by name");
        events += 2;
    }
    // A `secrecy` value logged with `?` prints its fixed marker, never the value.
    let wrapped = secrecy::SecretString::from(REGISTERED);
    info!(secret = ?wrapped, "secrecy debug");
    info!("connect failed: {REGISTERED} rejected");
    info!(dsn = %format!("db://{REGISTERED}"), "runtime value in a field");
    events + 3
}

fn assert_no_leak(format: &str, output: &str) {
    let mut secrets: Vec<(String, String)> = support::tokens()
        .token
        .iter()
        .map(|token| (token.rule.clone(), token.secret()))
        .collect();
    for secret in BY_NAME {
        secrets.push(("by-name".to_owned(), (*secret).to_owned()));
    }
    secrets.push(("registered".to_owned(), REGISTERED.to_owned()));
    let leaks = leaked_windows(&secrets, &without_timestamps(output));
    assert!(
        leaks.is_empty(),
        "{format} output leaks fragments of {} secret(s):\n{leaks:?}\n--- output ---\n{output}",
        leaks.len(),
    );
}

/// `output` without the formatters' own timestamps: they are not text the redactor is given,
/// and their digits can match a 6-character window of a secret by chance (a run once failed on
/// `…02.890123Z` against a token ending in `890123`).
fn without_timestamps(output: &str) -> String {
    output
        .lines()
        .map(|line| {
            // JSON: `{"timestamp":"…",…`; text: the line starts with the timestamp.
            if let Some(rest) = line.strip_prefix("{\"timestamp\":\"") {
                return rest
                    .split_once("\",")
                    .map_or_else(|| line.to_owned(), |(_, after)| format!("{{{after}"));
            }
            match line.split_once(' ') {
                Some((first, after)) if is_timestamp(first) => after.to_owned(),
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `2026-12-01T17:33:02.609541Z` and the like (ANSI colours off in these tests).
fn is_timestamp(word: &str) -> bool {
    word.len() >= 20
        && word.ends_with('Z')
        && word.as_bytes().get(10) == Some(&b'T')
        && word[..4].bytes().all(|b| b.is_ascii_digit())
}

fn redactor() -> Redactor {
    let redactor = Redactor::new();
    redactor.register_secret("DB_SECRET", REGISTERED);
    redactor
}

fn token_values() -> Vec<String> {
    support::tokens().token.iter().map(|t| t.full()).collect()
}

#[test]
fn json_output_leaks_no_fragment_and_stays_json() {
    let logs = CapturedLogs::new();
    let subscriber =
        tracing_subscriber::registry().with(subscriber::json_layer(redactor(), logs.clone()));
    let events = tracing::subscriber::with_default(subscriber, || emit(&token_values()));
    let output = logs.contents();
    assert_no_leak("json", &output);
    let lines = logs.json_lines();
    assert_eq!(lines.len(), events, "one JSON line per event");
    // The structure survives: members redacted by name keep their key.
    assert!(
        lines
            .iter()
            .any(|line| line["fields"]["password"] == "[REDACTED:secret-field]")
    );
    assert!(lines.iter().any(|line| {
        line["span"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("[REDACTED:"))
    }));
}

#[test]
fn flattened_json_output_leaks_no_fragment() {
    let logs = CapturedLogs::new();
    let layer = subscriber::json_layer(redactor(), logs.clone())
        .flatten_event(true)
        .with_span_list(false);
    let subscriber = tracing_subscriber::registry().with(layer);
    let events = tracing::subscriber::with_default(subscriber, || emit(&token_values()));
    assert_no_leak("flattened json", &logs.contents());
    assert_eq!(logs.json_lines().len(), events);
}

#[test]
fn text_output_leaks_no_fragment_and_one_event_is_one_line() {
    let logs = CapturedLogs::new();
    let subscriber =
        tracing_subscriber::registry().with(subscriber::text_layer(redactor(), logs.clone()));
    let events = tracing::subscriber::with_default(subscriber, || emit(&token_values()));
    let output = logs.contents();
    assert_no_leak("text", &output);
    assert_eq!(
        output.lines().count(),
        events,
        "a forged line got through:\n{output}"
    );
    assert!(
        output.contains("upstream failed: \\nINFO forged line")
            || output.contains("\\nINFO forged line")
    );
}

#[test]
fn the_leak_check_itself_sees_leaks() {
    // Without redaction the same events leak: the check above can fail.
    let logs = CapturedLogs::new();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(logs.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || emit(&token_values()));
    let result = std::panic::catch_unwind(|| assert_no_leak("plain", &logs.contents()));
    assert!(result.is_err(), "unredacted output passed the leak check");
}

#[test]
fn counters_count_without_values() {
    let redactor = redactor();
    let logs = CapturedLogs::new();
    let subscriber =
        tracing_subscriber::registry().with(subscriber::json_layer(redactor.clone(), logs));
    tracing::subscriber::with_default(subscriber, || {
        info!(password = "hunter2hunter2", "login");
        info!("token {}", format!("ghp_{}", "Ab3xK9mQz7Rt".repeat(3)));
    });
    let counts = redactor.counts();
    let count = |rule: &str| counts.iter().find(|c| c.rule == rule).map(|c| c.count);
    assert_eq!(count("secret-field"), Some(1));
    assert_eq!(count("github-pat"), Some(1));
    assert_eq!(redactor.total_count(), 2);
}
