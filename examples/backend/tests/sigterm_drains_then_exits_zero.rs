//! SIGTERM to the real `backend` binary while a request is in flight: the listener closes,
//! the request finishes with its answer, and the process exits 0, having logged JSON start and
//! stop events on stdout (and nothing on stderr). With a drain delay, `/readyz` fails first
//! while new connections are still served, and only then does the listener close.

#![allow(clippy::unwrap_used)]

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use axum::{
    Router,
    routing::{get as get_route, post},
};
use example_agent::ServiceThread;
use serde_json::Value;
use stanchion_test_support::child::{
    assert_draining, assert_only_json_lines, get_once, json_lines, wait_for_exit, wait_for_message,
    wait_for_start, wait_until_refused,
};

const PATIENCE: Duration = Duration::from_secs(30);

/// A fake agent whose chat answer takes `delay`; it says on `arrived` when a chat came in.
fn slow_agent(delay: Duration, arrived: mpsc::Sender<()>) -> ServiceThread {
    let router = Router::new()
        .route("/livez", get_route(|| async { "ok" }))
        .route(
            "/v1/chat",
            post(move || {
                let arrived = arrived.clone();
                async move {
                    let _ = arrived.send(());
                    tokio::time::sleep(delay).await;
                    (
                        [("content-type", "application/json")],
                        r#"{"answer":"finished after the signal","requestId":"x"}"#,
                    )
                }
            }),
        );
    ServiceThread::serve_router("slow-agent", router).unwrap()
}

fn wait_for(lines: &mpsc::Receiver<Value>, seen: &mut Vec<Value>, message: &str) -> Value {
    wait_for_message(lines, seen, message, PATIENCE)
}

#[test]
fn sigterm_during_a_slow_request_lets_it_finish_and_exits_zero() {
    let (arrived_tx, arrived) = mpsc::channel();
    let agent = slow_agent(Duration::from_millis(1500), arrived_tx);
    let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
        .env("BACKEND_ADDR", "127.0.0.1:0")
        .env("AGENT_URL", agent.base_url())
        .env("AGENT_TIMEOUT_MS", "20000")
        .env("BACKEND_SHUTDOWN_DELAY_MS", "0")
        .env("RUST_LOG", "info")
        .env_remove("APP_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = json_lines(child.stdout.take().unwrap());
    let mut seen = Vec::new();

    // The start event names the address (the port was chosen by the OS) and the limits.
    let (started, addr) = wait_for_start(&lines, &mut seen, PATIENCE);
    assert_eq!(started["service"], "backend");
    assert_eq!(started["target"], "stanchion::server");
    assert_eq!(started["maxHeaders"], 100);

    // A chat request the agent will take 1.5 s to answer.
    let token = example_backend::mint_token(
        example_backend::DEVELOPMENT_JWT_SECRET.as_bytes(),
        "ana",
        600,
    )
    .unwrap();
    let in_flight = std::thread::spawn(move || {
        let body = r#"{"prompt":"How should I train for a 10k run?"}"#;
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        write!(
            stream,
            "POST /api/v1/chat HTTP/1.1\r\nHost: backend\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    });
    arrived
        .recv_timeout(PATIENCE)
        .expect("the chat reached the agent");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let signal = wait_for(&lines, &mut seen, "shutdown signal received");
    assert_eq!(signal["signal"], "SIGTERM");
    wait_for(&lines, &mut seen, "shutdown started");
    // The listener closes at once (a shutdown delay of 0): new connections are refused
    // while the request is still in flight.
    wait_until_refused(addr, Duration::from_secs(5));

    let reply = in_flight.join().unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 "), "{reply}");
    assert!(reply.contains("finished after the signal"), "{reply}");

    let status = wait_for_exit(&mut child, PATIENCE);
    assert_eq!(status.code(), Some(0), "{status:?}");

    let stopped = wait_for(&lines, &mut seen, "server stopped");
    assert_eq!(stopped["service"], "backend");
    assert_eq!(stopped["outcome"], "drained");
    assert_eq!(stopped["connectionsAborted"], 0);
    assert!(
        stopped["requestsServed"].as_u64().unwrap() >= 1,
        "{stopped}"
    );
    // Everything the process wrote is JSON lines on stdout; nothing is on stderr.
    assert_only_json_lines(&mut child, &lines, &mut seen);
    agent.shutdown().unwrap();
}

/// `GET path` on a new connection (`Connection: close`): the status and the body, or `None`
/// when the connection is refused.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    get_once(addr, "backend", path, PATIENCE)
}

#[test]
fn after_sigterm_readiness_fails_while_new_connections_are_served_for_the_drain_delay() {
    // Generous, so the requests below land inside it on a loaded machine; the test asserts
    // the order of what it sees, never how long anything took.
    const DELAY_MS: u64 = 8000;
    let agent = ServiceThread::serve_router(
        "live-agent",
        Router::new().route("/livez", get_route(|| async { "ok" })),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
        .env("BACKEND_ADDR", "127.0.0.1:0")
        .env("AGENT_URL", agent.base_url())
        .env("BACKEND_SHUTDOWN_DELAY_MS", DELAY_MS.to_string())
        .env("RUST_LOG", "info")
        .env_remove("APP_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = json_lines(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let (started, addr) = wait_for_start(&lines, &mut seen, PATIENCE);
    assert_eq!(started["shutdownDelayMs"], DELAY_MS, "{started}");

    // Ready before the signal, so the 503 below is the signal's doing.
    let (status, body) = get(addr, "/readyz").expect("serving");
    assert_eq!(status, 200, "{body}");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let shutdown = wait_for(&lines, &mut seen, "shutdown started");
    assert_eq!(shutdown["shutdownDelayMs"], DELAY_MS, "{shutdown}");

    // Inside the delay: a new connection is still accepted and served; readiness fails on
    // the `shutdown` check while liveness passes, so a load balancer stops routing here first.
    assert_draining(addr, "backend", PATIENCE);

    // Then the listener closes and the process exits 0.
    wait_until_refused(addr, Duration::from_millis(DELAY_MS) + PATIENCE);
    let status = wait_for_exit(&mut child, PATIENCE);
    assert_eq!(status.code(), Some(0), "{status:?}");
    let stopped = wait_for(&lines, &mut seen, "server stopped");
    assert_eq!(stopped["outcome"], "drained", "{stopped}");
    agent.shutdown().unwrap();
}
