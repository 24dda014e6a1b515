//! `stanchion rollout readiness`: the real binary against the backend's real configuration
//! files (copied to a temporary directory) and, with `--url`, the real backend serving on
//! loopback, or a port where nothing answers.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

/// A service directory: the backend's shipped registry and files, and a rollout file naming
/// them, with `checks` as its command checks.
struct Service {
    dir: tempfile::TempDir,
}

impl Service {
    fn new(checks: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/backend/config");
        fs::create_dir(dir.path().join("config")).unwrap();
        for file in ["tools.toml", ".env", ".env.development"] {
            fs::copy(shipped.join(file), dir.path().join("config").join(file)).unwrap();
        }
        let shipped_rollout = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/backend/ops/rollout.toml"),
        )
        .unwrap();
        // The shipped flags, this test's service paths and checks.
        let flags = &shipped_rollout[shipped_rollout.find("[[flags]]").unwrap()..];
        fs::write(
            dir.path().join("rollout.toml"),
            format!(
                "[service]\nregistry = \"config/tools.toml\"\ndir = \"config\"\n\n{checks}\n{flags}"
            ),
        )
        .unwrap();
        Self { dir }
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_stanchion"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .current_dir(self.dir.path())
            .args([
                "rollout",
                "readiness",
                "--rollout",
                "rollout.toml",
                "--out",
                "evidence",
            ])
            .args(args)
            .output()
            .unwrap()
    }

    /// The JSON twin and the Markdown report of `date`.
    fn report(&self, date: &str) -> (Value, String) {
        let base = self
            .dir
            .path()
            .join("evidence")
            .join(format!("production-hardening-rollout-readiness-{date}"));
        let json = fs::read_to_string(base.with_extension("json")).unwrap();
        let markdown = fs::read_to_string(base.with_extension("md")).unwrap();
        (serde_json::from_str(&json).unwrap(), markdown)
    }
}

fn item<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("no item {name} in {report:#}"))
}

/// The `live modes` item of `flag`.
fn live<'a>(report: &'a Value, flag: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["section"] == "live modes" && item["name"] == flag)
        .unwrap_or_else(|| panic!("no live mode of {flag} in {report:#}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_ready_snapshot_names_each_flag_set_or_defaulted_and_each_secret_without_its_value() {
    let service = Service::new("");
    fs::write(
        service.config_dir().join(".env.local"),
        "AUTH_MODE=shadow\n",
    )
    .unwrap();
    let out = service.run(&["--env", "development", "--date", "2026-11-30"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let (report, markdown) = service.report("2026-11-30");
    assert_eq!(report["ready"], true);
    assert_eq!(report["env"], "development");
    assert_eq!(item(&report, "config-check")["status"], "pass");
    assert_eq!(item(&report, "rollout-file")["status"], "pass");
    let auth = item(&report, "AUTH_MODE");
    assert!(
        auth["detail"]
            .as_str()
            .unwrap()
            .starts_with("shadow (set in ")
            && auth["detail"]
                .as_str()
                .unwrap()
                .ends_with(".env.local line 1)"),
        "{auth}"
    );
    let guard = item(&report, "GUARD_MODE");
    assert_eq!(
        guard["detail"],
        "enforced (defaulted: not set in any source)"
    );
    assert_eq!(guard["status"], "warn");
    let secret = item(&report, "AUTH_JWT_SECRET (auth)");
    assert_eq!(secret["detail"], "present, from dotenv");
    for written in [markdown.as_str(), &report.to_string(), &text(&out.stdout)] {
        assert!(
            !written.contains("dev-only-jwt-secret"),
            "a secret value leaked"
        );
    }
    assert!(markdown.contains("Verdict: **ready**"), "{markdown}");
    assert!(
        markdown.contains("| AUTH_MODE | info | no | shadow (set in "),
        "{markdown}"
    );
}

#[test]
fn production_without_its_secret_a_down_service_and_a_failing_check_block() {
    let service = Service::new(
        "[[checks]]\nname = \"green\"\ncommand = \"true\"\n\n[[checks]]\nname = \"red\"\ncommand = \"exit 3\"\n",
    );
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = service.run(&[
        "--env",
        "production",
        "--url",
        &url,
        "--checks",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["ready"], false);
    assert_eq!(item(&printed, "config-check")["status"], "fail");
    let secret = item(&printed, "AUTH_JWT_SECRET (auth)");
    assert_eq!(secret["status"], "fail");
    assert_eq!(secret["blocking"], true);
    let reachable = item(&printed, "reachable");
    assert_eq!(reachable["status"], "fail");
    assert!(
        reachable["detail"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{reachable}"
    );
    assert_eq!(item(&printed, "green")["status"], "pass");
    assert_eq!(item(&printed, "red")["status"], "fail");
}

#[test]
fn a_running_backend_reports_its_live_modes_and_counters_and_a_stale_mode_blocks() {
    let service = Service::new("");
    fs::write(
        service.config_dir().join(".env.local"),
        "AUTH_MODE=shadow\n",
    )
    .unwrap();
    let config = example_backend::BackendConfig::from_vars([
        ("BACKEND_ADDR", "127.0.0.1:0"),
        ("BACKEND_CONFIG_DIR", service.config_dir().to_str().unwrap()),
        ("CHAT_DISABLED", "true"),
        ("BACKEND_SHUTDOWN_DELAY_MS", "0"),
    ])
    .unwrap();
    let backend = example_backend::spawn_on_thread(config, std::io::sink).unwrap();
    let url = backend.base_url();
    let out = service.run(&[
        "--env",
        "development",
        "--url",
        &url,
        "--date",
        "2026-11-30",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let (report, _) = service.report("2026-11-30");
    assert_eq!(item(&report, "readyz")["status"], "pass");
    assert_eq!(live(&report, "AUTH_MODE")["detail"], "live shadow");
    assert_eq!(item(&report, "refresh")["status"], "pass");

    // The files say enforced, the running service (not refreshed) still runs shadow.
    fs::write(
        service.config_dir().join(".env.local"),
        "AUTH_MODE=enforced\n",
    )
    .unwrap();
    let out = service.run(&[
        "--env",
        "development",
        "--url",
        &url,
        "--date",
        "2026-11-30",
    ]);
    // The backend's watcher may already have refreshed; then the modes agree again.
    let (report, _) = service.report("2026-11-30");
    match live(&report, "AUTH_MODE")["detail"].as_str().unwrap() {
        "live enforced" => assert_eq!(out.status.code(), Some(0)),
        detail => {
            assert!(
                detail.contains("but the configuration says enforced"),
                "{detail}"
            );
            assert_eq!(out.status.code(), Some(1));
        }
    }
    backend.shutdown().unwrap();
}

#[test]
fn a_future_date_a_missing_rollout_file_and_a_disagreeing_registry_are_refused() {
    let service = Service::new("");
    let out = service.run(&["--date", "2999-01-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("in the future"),
        "{}",
        text(&out.stderr)
    );

    let out = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .current_dir(service.dir.path())
        .args([
            "rollout",
            "readiness",
            "--rollout",
            "nope.toml",
            "--out",
            "evidence",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nope.toml"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !service.dir.path().join("evidence").exists(),
        "nothing written"
    );

    // The rollout file says AUTH_MODE defaults to shadow; the registry says enforced.
    let path = service.dir.path().join("rollout.toml");
    let rollout = fs::read_to_string(&path).unwrap().replacen(
        "default = \"enforced\"",
        "default = \"shadow\"",
        1,
    );
    fs::write(&path, rollout).unwrap();
    let out = service.run(&["--env", "development", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let agreement = item(&printed, "rollout-file");
    assert_eq!(agreement["status"], "fail");
    assert!(
        agreement["detail"]
            .as_str()
            .unwrap()
            .contains("defaults to shadow here but to enforced in the registry"),
        "{agreement}"
    );
}
