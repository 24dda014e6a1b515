//! The backend's perf smoke plan (`examples/backend/ops/perf-smoke.toml`), shortened with
//! `--duration`, against the real example backend started as a process, with its tokens
//! minted by the real `backend mint-token`. The report's request totals are checked against
//! the backend's own Prometheus counters.
#![allow(clippy::unwrap_used)]

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the `backend` binary next to `stanchion` (same target directory and profile) and
/// returns that directory. A no-op when `cargo test --workspace` already built it.
fn build_backend() -> PathBuf {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_stanchion"))
        .parent()
        .unwrap()
        .to_owned();
    let target_dir = bin_dir.parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-q", "-p", "example-backend", "--bin", "backend"])
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if bin_dir.file_name().is_some_and(|name| name == "release") {
        build.arg("--release");
    }
    let status = build.status().unwrap();
    assert!(status.success(), "building the backend failed");
    bin_dir
}

struct Backend(Child);

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nhost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The requests the backend served on `route`: the sum of the request-duration histogram's
/// `_count` over every series of that route (OpenTelemetry's `http_route` label).
fn served(metrics: &str, route: &str) -> u64 {
    let label = format!("http_route=\"{route}\"");
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("http_server_request_duration_seconds_count{") && line.contains(&label)
        })
        .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn the_backend_smoke_plan_passes_against_the_real_backend_and_every_request_is_counted() {
    let bin_dir = build_backend();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let backend = Backend(
        Command::new(bin_dir.join("backend"))
            .env("BACKEND_ADDR", &addr)
            .env("PATH", &path)
            .env_remove("AGENT_URL")
            .env_remove("APP_ENV")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "the backend did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("perf.json");
    let markdown_path = dir.path().join("perf.md");
    let output = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["perf", "run"])
        .arg(workspace_root().join("examples/backend/ops/perf-smoke.toml"))
        .args(["--base-url", &format!("http://{addr}")])
        .args(["--duration", "2", "--warmup", "1"])
        .args(["--pid", &backend.0.id().to_string()])
        .arg("--json")
        .arg(&json_path)
        .arg("--markdown")
        .arg(&markdown_path)
        .env("PATH", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(report["passed"], true);
    let markdown = std::fs::read_to_string(&markdown_path).unwrap();
    check_metadata(
        &report["metadata"],
        &markdown,
        &format!("http://{addr}"),
        backend.0.id(),
    );
    let metrics = get(&addr, "/metrics");
    let scenarios = report["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["health", "chat", "training-plan"]);
    for scenario in scenarios {
        let name = scenario["name"].as_str().unwrap();
        assert!(
            scenario["requests"]["measured"].as_u64().unwrap() > 0,
            "{name}"
        );
        assert_eq!(scenario["errors"]["total"], 0, "{name}: {scenario}");
        assert_eq!(scenario["passed"], true, "{name}");
        // The shortened run really was shortened: --duration and --warmup replaced the plan's
        // 60 s and 2 s (ignored, the test would still pass, only in three minutes).
        assert_eq!(scenario["duration_seconds"], 2.0, "{name}");
        assert_eq!(scenario["warmup_seconds"], 1.0, "{name}");
        let process = &scenario["target_process"];
        assert!(
            process["peak_rss_bytes"].as_u64().unwrap() > 0,
            "{name}: {process}"
        );
        assert!(
            process["cpu_seconds"].as_f64().unwrap() >= 0.0,
            "{name}: {process}"
        );
        assert!(
            process["cpu_percent"].as_f64().unwrap() >= 0.0,
            "{name}: {process}"
        );
        assert_eq!(process["exited"], false);
        // The report's total, warm-up included, is what the backend counted for the route.
        let route = scenario["path"].as_str().unwrap();
        assert_eq!(
            scenario["requests"]["sent"].as_u64().unwrap(),
            served(&metrics, route),
            "{name}: report vs the backend's request count"
        );
    }
    let chat = &scenarios[1];
    assert_eq!(chat["clients"], 5);
    assert!(chat["auth"].as_str().unwrap().ends_with("(5 tokens)"));
    // Ten clients answered as fast as the backend can for 2 s: far more than the one clock
    // tick (10 ms) of CPU that /proc can resolve, so zero would mean the figure is not read.
    let plan_reads = &scenarios[2]["target_process"];
    assert!(
        plan_reads["cpu_seconds"].as_f64().unwrap() > 0.0,
        "{plan_reads}"
    );
    assert!(markdown.contains("| `p95 <= 2.5s` |"), "{markdown}");
}

/// `git rev-parse HEAD` where the test runs, which is also where `stanchion` runs; `None`
/// outside a checkout (a source tarball), where the report says the commit is unknown.
fn git_head() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    let head = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!head.is_empty()).then_some(head)
}

/// The run metadata in the JSON report and the Markdown rows that carry it.
fn check_metadata(metadata: &Value, markdown: &str, target: &str, pid: u32) {
    // The commit went through the report's redactor, which must leave a 40-hex SHA alone.
    let commit = match git_head() {
        Some(head) => {
            assert_eq!(head.len(), 40, "{head}");
            assert!(head.bytes().all(|b| b.is_ascii_hexdigit()), "{head}");
            assert_eq!(metadata["commit"], head.as_str(), "{metadata}");
            head
        }
        None => {
            assert!(metadata["commit"].is_null(), "{metadata}");
            "unknown".to_owned()
        }
    };
    // The test and the `stanchion` binary are built with the same profile.
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    assert_eq!(metadata["build_profile"], profile, "{metadata}");
    assert_eq!(metadata["tool"], "stanchion-perf");
    let version = metadata["tool_version"].as_str().unwrap();
    assert!(!version.is_empty(), "{metadata}");
    assert!(!metadata["cpu"].as_str().unwrap().is_empty(), "{metadata}");
    assert!(metadata["cpus"].as_u64().unwrap() >= 1, "{metadata}");
    assert_eq!(metadata["target"], target, "{metadata}");
    assert_eq!(metadata["target_pid"], pid, "{metadata}");
    let started = metadata["started_at"].as_str().unwrap();
    let finished = metadata["finished_at"].as_str().unwrap();
    // RFC 3339 UTC with milliseconds (`2026-12-01T15:34:08.123Z`): fixed width, so the
    // strings order as the times do.
    for time in [started, finished] {
        assert_eq!(time.len(), 24, "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    }
    assert!(finished >= started, "{started} .. {finished}");
    for row in [
        format!("| target | {target} |"),
        format!("| commit | {commit} |"),
        format!("| tool | stanchion-perf {version} ({profile} build) |"),
        "| CPU | ".to_owned(),
        format!("| started | {started} |"),
        format!("| finished | {finished} |"),
        format!("| target PID | {pid} |"),
    ] {
        assert!(markdown.contains(&row), "{row}: {markdown}");
    }
}
