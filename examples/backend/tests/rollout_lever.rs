//! The rollback lever on the real `backend` binary: `AUTH_MODE` flipped shadow → enforced →
//! shadow by editing `.env.local` in its configuration directory (SIGHUP for the first switch,
//! the file watcher alone for the second), with the behaviour over HTTP, the counters on
//! `/metrics` and the JSON events following each switch, each within 2 seconds. A wrong mode
//! word then fails the refresh and the last good mode stays.

#![allow(clippy::unwrap_used)]

use std::{
    fs,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(30);
/// How soon a switch must take effect after the file changed (the promise).
const SWITCH_WITHIN: Duration = Duration::from_secs(2);

struct Backend {
    child: Child,
    addr: SocketAddr,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Backend {
    fn start(config_dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
            .env("BACKEND_ADDR", "127.0.0.1:0")
            .env("BACKEND_CONFIG_DIR", config_dir)
            .env("CHAT_DISABLED", "true")
            .env("RUST_LOG", "info")
            .env_remove("APP_ENV")
            .env_remove("AUTH_MODE")
            .env_remove("GUARD_MODE")
            .env_remove("SECRETS_VAULT_MODE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = stanchion_test_support::child::json_lines(child.stdout.take().unwrap());
        let mut backend = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
            seen: Vec::new(),
        };
        let (_, addr) = stanchion_test_support::child::wait_for_start(
            &backend.lines,
            &mut backend.seen,
            PATIENCE,
        );
        backend.addr = addr;
        backend
    }

    /// The first line (seen or still to come) matching `wanted`, within [`PATIENCE`].
    fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        stanchion_test_support::child::wait_for_line(
            &self.lines,
            &mut self.seen,
            "such",
            PATIENCE,
            wanted,
        )
    }

    fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// `GET path` with an optional bearer token: the status and body.
    fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: backend\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let status = reply[9..12].parse().unwrap();
        let body = reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// The value of the exposition line for `series` (name and labels exactly as rendered),
    /// or 0 when the series is absent.
    fn metric(&self, series: &str) -> f64 {
        let (status, body) = self.get("/metrics", None);
        assert_eq!(status, 200);
        body.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    /// Polls `/metrics` until `series` reads `value`; how long that took.
    fn until_metric(&self, series: &str, value: f64) -> Duration {
        let started = Instant::now();
        while self.metric(series) != value {
            assert!(
                started.elapsed() < PATIENCE,
                "{series} never became {value}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        started.elapsed()
    }
}

fn mode_series(mode: &str) -> String {
    format!("stanchion_rollout_mode{{flag=\"AUTH_MODE\",mode=\"{mode}\"}}")
}

fn decisions(outcome: &str) -> String {
    format!("stanchion_rollout_decisions_total{{flag=\"AUTH_MODE\",outcome=\"{outcome}\"}}")
}

fn switches(from: &str, to: &str) -> String {
    format!("stanchion_rollout_switches_total{{flag=\"AUTH_MODE\",from=\"{from}\",to=\"{to}\"}}")
}

/// Replaces `.env.local` in one step (write a temporary file, rename), as an operator's
/// editor or a ConfigMap update does, so no refresh reads half a file.
fn set_local(dir: &Path, text: &str) {
    let temporary = dir.join(".env.local.tmp");
    fs::write(&temporary, text).unwrap();
    fs::rename(&temporary, dir.join(".env.local")).unwrap();
}

#[test]
fn auth_mode_flips_shadow_enforced_shadow_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    for file in ["tools.toml", ".env", ".env.development"] {
        fs::copy(shipped.join(file), dir.path().join(file)).unwrap();
    }
    set_local(dir.path(), "AUTH_MODE=shadow\n");
    let mut backend = Backend::start(dir.path());
    let pid = backend.child.id();
    let plan = "/api/v1/training-plans/active";

    // Shadow: no token, served as before (as `anonymous`), counted and logged as would_deny.
    assert_eq!(backend.metric(&mode_series("shadow")), 1.0);
    let (status, body) = backend.get(plan, None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"userId\":\"anonymous\""), "{body}");
    assert_eq!(backend.metric(&decisions("would_deny")), 1.0);
    let would_deny = backend.wait_for(|line| line["outcome"] == "would_deny");
    assert_eq!(would_deny["flag"], "AUTH_MODE");
    assert_eq!(would_deny["reason"], "AUTH_REQUIRED");
    assert_eq!(would_deny["level"], "WARN");
    assert!(would_deny["requestId"].is_string(), "{would_deny}");
    let token = example_backend::mint_token(
        example_backend::DEVELOPMENT_JWT_SECRET.as_bytes(),
        "ana",
        600,
    )
    .unwrap();
    let (status, body) = backend.get(plan, Some(&token));
    assert_eq!(status, 200);
    assert!(body.contains("\"userId\":\"ana\""), "{body}");
    assert_eq!(backend.metric(&decisions("would_allow")), 1.0);

    // The lever, with SIGHUP: enforced.
    set_local(dir.path(), "AUTH_MODE=enforced\n");
    backend.hangup();
    let took = backend.until_metric(&mode_series("enforced"), 1.0);
    assert!(took < SWITCH_WITHIN, "the switch took {took:?}");
    let switched = backend
        .wait_for(|line| line["message"] == "rollout mode switched" && line["to"] == "enforced");
    assert_eq!(switched["flag"], "AUTH_MODE");
    assert_eq!(switched["from"], "shadow");
    assert_eq!(switched["level"], "WARN");
    let refresh_id = switched["refresh_id"].as_str().unwrap().to_owned();
    backend.wait_for(|line| {
        line["message"] == "configuration refreshed" && line["refresh_id"] == refresh_id.as_str()
    });
    let (status, body) = backend.get(plan, None);
    assert_eq!(status, 401);
    assert!(body.contains("\"code\":\"AUTH_REQUIRED\""), "{body}");
    assert_eq!(backend.metric(&decisions("deny")), 1.0);
    assert_eq!(backend.metric(&switches("shadow", "enforced")), 1.0);
    assert_eq!(backend.metric(&mode_series("shadow")), 0.0);

    // Rolled back by the file alone (the watcher): shadow again.
    set_local(dir.path(), "# rolled back, INC-42\nAUTH_MODE=shadow\n");
    let took = backend.until_metric(&mode_series("shadow"), 1.0);
    assert!(took < SWITCH_WITHIN, "the rollback took {took:?}");
    backend.wait_for(|line| line["message"] == "rollout mode switched" && line["to"] == "shadow");
    let (status, _) = backend.get(plan, None);
    assert_eq!(status, 200);
    assert_eq!(backend.metric(&decisions("would_deny")), 2.0);
    assert_eq!(backend.metric(&switches("enforced", "shadow")), 1.0);

    // A wrong word: the refresh fails, is logged and counted, and shadow stays.
    set_local(dir.path(), "AUTH_MODE=enforce\n");
    backend.hangup();
    let failed = backend.wait_for(|line| {
        line["message"] == "configuration refresh failed; keeping the last good snapshot"
    });
    assert_eq!(failed["level"], "ERROR");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("`enforce` is not a rollout mode; use off, shadow or enforced"),
        "{error}"
    );
    assert!(error.contains(".env.local line 1"), "{error}");
    assert!(backend.metric("stanchion_config_refresh_failures_total") >= 1.0);
    assert_eq!(backend.metric(&mode_series("shadow")), 1.0);
    let (status, _) = backend.get(plan, None);
    assert_eq!(status, 200, "the last good mode (shadow) still serves");
    assert_eq!(backend.child.id(), pid, "never restarted");
    assert!(backend.child.try_wait().unwrap().is_none(), "still running");
}

#[test]
fn a_wrong_mode_word_stops_the_start_naming_the_accepted_words() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    for file in ["tools.toml", ".env", ".env.development"] {
        fs::copy(shipped.join(file), dir.path().join(file)).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_backend"))
        .env("BACKEND_ADDR", "127.0.0.1:0")
        .env("BACKEND_CONFIG_DIR", dir.path())
        .env("GUARD_MODE", "audit")
        .env_remove("APP_ENV")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("GUARD_MODE: `audit` is not a rollout mode; use off, shadow or enforced"),
        "{stderr}"
    );
}
