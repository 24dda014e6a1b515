//! Instructions per request, counted by callgrind: an axum router served bare, behind the
//! tower-http layers a user composes for the same job, and behind Stanchion's `Stack` with
//! `Telemetry` and `Metrics`, on three routes, side by side in one run.
//!
//! Wall-clock benches on a shared 2-core VM swing by a third between runs; the number of
//! user-space instructions a request executes does not, so this bench is the one the facade's
//! cost goal ("at most 0.8× tower-http's instructions per request") is measured with.
//!
//! - **bare**: the router alone, no subscriber, no layers.
//! - **tower-http**: `SetRequestId(MakeRequestUuid)` → `TraceLayer` (an INFO span carrying the
//!   ID, the response event raised to INFO, tracing-subscriber's JSON formatter, INFO level
//!   filter) → `PropagateRequestId` → `CatchPanic` → `Timeout` (408) → `RequestBodyLimit`
//!   (1 MiB): one JSON line per request.
//! - **stanchion**: `Stack::new()` (request ID, access log, guard, head limits, catch-panic,
//!   timeout, body limit) with `Telemetry` (its JSON line, redacted; `info` filter) and a
//!   `Metrics::for_current_thread()` recorder: one JSON access line per request, the duration
//!   histogram, and on the 404 the envelope, the guard's decision and violation counters.
//!
//! Routes: `GET /health` (200, `ok`), `GET /missing` (the router's 404; an envelope behind
//! Stanchion), `POST /echo` (a JSON body deserialized and echoed with `axum::Json`).
//!
//! Every stack is added with `Router::layer` (so Stanchion's access log sees the matched route)
//! and called as a tower `Service` whose futures are ready on their first poll, inside an
//! entered current-thread runtime (the timeout layers create a timer); no thread, socket or
//! scheduler is involved, so the count is deterministic to a few instructions.
//!
//! How it counts: the bench re-runs itself once per (stack, route) under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=*measured_requests*`. The
//! child builds the stack, checks the responses (status, body, request-ID header, envelope,
//! exactly one log line per request, the metrics), runs a warm-up of [`WARMUP`] requests
//! outside the collected function (callsite registration, the metrics registry's first
//! insertions, allocator growth), then [`MEASURED`] requests inside `measured_requests`; the
//! collected instructions divided by [`MEASURED`] are the instructions per request, building
//! the request and collecting the response body included (the bare column is that floor).
//!
//! Run: `cargo bench -p stanchion-benches --bench instructions` (needs `valgrind`; without it
//! the bench says so loudly and exits 0, or 1 when `CI=true`). It is not run by CI.

use std::{
    convert::Infallible,
    hint::black_box,
    io,
    process::ExitCode,
    sync::atomic::{AtomicUsize, Ordering},
};

use axum::{
    Json, Router,
    body::Body,
    routing::{get, post},
};
use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use stanchion::{Metrics, Stack, Telemetry};
use tower::Service;
use tracing_subscriber::{filter::LevelFilter, fmt, layer::SubscriberExt as _};

#[macro_use]
#[path = "common/tower_http_peer.rs"]
mod tower_http_peer;

#[path = "common/callgrind.rs"]
mod callgrind;

/// Requests run before collection starts.
const WARMUP: usize = 500;
/// Requests counted.
const MEASURED: usize = 2_000;
/// The function whose instructions callgrind collects.
const MARKER: &str = "*measured_requests*";

const STACKS: [&str; 3] = ["bare", "tower-http", "stanchion"];
const ROUTES: [&str; 3] = ["GET /health", "GET /missing", "POST /echo"];
const ECHO_BODY: &str = r#"{"message":"hello from the bench","count":3}"#;

#[derive(serde::Deserialize, serde::Serialize)]
struct Echo {
    message: String,
    count: u32,
}

async fn health() -> &'static str {
    "ok"
}

async fn echo(Json(echo): Json<Echo>) -> Json<Echo> {
    Json(echo)
}

fn router() -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/echo", post(echo))
}

fn request(route: &str) -> Request<Body> {
    let built = match route {
        "GET /health" => Request::get("/health").body(Body::empty()),
        "GET /missing" => Request::get("/missing").body(Body::empty()),
        "POST /echo" => Request::post("/echo")
            .header("content-type", "application/json")
            .body(Body::from(ECHO_BODY)),
        other => panic!("unknown route {other}"),
    };
    built.expect("valid request")
}

/// Lines written by either subscriber: both stacks must log exactly one line per request.
static LINES: AtomicUsize = AtomicUsize::new(0);

/// A sink that counts lines (one `write` per line from both formatters).
struct LineSink;

impl io::Write for LineSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.last() == Some(&b'\n') {
            LINES.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn line_sink() -> LineSink {
    LineSink
}

/// One request through `service`, its body collected: everything is ready on the first poll.
fn call<S>(service: &mut S, route: &str) -> (StatusCode, http::HeaderMap, Bytes)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let response = match service.call(request(route)).now_or_never() {
        Some(Ok(response)) => response,
        Some(Err(never)) => match never {},
        None => panic!("the stack completes on its first poll"),
    };
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .now_or_never()
        .expect("a full body is ready")
        .expect("no body error")
        .to_bytes();
    (parts.status, parts.headers, body)
}

/// The collected function: `n` requests.
#[inline(never)]
fn measured_requests(n: usize, one: &mut dyn FnMut()) {
    for _ in 0..n {
        one();
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        child(&args[at + 1], &args[at + 2]);
        return ExitCode::SUCCESS;
    }
    parent()
}

fn parent() -> ExitCode {
    if let Err(code) = callgrind::require_valgrind("instructions") {
        return code;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!("instructions per request (callgrind Ir, {MEASURED} requests after {WARMUP} warm-up)");
    println!(
        "{:<14} {:>10} {:>12} {:>11} {:>24}",
        "route", "bare", "tower-http", "stanchion", "stanchion / tower-http"
    );
    let mut failed = false;
    for route in ROUTES {
        let mut counts = Vec::new();
        for stack in STACKS {
            let out = dir
                .path()
                .join(format!("{stack}-{}.out", route.replace([' ', '/'], "_")));
            match callgrind::count(&out, MARKER, &["--child", stack, route]) {
                Ok(total) => counts.push(total as f64 / MEASURED as f64),
                Err(output) => {
                    eprintln!("{stack} {route} failed:\n{output}");
                    failed = true;
                    counts.push(f64::NAN);
                }
            }
        }
        println!(
            "{:<14} {:>10.0} {:>12.0} {:>11.0} {:>24.2}",
            route,
            counts[0],
            counts[1],
            counts[2],
            counts[2] / counts[1]
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn child(stack: &str, route: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    match stack {
        "bare" => {
            let mut service = router();
            let (status, _, body) = call(&mut service, route);
            check_plain(route, status, &body);
            run(&mut service, route);
        }
        "tower-http" => {
            let subscriber = tracing_subscriber::registry()
                .with(fmt::layer().json().with_writer(line_sink))
                .with(LevelFilter::INFO);
            let _default = tracing::subscriber::set_default(subscriber);
            let mut service = router().layer(tower_http_peer!(Body));
            let before = LINES.load(Ordering::Relaxed);
            let (status, headers, body) = call(&mut service, route);
            assert_eq!(
                LINES.load(Ordering::Relaxed),
                before + 1,
                "one line per request"
            );
            assert_eq!(headers["x-request-id"].len(), 36);
            check_plain(route, status, &body);
            run(&mut service, route);
        }
        "stanchion" => {
            let subscriber = Telemetry::new("bench").with_filter("info").build(line_sink);
            let _default = tracing::subscriber::set_default(subscriber);
            let metrics = Metrics::for_current_thread();
            let mut service = router().layer(Stack::new());
            let before = LINES.load(Ordering::Relaxed);
            let (status, headers, body) = call(&mut service, route);
            assert_eq!(
                LINES.load(Ordering::Relaxed),
                before + 1,
                "one line per request"
            );
            let id = headers["x-request-id"].to_str().expect("ASCII").to_owned();
            assert_eq!(id.len(), 36);
            if route == "GET /missing" {
                assert_eq!(status, StatusCode::NOT_FOUND);
                let envelope: serde_json::Value =
                    serde_json::from_slice(&body).expect("an envelope");
                assert_eq!(envelope["error"]["code"], "NOT_FOUND");
                assert_eq!(envelope["error"]["requestId"], id.as_str());
            } else {
                check_plain(route, status, &body);
            }
            run(&mut service, route);
            // The handle's render: `Metrics::render` also collects the process metrics, whose
            // procfs reader does not survive valgrind.
            let text = metrics.handle().render();
            let (route_label, status_label) = match route {
                "GET /health" => ("/health", "200"),
                "GET /missing" => ("unmatched", "404"),
                _ => ("/echo", "200"),
            };
            let count = format!(
                "http_route=\"{route_label}\",http_response_status_code=\"{status_label}\""
            );
            let line = text
                .lines()
                .find(|line| {
                    line.starts_with("http_server_request_duration_seconds_count")
                        && line.contains(&count)
                })
                .unwrap_or_else(|| panic!("no duration histogram in\n{text}"));
            let expected = (1 + WARMUP + MEASURED).to_string();
            assert!(line.ends_with(&expected), "{line}");
            if route == "GET /missing" {
                assert!(text.contains(&format!(
                    "stanchion_guard_violations_total{{mode=\"enforced\",status=\"404\"}} {expected}"
                )));
            }
        }
        other => panic!("unknown stack {other}"),
    }
}

fn check_plain(route: &str, status: StatusCode, body: &[u8]) {
    match route {
        "GET /health" => {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, b"ok");
        }
        "GET /missing" => assert_eq!(status, StatusCode::NOT_FOUND),
        _ => {
            assert_eq!(status, StatusCode::OK);
            let echoed: serde_json::Value = serde_json::from_slice(body).expect("JSON");
            let sent: serde_json::Value = serde_json::from_str(ECHO_BODY).expect("JSON");
            assert_eq!(echoed, sent);
        }
    }
}

/// The warm-up, then the measured requests; every one must log one line (when logging).
fn run<S>(service: &mut S, route: &str)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    for _ in 0..WARMUP {
        black_box(call(service, route));
    }
    let before = LINES.load(Ordering::Relaxed);
    measured_requests(MEASURED, &mut || {
        black_box(call(service, route));
    });
    let lines = LINES.load(Ordering::Relaxed) - before;
    assert!(
        lines == 0 || lines == MEASURED,
        "{lines} lines for {MEASURED} requests"
    );
}
