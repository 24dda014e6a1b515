//! `stanchion config freeze` and the drift check of `stanchion smoke record --freeze`: the
//! real binary on real registry, dotenv and ledger files in a temporary directory.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::{
    fs,
    path::Path,
    process::{Command, Output},
};

const REGISTRY: &str = r#"
[[tools]]
slug = "search"
required = ["SEARCH_URL", "SEARCH_TOKEN"]
secrets = ["SEARCH_TOKEN"]
"#;

const ROLLOUT: &str = r#"
[[checks]]
name = "green"
command = "true"
"#;

const SECRET: &str = "zqx-freeze-canary-secret-4e7d19b2";
const KEY: &str = "a-test-key-of-sufficient-length";

fn setup(dir: &Path) {
    fs::create_dir(dir.join("config")).unwrap();
    fs::write(dir.join("config/tools.toml"), REGISTRY).unwrap();
    fs::write(
        dir.join("config/.env"),
        format!("SEARCH_URL=https://search.example/zqx-plain-value\nSEARCH_TOKEN={SECRET}\n"),
    )
    .unwrap();
    fs::write(dir.join("rollout.toml"), ROLLOUT).unwrap();
}

fn stanchion(dir: &Path, key: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stanchion"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .current_dir(dir)
        .args(args);
    if let Some(key) = key {
        command.env("STANCHION_FREEZE_KEY", key);
    }
    command.output().unwrap()
}

fn freeze(dir: &Path, key: Option<&str>) -> Output {
    stanchion(
        dir,
        key,
        &[
            "config",
            "freeze",
            "--registry",
            "config/tools.toml",
            "--dir",
            "config",
            "--env",
            "production",
            "--out",
            "freeze.txt",
        ],
    )
}

fn record(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "smoke",
        "record",
        "--checks",
        "--rollout",
        "rollout.toml",
        "--ledger",
        "ledger",
        "--date",
        "2026-11-20",
        "--freeze",
        "freeze.txt",
    ];
    args.extend_from_slice(extra);
    stanchion(dir, Some(KEY), &args)
}

fn last_row(dir: &Path) -> String {
    let text = fs::read_to_string(dir.join("ledger/production-hardening-smoke-window-2026-11.md"))
        .unwrap();
    text.lines().last().unwrap().to_owned()
}

#[test]
fn a_freeze_holds_states_and_fingerprints_but_no_value() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = freeze(dir.path(), Some(KEY));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(dir.path().join("freeze.txt")).unwrap();
    assert!(text.contains("\ntool search enabled\n"), "{text}");
    assert!(text.contains("\nenv production\n"), "{text}");
    assert!(
        text.contains("\nsource registry config/tools.toml\n"),
        "{text}"
    );
    let token = text
        .lines()
        .find(|l| l.starts_with("var SEARCH_TOKEN "))
        .unwrap();
    assert_eq!(token.len(), "var SEARCH_TOKEN ".len() + 16, "{token}");
    assert!(
        !text.contains(SECRET) && !text.contains("zqx-plain-value"),
        "{text}"
    );

    // Another key gives other fingerprints: they are keyed, not plain hashes.
    let out = freeze(dir.path(), Some("another-key-of-sufficient-length"));
    assert_eq!(out.status.code(), Some(0));
    let other = fs::read_to_string(dir.path().join("freeze.txt")).unwrap();
    assert!(!other.contains(token), "{other}");
}

#[test]
fn a_strict_record_fails_on_drift_unless_it_carries_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    assert_eq!(freeze(dir.path(), Some(KEY)).status.code(), Some(0));

    let out = record(dir.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(last_row(dir.path()).contains("config-freeze:pass, green:pass | strict | pass |"));

    // The secret rotates outside the window's rules: drift.
    fs::write(
        dir.path().join("config/.env"),
        "SEARCH_URL=https://search.example/zqx-plain-value\nSEARCH_TOKEN=zqx-rotated-value-0000\n",
    )
    .unwrap();
    let out = record(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SEARCH_TOKEN") && !stderr.contains("zqx-rotated"),
        "{stderr}"
    );
    assert!(last_row(dir.path()).contains("config-freeze:fail, green:pass | strict | fail |"));

    let out = record(dir.path(), &["--incident", "INC-31"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = last_row(dir.path());
    assert!(row.contains("config-freeze:drift-under-incident"), "{row}");
    assert!(row.contains("| pass | INC-31 |"), "{row}");
}

#[test]
fn no_key_or_a_malformed_freeze_file_is_unusable_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = freeze(dir.path(), None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("STANCHION_FREEZE_KEY"));
    assert!(!dir.path().join("freeze.txt").exists());

    assert_eq!(freeze(dir.path(), Some(KEY)).status.code(), Some(0));
    let path = dir.path().join("freeze.txt");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, format!("{text}SEARCH_TOKEN=oops\n")).unwrap();
    let out = record(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("freeze.txt:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dir.path()
            .join("ledger")
            .join("production-hardening-smoke-window-2026-11.md")
            .exists()
    );
}
