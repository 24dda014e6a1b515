//! `stanchion perf run`: the real binary against real axum servers on loopback, started by
//! the test on their own threads, with plans and reports as real files.
#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    process::{Command, Stdio},
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
    perf_with_env(plan, args, &[])
}

/// [`perf`] with extra environment variables for the `stanchion` process.
fn perf_with_env(plan: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
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
        .envs(env.iter().copied())
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
         thresholds = [\"rate >= 160\", \"dropped == 0\"]\n"
    );
    let run = perf(&plan, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let json = run.json.unwrap();
    let s = scenario(&json, "steady");
    // The timetable has exactly rate × seconds slots in each phase.
    assert_eq!(s["requests"]["warmup"], 200);
    assert_eq!(s["requests"]["measured"], 400);
    assert_eq!(s["rate"]["target"], 200.0);
    // The achieved rate is the 400 measured sends over the wall-clock time they took (at
    // least the 2 s measured), so a harness that kept sending past the end is caught. 0.8 of
    // the target allows the last send to be half a second late, which a loaded 2-core machine
    // stays well within at 200/s; the plan's `rate >= 160` threshold is the same bound.
    let achieved = s["rate"]["achieved"].as_f64().unwrap();
    let measured_seconds = s["rate"]["measured_seconds"].as_f64().unwrap();
    assert!(achieved >= 0.8 * 200.0, "{s}");
    assert!(measured_seconds >= 2.0, "{s}");
    assert!((achieved * measured_seconds - 400.0).abs() < 1e-6, "{s}");
    // No send went out a whole second behind its schedule (a stalled send loop would).
    assert!(
        s["requests"]["max_send_lag_seconds"].as_f64().unwrap() < 1.0,
        "{s}"
    );
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

    // The open model also times the same responses from their actual send, to show the
    // correction; the closed model's latency already is that figure, so it has no second one.
    let open_service = &scenario(&open, "stalled")["service_time"];
    assert_eq!(open_service["measured_from"], "actual send time");
    assert_eq!(open_service["samples"], open_latency["samples"]);
    assert!(scenario(&closed, "stalled")["service_time"].is_null());
    assert_eq!(closed_latency["measured_from"], "actual send time");

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
fn a_rate_the_target_cannot_take_shows_as_dropped_sends_and_a_lower_achieved_rate_and_fails() {
    // Request 10 starts a one-second stall. With `max_in_flight = 1` only that request may be
    // pending, so every send due during the stall (about 100 at 100/s) is dropped.
    let (addr, seen) = serve(Seen {
        stall: Some((10, Duration::from_secs(1))),
        ..Seen::default()
    });
    let plan = format!(
        "base_url = \"http://{addr}\"\n[[scenario]]\nname = \"overloaded\"\npath = \"/ok\"\n\
         model = \"open\"\nrate = 100\nmax_in_flight = 1\nduration = \"2s\"\n\
         thresholds = [\"dropped == 0\", \"rate >= 90\"]\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let markdown = dir.path().join("report.md");
    let run = perf(&plan, &["--markdown", markdown.to_str().unwrap()]);
    // 1 is the documented exit code of a failed threshold.
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let json = run.json.unwrap();
    let s = scenario(&json, "overloaded");
    let measured = s["requests"]["measured"].as_u64().unwrap();
    let dropped = s["requests"]["dropped"].as_u64().unwrap();
    // Each of the timetable's 200 measured slots (100/s × 2 s) was either sent or dropped.
    assert_eq!(measured + dropped, 200, "{s}");
    assert!(dropped >= 50, "{s}");
    // The shortfall is in the achieved rate, not hidden behind the target.
    let achieved = s["rate"]["achieved"].as_f64().unwrap();
    let measured_seconds = s["rate"]["measured_seconds"].as_f64().unwrap();
    assert!(achieved < 0.8 * 100.0, "{s}");
    assert!(measured_seconds >= 2.0, "{s}");
    assert!(
        (achieved * measured_seconds - measured as f64).abs() < 1e-6,
        "{s}"
    );
    // Dropped sends were never sent: the server saw exactly what the report counts.
    assert_eq!(
        s["requests"]["sent"].as_u64().unwrap(),
        seen.requests.load(Ordering::SeqCst)
    );
    for expected in [
        format!("FAIL       dropped == 0  (observed {dropped})"),
        "FAIL       rate >= 90  (observed ".to_owned(),
        format!("dropped {dropped}"),
        "largest send lag".to_owned(),
        format!("{measured} measured in "),
    ] {
        assert!(run.stdout.contains(&expected), "{expected}: {}", run.stdout);
    }
    let markdown = std::fs::read_to_string(markdown).unwrap();
    for expected in [
        format!("| `dropped == 0` | {dropped} | FAIL |"),
        format!("dropped {dropped}"),
        "largest send lag".to_owned(),
        "- rate: ".to_owned(),
    ] {
        assert!(markdown.contains(&expected), "{expected}: {markdown}");
    }
}

/// Sends `signal` (`-STOP`, `-CONT`) to the process `pid` with kill(1).
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// A process stopped with SIGSTOP, continued when this is dropped, even if the test panics
/// first: a stopped harness would otherwise outlive the test.
struct Stopped(u32);

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

#[test]
fn a_harness_that_falls_behind_past_the_end_shows_late_sends_and_a_lower_achieved_rate() {
    let (addr, seen) = serve(Seen::default());
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.toml");
    std::fs::write(
        &plan_path,
        format!(
            "base_url = \"http://{addr}\"\n[[scenario]]\nname = \"frozen\"\npath = \"/ok\"\n\
             model = \"open\"\nrate = 50\nduration = \"3s\"\n\
             thresholds = [\"late == 0\", \"rate >= 45\"]\n"
        ),
    )
    .unwrap();
    let json_path = dir.path().join("report.json");
    let child = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["perf", "run"])
        .arg(&plan_path)
        .arg("--json")
        .arg(&json_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first request the server sees marks the start of the measured period (no warm-up).
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.requests.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    // Freeze the harness from 1 s into the 3 s period until 1 s past its end, the way a
    // starved load machine would: no send is dropped (nothing is pending), but every send
    // due meanwhile leaves when it resumes, up to 3 s late, the last ones after the end. The
    // margins of a second each way absorb a slow test thread.
    std::thread::sleep(
        (started + Duration::from_secs(1)).saturating_duration_since(Instant::now()),
    );
    signal(child.id(), "-STOP");
    let stopped = Stopped(child.id());
    std::thread::sleep(
        (started + Duration::from_secs(4)).saturating_duration_since(Instant::now()),
    );
    drop(stopped);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let s = scenario(&json, "frozen");
    // Every slot of the timetable (50/s × 3 s) was sent, none dropped...
    assert_eq!(s["requests"]["measured"], 150, "{s}");
    assert_eq!(s["requests"]["dropped"], 0, "{s}");
    // ...but the two seconds of slots due during the freeze (about 100) left late,
    assert!(s["requests"]["late"].as_u64().unwrap() >= 50, "{s}");
    assert!(
        s["requests"]["max_send_lag_seconds"].as_f64().unwrap() >= 1.0,
        "{s}"
    );
    // and the measured period ran past its end, so the achieved rate is below the target.
    // Counting timetable slots over the nominal 3 s would have claimed exactly 50/s.
    let achieved = s["rate"]["achieved"].as_f64().unwrap();
    let measured_seconds = s["rate"]["measured_seconds"].as_f64().unwrap();
    assert!(measured_seconds > 3.3, "{s}");
    assert!(achieved < 0.9 * 50.0, "{s}");
    assert!((achieved * measured_seconds - 150.0).abs() < 1e-6, "{s}");
    assert_eq!(
        s["requests"]["sent"].as_u64().unwrap(),
        seen.requests.load(Ordering::SeqCst)
    );
    for expected in [
        "FAIL       late == 0  (observed ",
        "FAIL       rate >= 45  (observed ",
        "largest send lag",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
}

#[test]
fn a_latency_threshold_fails_with_exit_1_on_a_stall_and_when_nothing_was_measured() {
    // Request 5 starts a half-second stall: at 50/s about a quarter of the timetable falls
    // into it and, timed from when each was due, carries up to half a second.
    let (addr, _) = serve(Seen {
        stall: Some((5, Duration::from_millis(500))),
        ..Seen::default()
    });
    let plan = format!(
        "base_url = \"http://{addr}\"\n\
         [[scenario]]\nname = \"stalled\"\npath = \"/ok\"\nmodel = \"open\"\nrate = 50\n\
         duration = \"1s\"\nthresholds = [\"p95 <= 1ms\"]\n\
         [[scenario]]\nname = \"idle\"\npath = \"/ok\"\nmodel = \"open\"\nrate = 0.5\n\
         warmup = \"1s\"\nduration = \"1s\"\nthresholds = [\"p95 <= 1s\"]\n"
    );
    let run = perf(&plan, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let json = run.json.unwrap();
    let stalled = scenario(&json, "stalled");
    assert!(
        stalled["latency"]["p95"].as_f64().unwrap() >= 0.1,
        "{stalled}"
    );
    assert_eq!(stalled["passed"], false);
    assert!(
        run.stdout.contains("FAIL       p95 <= 1ms  (observed "),
        "{}",
        run.stdout
    );
    // At 0.5/s the one slot before the end (t = 0) is in the warm-up and the next (t = 2 s) is
    // past the end: nothing is measured, and a latency threshold without samples fails rather
    // than passing on nothing.
    let idle = scenario(&json, "idle");
    assert_eq!(idle["requests"]["measured"], 0, "{idle}");
    assert!(idle["latency"].is_null(), "{idle}");
    assert!(
        run.stdout
            .contains("FAIL       p95 <= 1s  (observed no samples)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_token_from_an_environment_variable_reaches_the_server_and_never_the_report() {
    let (addr, seen) = serve(Seen::default());
    let token = "env-token-7f3a9c";
    let plan = format!(
        "base_url = \"http://{addr}\"\n[[scenario]]\nname = \"env\"\npath = \"/ok\"\n\
         model = \"closed\"\nclients = 1\nthink_time = \"100ms\"\nduration = \"1s\"\n\
         auth = {{ env = \"STANCHION_PERF_TEST_TOKEN\" }}\n"
    );
    let run = perf_with_env(&plan, &[], &[("STANCHION_PERF_TEST_TOKEN", token)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let tokens: Vec<String> = seen.tokens.lock().unwrap().iter().cloned().collect();
    assert_eq!(tokens, [format!("Bearer {token}")]);
    let json = run.json.unwrap();
    assert_eq!(
        scenario(&json, "env")["auth"],
        "bearer token from environment variable STANCHION_PERF_TEST_TOKEN"
    );
    for text in [&run.stdout, &json.to_string()] {
        assert!(!text.contains(token), "the token leaked: {text}");
    }
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
