//! A real process that logs from 16 threads at once after `Telemetry::init` (stdout, JSON):
//! every line of its captured stdout is one whole event.
//!
//! The parent test runs this test binary again as a child process that executes only
//! `child_process_that_logs_from_sixteen_threads` (ignored in a normal run).
#![allow(clippy::unwrap_used)]

use std::{
    process::Command,
    sync::{Arc, Barrier},
};

use stanchion::Telemetry;

const CHILD_ENV: &str = "STANCHION_CONCURRENT_STDOUT_CHILD";
const CHILD_TEST: &str = "child_process_that_logs_from_sixteen_threads";
const THREADS: usize = 16;
const EVENTS_PER_THREAD: usize = 500;

#[test]
#[ignore = "the child process of the other test in this file"]
fn child_process_that_logs_from_sixteen_threads() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    Telemetry::new("probe").with_filter("info").init().unwrap();
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                for event in 0..EVENTS_PER_THREAD {
                    tracing::info!(thread, event, password = "hunter22-x", "request completed");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn sixteen_threads_logging_to_stdout_write_one_event_per_line() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, "1")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("hunter22"), "a secret reached stdout");
    let mut seen = vec![0_usize; THREADS];
    for (number, line) in stdout.lines().enumerate() {
        // libtest's own lines, and its `test ... ` prefix before the first event.
        let Some(start) = line.find("{\"timestamp\"") else {
            assert!(!line.contains("request completed"), "line {number}: {line}");
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(&line[start..])
            .unwrap_or_else(|e| panic!("line {number} is not one JSON event ({e}): {line}"));
        assert_eq!(event["password"], "[REDACTED:secret-field]");
        seen[usize::try_from(event["thread"].as_u64().unwrap()).unwrap()] += 1;
    }
    assert_eq!(
        seen,
        vec![EVENTS_PER_THREAD; THREADS],
        "every event on its own line"
    );
}
