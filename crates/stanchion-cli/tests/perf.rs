//! `stanchion perf run`: the real binary against real axum servers on loopback, started by
//! the test on their own threads, with plans and reports as real files.
#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::get,
};
use serde_json::Value;

/// What the test server saw, and how it behaves.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    tokens: Mutex<BTreeSet<String>>,
    /// The request number that starts a stall, and how long the stall lasts.
    stall: Option<(u64, Duration)>,
    stall_until: Mutex<Option<tokio::time::Instant>>,
}

async fn ok(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> impl IntoResponse {
    let n = seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(token) = headers.get("authorization") {
        let token = token.to_str().unwrap().to_owned();
        seen.tokens.lock().unwrap().insert(token);
    }
    if let Some((at, length)) = seen.stall {
        // Request `at` starts a stall: it and every request arriving before the stall ends
        // wait until it ends.
        let until = {
            let mut until = seen.stall_until.lock().unwrap();
            if n == at {
                *until = Some(tokio::time::Instant::now() + length);
            }
            *until
        };
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }
    "ok"
}

async fn fail(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [("content-type", "application/json")],
        r#"{"error":{"code":"INTERNAL_ERROR","message":"Something went wrong.","statusCode":500,"requestId":"r-1"}}"#,
    )
}

/// An axum server on its own thread and runtime, so the blocking `Command` calls of the test
/// never starve it.
fn serve(seen: Seen) -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(seen);
    let app = Router::new()
        .route("/ok", get(ok).post(ok))
        .route("/fail", get(fail))
        .with_state(Arc::clone(&seen));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (addr, seen)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    json: Option<Value>,
}

/// Runs `stanchion perf run` on `plan` (written to a file) with `args`, reading the JSON report.
fn perf(plan: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.toml");
    std::fs::write(&plan_path, plan).unwrap();
    let json_path = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["perf", "run"])
        .arg(&plan_path)
        .arg("--json")
        .arg(&json_path)
        .args(args)
        .output()
        .unwrap();
    let json = std::fs::read_to_string(&json_path)
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap());
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
        json,
    }
}

fn scenario<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

#[test]
fn an_open_scenario_reaches_its_target_rate_and_every_request_is_counted() {
    let (addr, seen) = serve(Seen::default());
    let plan = format!(
        "base_url = \"http://{addr}\"\n[[scenario]]\nname = \"steady\"\npath = \"/ok\"\n\
         model = \"open\"\nrate = 200\nwarmup = \"1s\"\nduration = \"2s\"\n\
         thresholds = [\"rate >= 190\", \"dropped == 0\"]\n"
    );
    let run = perf(&plan, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let json = run.json.unwrap();
    let s = scenario(&json, "steady");
    // The timetable has exactly rate × seconds slots in each phase.
    assert_eq!(s["requests"]["warmup"], 200);
    assert_eq!(s["requests"]["measured"], 400);
    assert_eq!(s["rate"]["target"], 200.0);
    assert!(s["rate"]["achieved"].as_f64().unwrap() >= 190.0, "{s}");
    // Every request the server answered is in the report, warm-up included.
    assert_eq!(
        s["requests"]["sent"].as_u64().unwrap(),
        seen.requests.load(Ordering::SeqCst)
    );
    assert_eq!(s["latency"]["measured_from"], "intended send time");
    assert_eq!(s["latency"]["samples"], 400);
    // Not a terminal: no progress line.
    assert!(!run.stderr.contains('\r'), "{}", run.stderr);
}

#[test]
fn a_stall_shows_in_the_open_model_percentiles_and_hides_in_the_closed_loop() {
    let stall = Some((50, Duration::from_secs(1)));
    let plan = |addr: SocketAddr, model: &str| {
        format!(
            "base_url = \"http://{addr}\"\n[[scenario]]\nname = \"stalled\"\npath = \"/ok\"\n\
             {model}\nduration = \"3s\"\n"
        )
    };

    let (addr, _) = serve(Seen {
        stall,
        ..Seen::default()
    });
    let open = perf(&plan(addr, "model = \"open\"\nrate = 100"), &[]);
    assert_eq!(open.code, 0, "{}{}", open.stdout, open.stderr);
    let open = open.json.unwrap();
    let open_latency = &scenario(&open, "stalled")["latency"];

    let (addr, _) = serve(Seen {
        stall,
        ..Seen::default()
    });
    let closed = perf(&plan(addr, "model = \"closed\"\nclients = 2"), &[]);
    assert_eq!(closed.code, 0, "{}{}", closed.stdout, closed.stderr);
    let closed = closed.json.unwrap();
    let closed_latency = &scenario(&closed, "stalled")["latency"];

    let seconds = |latency: &Value, key: &str| latency[key].as_f64().unwrap();
    eprintln!("open (corrected): {open_latency}\nclosed loop: {closed_latency}");
    // Both runs saw the one-second stall...
    assert!(seconds(open_latency, "max") >= 0.9, "{open_latency}");
    assert!(seconds(closed_latency, "max") >= 0.9, "{closed_latency}");
    // ...but a third of the open model's timetable fell into it, so it dominates the tail,
    assert!(seconds(open_latency, "p90") >= 0.5, "{open_latency}");
    // while each closed-loop client waited once and then sent thousands of fast requests:
    // the stall is under-sampled and vanishes from the percentiles.
    assert!(seconds(closed_latency, "p90") < 0.1, "{closed_latency}");
}

#[test]
fn thresholds_pass_with_exit_0_and_fail_with_exit_1_showing_the_observed_value() {
    let (addr, _) = serve(Seen::default());
    let scenario_of = |name: &str, path: &str, thresholds: &str| {
        format!(
            "[[scenario]]\nname = \"{name}\"\npath = \"{path}\"\nmodel = \"closed\"\nclients = 1\n\
             think_time = \"50ms\"\nduration = \"1s\"\nthresholds = [{thresholds}]\n"
        )
    };
    let passing = scenario_of(
        "healthy",
        "/ok",
        "\"status_5xx == 0\", \"error_rate < 1%\", \"p95 <= 2.5s\"",
    );
    let run = perf(&passing, &["--base-url", &format!("http://{addr}")]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("PASS       p95 <= 2.5s  (observed"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("result: every threshold passed"));

    let failing = format!(
        "{passing}{}",
        scenario_of(
            "broken",
            "/fail",
            "\"status_5xx == 0\", \"error_rate < 1%\""
        )
    );
    let run = perf(&failing, &["--base-url", &format!("http://{addr}")]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let json = run.json.unwrap();
    let broken = scenario(&json, "broken");
    let errors = broken["requests"]["measured"].as_u64().unwrap();
    assert!(errors > 0);
    assert!(
        run.stdout
            .contains(&format!("FAIL       status_5xx == 0  (observed {errors})")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("FAIL       error_rate < 1%  (observed 100.00%)")
    );
    assert_eq!(broken["errors"]["by_code"]["INTERNAL_ERROR"], errors);
    assert_eq!(broken["errors"]["denominator"], errors);
    assert_eq!(broken["passed"], false);
    assert_eq!(scenario(&json, "healthy")["passed"], true);
    assert_eq!(json["passed"], false);
}

#[test]
fn a_request_past_its_timeout_counts_as_a_timeout_with_its_latency() {
    // Request 3 starts a two-second stall; the scenario's timeout is 300 ms.
    let (addr, seen) = serve(Seen {
        stall: Some((3, Duration::from_secs(2))),
        ..Seen::default()
    });
    let plan = format!(
        "base_url = \"http://{addr}\"\n[[scenario]]\nname = \"slow\"\npath = \"/ok\"\n\
         model = \"closed\"\nclients = 1\nthink_time = \"50ms\"\nduration = \"1s\"\n\
         timeout = \"300ms\"\nthresholds = [\"errors_timeout == 0\"]\n"
    );
    let run = perf(&plan, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let json = run.json.unwrap();
    let slow = scenario(&json, "slow");
    let timeouts = slow["errors"]["timeout"].as_u64().unwrap();
    assert!(timeouts >= 1, "{slow}");
    assert_eq!(slow["errors"]["total"], timeouts);
    // A timeout weighs on the percentiles at the time it took.
    assert!(slow["latency"]["max"].as_f64().unwrap() >= 0.3, "{slow}");
    assert_eq!(
        slow["requests"]["sent"].as_u64().unwrap(),
        seen.requests.load(Ordering::SeqCst)
    );
}

#[test]
fn one_token_per_client_reaches_the_server_and_never_the_report() {
    let (addr, seen) = serve(Seen::default());
    let plan = format!(
        "base_url = \"http://{addr}\"\n[[scenario]]\nname = \"users\"\nmethod = \"POST\"\n\
         path = \"/ok\"\nbody = '{{\"prompt\":\"hi\"}}'\nmodel = \"closed\"\nclients = 3\n\
         think_time = \"100ms\"\nduration = \"1s\"\n\
         auth = {{ per_client_command = [\"echo\", \"secret-token-{{client}}\"] }}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let markdown = dir.path().join("report.md");
    let run = perf(&plan, &["--markdown", markdown.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let tokens: Vec<String> = seen.tokens.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        tokens,
        [
            "Bearer secret-token-0",
            "Bearer secret-token-1",
            "Bearer secret-token-2"
        ]
    );
    let json = run.json.unwrap();
    let auth = scenario(&json, "users")["auth"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(auth.starts_with("one bearer token per client"), "{auth}");
    assert!(auth.ends_with("(3 tokens)"), "{auth}");
    let markdown = std::fs::read_to_string(markdown).unwrap();
    for text in [&run.stdout, &json.to_string(), &markdown] {
        assert!(!text.contains("secret-token-0"), "a token leaked: {text}");
    }
    assert!(
        markdown.contains("| users | closed model, 3 clients"),
        "{markdown}"
    );
}

#[test]
fn a_credential_in_the_plan_is_redacted_in_every_output() {
    let (addr, _) = serve(Seen::default());
    let secret = "ghp_Zq8bT2vX9kLmN4pR7sW1yC3eF6hJ0aD5uG8i";
    let plan = format!(
        "base_url = \"http://{addr}\"\n[[scenario]]\nname = \"c\"\npath = \"/ok\"\n\
         model = \"closed\"\nclients = 1\nthink_time = \"100ms\"\nduration = \"1s\"\n\
         auth = {{ command = [\"echo\", \"{secret}\"] }}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let markdown = dir.path().join("report.md");
    let run = perf(&plan, &["--markdown", markdown.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let json = run.json.unwrap();
    assert!(
        scenario(&json, "c")["auth"]
            .as_str()
            .unwrap()
            .contains("REDACTED")
    );
    let markdown = std::fs::read_to_string(markdown).unwrap();
    for text in [&run.stdout, &json.to_string(), &markdown] {
        assert!(!text.contains(secret), "the credential leaked: {text}");
    }
}

#[test]
fn unusable_input_exits_2_with_a_clear_message() {
    let open = "[[scenario]]\nname = \"h\"\npath = \"/ok\"\nmodel = \"open\"\nrate = 5\nduration = \"1s\"\n";
    // Nothing listens on a port that was just released.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (up, _) = serve(Seen::default());
    let up_url = format!("http://{up}");
    let down_url = format!("http://{down}");
    let cases: [(&str, String, Vec<&str>, &str); 8] = [
        (
            "down target",
            open.to_owned(),
            vec!["--base-url", &down_url],
            "is down: cannot connect to",
        ),
        (
            "malformed plan",
            "[[scenario]\nname = \"h\"\n".to_owned(),
            vec!["--base-url", &up_url],
            "is not a valid plan",
        ),
        (
            "bad threshold expression",
            format!("{open}thresholds = [\"p95 < 2.5\"]\n"),
            vec!["--base-url", &up_url],
            "threshold \"p95 < 2.5\": \"2.5\" needs a unit",
        ),
        (
            "unknown field",
            format!("{open}rps = 10\n"),
            vec!["--base-url", &up_url],
            "unknown field `rps`",
        ),
        ("no base URL", open.to_owned(), vec![], "no base URL"),
        (
            "failing token command",
            format!("{open}auth = {{ command = [\"false\"] }}\n"),
            vec!["--base-url", &up_url],
            "the token command `false` exited with",
        ),
        (
            "report directory missing",
            open.to_owned(),
            vec!["--base-url", &up_url, "--markdown", "/nonexistent-dir/r.md"],
            "directory /nonexistent-dir does not exist",
        ),
        (
            "unknown pid",
            open.to_owned(),
            vec!["--base-url", &up_url, "--pid", "4294967295"],
            "no such process",
        ),
    ];
    for (what, plan, args, expected) in cases {
        let started = Instant::now();
        let run = perf(&plan, &args);
        assert_eq!(run.code, 2, "{what}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(expected), "{what}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{what}: {}", run.stdout);
        assert!(run.json.is_none(), "{what}: a report was written");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: it ran"
        );
    }
    let unknown = perf(open, &["--base-url", &up_url, "--bogus"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    let missing = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["perf", "run", "/nonexistent/plan.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("cannot read the plan /nonexistent/plan.toml")
    );
}

#[test]
fn help_documents_the_exit_codes_with_an_example() {
    let output = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["perf", "run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("1 a threshold failed"), "{help}");
    assert!(help.contains("2 unusable input"), "{help}");
    assert!(help.contains("stanchion perf run examples/backend/ops/perf-smoke.toml"));
}
