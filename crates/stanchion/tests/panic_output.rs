//! What a real process prints when it panics after `Telemetry::init`: one redacted report per
//! panic, in the log format, on stdout; nothing raw on stderr.
//!
//! The parent tests run this test binary again as a child process that executes only
//! `child_process_that_panics` (ignored in a normal run), and parse its captured stdout and
//! stderr. The child panics on a named thread, in a tokio task and in a request handler
//! behind the `Stack`, served over loopback HTTP; each panic message carries a GitHub token.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};

use axum::{Router, routing::get};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use stanchion::{Stack, Telemetry};

/// Set in the child's environment; the child test does nothing without it.
const CHILD_ENV: &str = "STANCHION_PANIC_OUTPUT_CHILD";
const CHILD_TEST: &str = "child_process_that_panics";
const TOKEN: &str = "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12";
/// A part of the token no marker or escape could produce.
const TOKEN_PART: &str = "R4nd0mT0k3nV4lu3";
const REQUEST_ID: &str = "panic-probe-0001";

#[test]
#[ignore = "the child process of the other tests in this file"]
fn child_process_that_panics() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    Telemetry::from_env("probe").init().unwrap();

    let thread = std::thread::Builder::new()
        .name("worker".to_owned())
        .spawn(|| panic!("worker lost {TOKEN}"))
        .unwrap();
    assert!(thread.join().is_err());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let task = tokio::spawn(async { panic!("task lost {TOKEN}") }).await;
        assert!(task.unwrap_err().is_panic());

        let router = Router::new()
            .route(
                "/panic",
                get(|| async {
                    if true {
                        panic!("handler lost {TOKEN}");
                    }
                    "unreachable"
                }),
            )
            .layer(Stack::new());
        let addr = common::serve(router).await;
        let reply = common::send(
            Request::get(format!("http://{addr}/panic"))
                .header("x-request-id", REQUEST_ID)
                .body(Full::<Bytes>::default())
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reply.json()["error"]["requestId"], REQUEST_ID);
    });
}

#[test]
#[ignore = "the child process of the other tests in this file"]
fn child_process_that_panics_without_a_subscriber() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    stanchion::install_panic_hook(stanchion::redact::Redactor::new());
    let thread = std::thread::Builder::new()
        .name("worker".to_owned())
        .spawn(|| panic!("worker lost {TOKEN}"))
        .unwrap();
    assert!(thread.join().is_err());
}

/// Runs the child test `test` with `LOG_FORMAT=format`; checks it ran and passed, and that
/// its output holds no part of the token and no line of Rust's default panic hook.
fn run_child(test: &str, format: &str, backtrace: bool) -> (String, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, "1")
        .env("LOG_FORMAT", format)
        .env("RUST_LOG", "info");
    if backtrace {
        command.env("RUST_BACKTRACE", "1");
    } else {
        command
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let stdout = String::from_utf8(stdout).unwrap();
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(
        status.success() && stdout.contains("1 passed"),
        "the child failed ({status}):\n{stdout}\n{stderr}"
    );
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains(TOKEN_PART),
            "the token reached the child's {name}:\n{text}"
        );
        assert!(
            !text.contains("panicked at"),
            "Rust's default panic hook printed to {name}:\n{text}"
        );
    }
    (stdout, stderr)
}

#[test]
fn every_panic_is_one_redacted_json_line_with_location_and_backtrace() {
    let (stdout, stderr) = run_child(CHILD_TEST, "json", true);
    let reports: Vec<serde_json::Value> = stdout
        .lines()
        // libtest's `test child_process_that_panics ... ` may precede the first line.
        .filter_map(|line| line.find('{').map(|start| &line[start..]))
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["target"] == "stanchion::panic")
        .collect();
    assert_eq!(
        reports.len(),
        3,
        "one report per panic:\n{stdout}\n{stderr}"
    );
    for (report, origin) in reports.iter().zip(["worker", "task", "handler"]) {
        assert_eq!(report["level"], "ERROR");
        assert_eq!(report["service"], "probe");
        let panic = report["panic"].as_str().unwrap();
        assert!(
            panic.starts_with(&format!("{origin} lost [REDACTED:")),
            "{report}"
        );
        let location = report["location"].as_str().unwrap();
        assert!(location.contains("panic_output.rs:"), "{report}");
        assert!(
            report["backtrace"]
                .as_str()
                .is_some_and(|trace| trace.contains("panic_output")),
            "RUST_BACKTRACE=1 asks for a backtrace: {report}"
        );
    }
    assert_eq!(reports[0]["thread"], "worker");
    assert!(reports[0].get("requestId").is_none());
    let request = &reports[2];
    assert_eq!(request["requestId"], REQUEST_ID, "{request}");
    assert_eq!(request["message"], "request handler panicked");
}

#[test]
fn every_panic_is_one_redacted_pretty_line_without_a_backtrace_by_default() {
    let (stdout, stderr) = run_child(CHILD_TEST, "pretty", false);
    let reports: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("stanchion::panic"))
        .collect();
    assert_eq!(
        reports.len(),
        3,
        "one report per panic:\n{stdout}\n{stderr}"
    );
    for (report, origin) in reports.iter().zip(["worker", "task", "handler"]) {
        assert!(report.contains(" ERROR "), "{report}");
        assert!(
            report.contains(&format!("{origin} lost [REDACTED:")),
            "{report}"
        );
        assert!(report.contains("panic_output.rs:"), "{report}");
        assert!(!report.contains("backtrace"), "{report}");
    }
    assert!(reports[2].contains(REQUEST_ID), "{}", reports[2]);
}

#[test]
fn without_a_subscriber_a_panic_is_one_redacted_line_on_stderr() {
    let (stdout, stderr) = run_child(
        "child_process_that_panics_without_a_subscriber",
        "json",
        false,
    );
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("stanchion::panic"))
        .collect();
    assert_eq!(reports.len(), 1, "one report:\n{stdout}\n{stderr}");
    assert!(
        reports[0].contains("thread=worker") && reports[0].contains("panic=worker lost [REDACTED:"),
        "{}",
        reports[0]
    );
}
