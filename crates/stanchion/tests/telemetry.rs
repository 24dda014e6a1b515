//! The subscriber `Telemetry` builds, observed through its real output.
//!
//! Every test installs its own subscriber (tracing caches callsite interest per process).

use stanchion::{LogFormat, Telemetry, TelemetryError, redact::Redactor};
use stanchion_test_support::CapturedLogs;

fn json_logs(filter: &str) -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
    let logs = CapturedLogs::new();
    let subscriber = Telemetry::new("agent")
        .with_filter(filter)
        .build(logs.clone());
    (logs, tracing::subscriber::set_default(subscriber))
}

#[test]
fn a_json_line_has_the_fixed_keys_first_and_typed_fields_flattened() {
    let (logs, _guard) = json_logs("info");
    let error = std::io::Error::other("disk full");
    tracing::warn!(
        target: "billing",
        attempts = 3_u64,
        delta = -2_i64,
        ratio = 0.25,
        dry_run = true,
        error = &error as &dyn std::error::Error,
        plan = ?Some("pro"),
        "invoice not sent"
    );
    let raw = logs.lines().remove(0);
    assert!(
        raw.starts_with(r#"{"timestamp":""#),
        "timestamp first: {raw}"
    );
    let line = &logs.json_lines()[0];
    let timestamp = line["timestamp"].as_str().unwrap();
    // 2026-11-22T00:00:00.000000Z
    assert_eq!(timestamp.len(), 27, "{timestamp}");
    assert!(timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T');
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "billing");
    assert_eq!(line["service"], "agent");
    assert_eq!(line["message"], "invoice not sent");
    assert_eq!(line["attempts"], 3);
    assert_eq!(line["delta"], -2);
    assert_eq!(line["ratio"], 0.25);
    assert_eq!(line["dry_run"], true);
    assert_eq!(line["error"], "disk full");
    assert_eq!(line["plan"], "Some(\"pro\")");
    assert!(line.get("requestId").is_none());
    assert!(line.get("fields").is_none(), "fields are flattened");
}

#[test]
fn a_span_request_id_is_the_request_id_of_events_inside_it() {
    let (logs, _guard) = json_logs("info");
    let span = tracing::info_span!("job", request_id = "job-0042");
    span.in_scope(|| {
        tracing::info_span!("step").in_scope(|| tracing::info!("inside"));
    });
    tracing::info!("outside");
    let lines = logs.json_lines();
    assert_eq!(lines[0]["requestId"], "job-0042");
    assert!(lines[1].get("requestId").is_none());
}

#[test]
fn the_filter_uses_rust_log_syntax() {
    let (logs, _guard) = json_logs("warn,payments=debug");
    tracing::info!("dropped");
    tracing::debug!(target: "payments", "kept: debug for payments");
    tracing::warn!("kept: warn");
    let messages: Vec<_> = logs
        .json_lines()
        .iter()
        .map(|line| line["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, ["kept: debug for payments", "kept: warn"]);
}

#[test]
fn an_invalid_filter_is_refused_by_try_build_and_init() {
    let error = Telemetry::new("agent")
        .with_filter("info,=[bad")
        .try_build(CapturedLogs::new())
        .err()
        .expect("refused");
    assert!(matches!(error, TelemetryError::InvalidFilter { .. }));
    assert!(error.to_string().contains("info,=[bad"), "{error}");
    let error = Telemetry::new("agent")
        .with_filter("info,=[bad")
        .init()
        .expect_err("refused before installing anything");
    assert!(matches!(error, TelemetryError::InvalidFilter { .. }));
}

#[test]
fn secrets_registered_with_the_redactor_never_reach_a_line() {
    let redactor = Redactor::new();
    let logs = CapturedLogs::new();
    let subscriber = Telemetry::new("backend")
        .with_redactor(redactor.clone())
        .with_filter("info")
        .build(logs.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    // Registered after the subscriber was built, as a configuration refresh would.
    redactor.register_secret("MODEL_API_KEY", "plain-looking-value-7731");
    tracing::info!(
        detail = "key plain-looking-value-7731 rejected",
        "provider said no"
    );
    let contents = logs.contents();
    assert!(!contents.contains("plain-looking-value-7731"), "{contents}");
    let line = &logs.json_lines()[0];
    assert_eq!(
        line["detail"],
        "key [REDACTED:registered-secret:MODEL_API_KEY] rejected"
    );
}

#[test]
fn the_pretty_format_is_one_redacted_text_line_per_event() {
    let logs = CapturedLogs::new();
    let subscriber = Telemetry::new("backend")
        .with_format(LogFormat::Pretty)
        .with_filter("info")
        .build(logs.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::info_span!("request", request_id = "abc-123").in_scope(|| {
        tracing::info!(password = "hunter2 hunter2", "multi\nline message");
    });
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(
        serde_json::from_str::<serde_json::Value>(line).is_err(),
        "text, not JSON"
    );
    assert!(
        line.contains("request_id=\"abc-123\"") || line.contains("request_id=abc-123"),
        "{line}"
    );
    assert!(line.contains("multi\\nline message"), "{line}");
    assert!(!line.contains("hunter2"), "{line}");
}
