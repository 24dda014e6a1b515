//! `stanchion smoke record` and `stanchion smoke streak`: the real binary on real ledger
//! files in temporary directories, concurrent records as concurrent processes.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

const ROLLOUT: &str = r#"
[[checks]]
name = "always-green"
command = "true"

[[flags]]
name = "AUTH_MODE"
default = "enforced"
accepted = ["off", "shadow", "enforced"]
description = "Bearer authentication."

[[flags]]
name = "GUARD_MODE"
default = "shadow"
accepted = ["off", "shadow", "enforced"]
description = "The envelope guard."
"#;

struct Ledger {
    dir: tempfile::TempDir,
}

impl Ledger {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("rollout.toml"), ROLLOUT).unwrap();
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("ledger")
    }

    fn command(&self, env: &[(&str, &str)], args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stanchion"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .envs(env.iter().copied())
            .current_dir(self.dir.path())
            .args(args);
        if args[1] == "record" {
            command.args(["--rollout", "rollout.toml"]);
        }
        command.args(["--ledger", "ledger"]);
        command
    }

    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.command(env, args).output().unwrap()
    }

    fn month(&self, year_month: &str) -> PathBuf {
        self.path()
            .join(format!("production-hardening-smoke-window-{year_month}.md"))
    }

    fn rows(&self, year_month: &str) -> Vec<String> {
        fs::read_to_string(self.month(year_month))
            .unwrap()
            .lines()
            .filter(|line| line.starts_with("| 2"))
            .map(str::to_owned)
            .collect()
    }

    /// A strict record for `date` whose extra check passes or fails.
    fn strict(&self, date: &str, pass: bool) -> Output {
        let check = if pass { "true" } else { "false" };
        self.run(
            &[],
            &[
                "smoke", "record", "--checks", "--check", check, "--date", date,
            ],
        )
    }
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_record_appends_one_row_and_never_rewrites_the_earlier_ones() {
    let ledger = Ledger::new();
    let first = ledger.run(
        &[("AUTH_MODE", "shadow")],
        &[
            "smoke",
            "record",
            "--date",
            "2026-11-02",
            "--note",
            "first | of the day",
        ],
    );
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    let before = fs::read(ledger.month("2026-11")).unwrap();
    let rows = ledger.rows("2026-11");
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].contains("AUTH_MODE=shadow GUARD_MODE=shadow(default)"),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains("| manual | pass |"), "{}", rows[0]);
    assert!(rows[0].contains("first \\| of the day"), "{}", rows[0]);
    // A manual entry is no evidence: no textfile yet.
    assert!(
        !ledger
            .path()
            .join("production_hardening_smoke.prom")
            .exists()
    );

    let second = ledger.strict("2026-11-02", false);
    assert_eq!(code(&second), 1, "a failing strict record exits 1");
    let third = ledger.run(
        &[],
        &[
            "smoke",
            "record",
            "--checks",
            "--date",
            "2026-11-02",
            "--incident",
            "INC-7",
        ],
    );
    assert_eq!(code(&third), 0, "{}", text(&third.stderr));
    let after = fs::read(ledger.month("2026-11")).unwrap();
    assert!(after.starts_with(&before), "earlier bytes changed");
    let rows = ledger.rows("2026-11");
    assert_eq!(rows.len(), 3);
    assert!(
        rows[1].contains("| always-green:pass, false:fail | strict | fail |"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains("| always-green:pass | strict | pass | INC-7 |"),
        "{}",
        rows[2]
    );

    let prom = fs::read_to_string(ledger.path().join("production_hardening_smoke.prom")).unwrap();
    // The name SmokeEvidenceStale (stanchion-slo) watches: a rename on either side fails here.
    let gauge = stanchion_slo::SMOKE_GAUGE;
    assert!(prom.contains(&format!("# TYPE {gauge} gauge")));
    assert!(prom.contains(&format!("# HELP {gauge} ")));
    let seconds: i64 = prom
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{gauge} ")))
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((now as i64 - seconds).abs() < 120, "{seconds} vs {now}");
}

#[test]
fn concurrent_records_all_land_in_a_month_file_created_once() {
    let ledger = Ledger::new();
    // Eight processes race for the first record of a month: the file is created once, whole,
    // and every row lands on a line of its own.
    let children: Vec<_> = (0..8)
        .map(|n| {
            let note = format!("writer-{n}");
            ledger
                .command(
                    &[],
                    &[
                        "smoke",
                        "record",
                        "--checks",
                        "--date",
                        "2026-10-15",
                        "--note",
                        &note,
                    ],
                )
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert_eq!(child.wait_with_output().unwrap().status.code(), Some(0));
    }
    let text = fs::read_to_string(ledger.month("2026-10")).unwrap();
    assert_eq!(
        text.matches("# Production hardening smoke window").count(),
        1,
        "{text}"
    );
    let rows = ledger.rows("2026-10");
    assert_eq!(rows.len(), 8, "{text}");
    for n in 0..8 {
        assert!(
            rows.iter()
                .any(|row| row.ends_with(&format!("| writer-{n} |"))),
            "{text}"
        );
    }
    let leftovers: Vec<_> = fs::read_dir(ledger.path())
        .unwrap()
        .map(|item| item.unwrap().file_name())
        .filter(|name| name.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // And the file the race produced is a ledger the streak reads.
    let streak = ledger.run(&[], &["smoke", "streak"]);
    assert_eq!(code(&streak), 1, "{}", self::text(&streak.stderr));
}

fn streak_json(ledger: &Ledger, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["smoke", "streak", "--format", "json"];
    args.extend_from_slice(extra);
    let out = ledger.run(&[], &args);
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{} {}", text(&out.stdout), text(&out.stderr)));
    (code(&out), value)
}

#[test]
fn seven_strict_days_across_two_month_files_meet_the_exit_criterion() {
    let ledger = Ledger::new();
    for date in [
        "2026-10-28",
        "2026-10-29",
        "2026-10-30",
        "2026-10-31",
        "2026-11-01",
        "2026-11-02",
    ] {
        assert_eq!(code(&ledger.strict(date, true)), 0);
    }
    let (exit, value) = streak_json(&ledger, &[]);
    assert_eq!(
        (exit, &value["streak_days"]),
        (1, &serde_json::json!(6)),
        "{value}"
    );
    assert_eq!(value["met"], false);
    assert_eq!(
        ledger
            .run(&[], &["smoke", "record", "--date", "2026-11-03"])
            .status
            .code(),
        Some(0)
    );
    let (_, value) = streak_json(&ledger, &[]);
    assert_eq!(
        value["streak_days"], 0,
        "a manual entry is not a strict pass: {value}"
    );

    assert_eq!(code(&ledger.strict("2026-11-03", true)), 0);
    let (exit, value) = streak_json(&ledger, &[]);
    assert_eq!(exit, 0, "{value}");
    assert_eq!(value["streak_days"], 7);
    assert_eq!(value["first_day"], "2026-10-28");
    assert_eq!(value["as_of"], "2026-11-03");
    assert_eq!(value["met"], true);
    let out = ledger.run(&[], &["smoke", "streak"]);
    assert!(
        text(&out.stdout).contains("exit criterion: 7 days, met"),
        "{}",
        text(&out.stdout)
    );

    // --as-of counts back from an earlier day.
    let (exit, value) = streak_json(&ledger, &["--as-of", "2026-10-31"]);
    assert_eq!((exit, value["streak_days"].as_u64()), (1, Some(4)));
}

#[test]
fn a_failing_strict_entry_resets_the_streak_and_a_missing_day_breaks_it() {
    let ledger = Ledger::new();
    for date in ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-05"] {
        assert_eq!(code(&ledger.strict(date, true)), 0);
    }
    let (_, value) = streak_json(&ledger, &[]);
    assert_eq!(value["streak_days"], 1, "{value}");
    assert_eq!(value["ended_by"]["date"], "2026-09-04");
    assert_eq!(value["ended_by"]["reason"], "no strict entry recorded");

    // A failure on a day that also has a pass resets it.
    assert_eq!(code(&ledger.strict("2026-09-03", false)), 1);
    let (_, value) = streak_json(&ledger, &["--as-of", "2026-09-03"]);
    assert_eq!(value["streak_days"], 0, "{value}");
    assert_eq!(value["ended_by"]["reason"], "a strict entry failed");
    assert_eq!(value["last_strict_pass"], "2026-09-03");
}

#[test]
fn a_hand_edited_ledger_is_refused_with_its_line_and_left_as_it_is() {
    let ledger = Ledger::new();
    assert_eq!(code(&ledger.strict("2026-08-10", true)), 0);
    assert_eq!(code(&ledger.strict("2026-08-11", true)), 0);
    let path = ledger.month("2026-08");
    let edited =
        fs::read_to_string(&path)
            .unwrap()
            .replacen("| strict | pass |", "| strict | passed |", 1);
    fs::write(&path, &edited).unwrap();

    let out = ledger.run(&[], &["smoke", "streak"]);
    assert_eq!(code(&out), 2);
    let error = text(&out.stderr);
    assert!(
        error.contains("production-hardening-smoke-window-2026-08.md:7:")
            && error.contains("passed"),
        "{error}"
    );
    let out = ledger.strict("2026-08-12", true);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        edited,
        "the file was rewritten"
    );

    // A torn header is refused too.
    fs::write(&path, "# Production hardening smoke window 2026-08\n").unwrap();
    assert_eq!(code(&ledger.run(&[], &["smoke", "streak"])), 2);
}

#[test]
fn a_future_date_a_wrong_mode_word_and_a_missing_rollout_file_are_unusable() {
    let ledger = Ledger::new();
    let out = ledger.run(&[], &["smoke", "record", "--date", "2999-01-01"]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("in the future"),
        "{}",
        text(&out.stderr)
    );
    let out = ledger.run(&[], &["smoke", "record", "--date", "2026-02-30"]);
    assert_eq!(code(&out), 2);
    let out = ledger.run(&[("AUTH_MODE", "enforce")], &["smoke", "record"]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("off, shadow, enforced"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !ledger.path().exists(),
        "an unusable record wrote something"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .current_dir(ledger.dir.path())
        .args([
            "smoke",
            "record",
            "--rollout",
            "missing.toml",
            "--ledger",
            "ledger",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("missing.toml"));

    assert_eq!(code(&ledger.strict("2026-07-01", true)), 0);
    let out = ledger.run(&[], &["smoke", "streak", "--as-of", "2999-01-01"]);
    assert_eq!(code(&out), 2);
    let out = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["smoke", "streak", "--ledger"])
        .arg(Path::new("/nonexistent/ledger"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
}

/// The rollout files the schedulers use (deploy/systemd runs the backend's from a checkout,
/// the Kubernetes CronJob mounts deploy/kubernetes/smoke-rollout.toml): each one the CLI
/// accepts, declaring the three flags. A manual record reads the file without running its
/// checks, which need a checkout or a cluster.
#[test]
fn the_committed_rollout_files_are_accepted_by_the_record() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for file in [
        "examples/backend/ops/rollout.toml",
        "deploy/kubernetes/smoke-rollout.toml",
    ] {
        let ledger = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_stanchion"))
            .current_dir(&root)
            .args(["smoke", "record", "--rollout", file, "--ledger"])
            .arg(ledger.path())
            .args(["--note", "rollout file check"])
            .env_remove("AUTH_MODE")
            .env_remove("SECRETS_VAULT_MODE")
            .env_remove("GUARD_MODE")
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{file}: {}", text(&out.stderr));
        let month = fs::read_dir(ledger.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|e| e == "md"))
            .unwrap();
        let ledger_text = fs::read_to_string(month).unwrap();
        assert!(
            ledger_text.contains(
                "AUTH_MODE=enforced(default) SECRETS_VAULT_MODE=off(default) GUARD_MODE=enforced(default)"
            ),
            "{file}:\n{ledger_text}"
        );
    }
}
