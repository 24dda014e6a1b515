//! SIGTERM or SIGINT to the real `agent` binary with a drain delay: `/readyz` fails first
//! while new connections are still served, then the listener closes and the process exits 0,
//! having written only JSON lines.

#![allow(clippy::unwrap_used)]

use std::{
    net::SocketAddr,
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::Value;
use stanchion_test_support::child::{
    assert_draining, assert_only_json_lines, get_once, json_lines, wait_for_exit, wait_for_message,
    wait_for_start, wait_until_refused,
};

const PATIENCE: Duration = Duration::from_secs(30);

fn wait_for(lines: &mpsc::Receiver<Value>, seen: &mut Vec<Value>, message: &str) -> Value {
    wait_for_message(lines, seen, message, PATIENCE)
}

/// `GET path` on a new connection (`Connection: close`): the status and the body, or `None`
/// when the connection is refused.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    get_once(addr, "agent", path, PATIENCE)
}

#[test]
fn after_sigterm_or_sigint_readiness_fails_while_new_connections_are_served_for_the_delay() {
    // Generous, so the requests below land inside it on a loaded machine; the test asserts
    // the order of what it sees, never how long anything took.
    const DELAY_MS: u64 = 6000;
    for (flag, name) in [("-TERM", "SIGTERM"), ("-INT", "SIGINT")] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_agent"))
            .env("AGENT_ADDR", "127.0.0.1:0")
            .env("AGENT_SHUTDOWN_DELAY_MS", DELAY_MS.to_string())
            .env("RUST_LOG", "info")
            .env_remove("APP_ENV")
            .env_remove("AGENT_CONFIG_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = json_lines(child.stdout.take().unwrap());
        let mut seen = Vec::new();
        let (started, addr) = wait_for_start(&lines, &mut seen, PATIENCE);
        assert_eq!(started["service"], "agent");
        assert_eq!(started["shutdownDelayMs"], DELAY_MS, "{started}");

        // Ready before the signal, so the 503 below is the signal's doing.
        let (status, body) = get(addr, "/readyz").expect("serving");
        assert_eq!(status, 200, "{name}: {body}");

        let kill = Command::new("kill")
            .args([flag, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let signal = wait_for(&lines, &mut seen, "shutdown signal received");
        assert_eq!(signal["signal"], name);
        wait_for(&lines, &mut seen, "shutdown started");

        // Inside the delay: a new connection is accepted; readiness fails on `shutdown`,
        // liveness passes.
        assert_draining(addr, "agent", PATIENCE);

        // Then the listener closes and the process exits 0.
        wait_until_refused(addr, Duration::from_millis(DELAY_MS) + PATIENCE);
        let status = wait_for_exit(&mut child, PATIENCE);
        assert_eq!(status.code(), Some(0), "{name}: {status:?}");
        let stopped = wait_for(&lines, &mut seen, "server stopped");
        assert_eq!(stopped["outcome"], "drained", "{stopped}");

        // Everything it wrote is JSON lines on stdout; nothing is on stderr.
        assert_only_json_lines(&mut child, &lines, &mut seen);
    }
}
