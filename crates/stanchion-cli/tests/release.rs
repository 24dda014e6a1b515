//! `stanchion release check`: the real binary against a complete and an incomplete checklist
//! in temporary directories, with a real ledger written by `stanchion smoke record`.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::{
    fs,
    path::Path,
    process::{Command, Output},
    time::{SystemTime, UNIX_EPOCH},
};

const ROLLOUT: &str = r#"
[[flags]]
name = "AUTH_MODE"
default = "enforced"
accepted = ["off", "shadow", "enforced"]
description = "Bearer authentication."
"#;

const COMPLETE: &str = "# Release checklist

Prose: - [ ] is only an item at the start of a line.

- rollback_owner: @platform-oncall
- rollback_response_time_goal: 15 minutes from page to flag flipped
- rules_tests_command: test -f rules.ok
- smoke_ledger: evidence
- readiness_dir: evidence
- readiness_max_age_days: 7
- changelog: CHANGELOG.md

- [x] rules-tests: rules tests green
- [ ] smoke-streak: seven days
- [x] readiness-snapshot: fresh
- [x] changelog: entry
- [x] rollback-owner: filled in
- [x] sign-off: the release manager agreed
";

/// `YYYY-MM-DD` of `days_ago` days before today (UTC), computed independently of the binary.
fn date(days_ago: u64) -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400
        - days_ago;
    // Howard Hinnant's civil_from_days for days >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn stanchion(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// A release directory where every machine check passes.
fn complete(dir: &Path) {
    fs::write(dir.join("rollout.toml"), ROLLOUT).unwrap();
    for days_ago in (0..7).rev() {
        let out = stanchion(
            dir,
            &[
                "smoke",
                "record",
                "--checks",
                "--check",
                "true",
                "--rollout",
                "rollout.toml",
                "--ledger",
                "evidence",
                "--date",
                &date(days_ago),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fs::write(
        dir.join("evidence").join(format!(
            "production-hardening-rollout-readiness-{}.md",
            date(3)
        )),
        "# readiness\n",
    )
    .unwrap();
    fs::write(dir.join("rules.ok"), "").unwrap();
    fs::write(
        dir.join("CHANGELOG.md"),
        "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- a thing\n\n## 0.1.0\n\n- old\n",
    )
    .unwrap();
    fs::write(dir.join("RELEASE_CHECKLIST.md"), COMPLETE).unwrap();
}

fn check(dir: &Path) -> (i32, String) {
    let out = stanchion(dir, &["release", "check"]);
    let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

#[test]
fn a_complete_checklist_passes_every_item() {
    let dir = tempfile::tempdir().unwrap();
    complete(dir.path());
    let (code, text) = check(dir.path());
    assert_eq!(code, 0, "{text}");
    for id in [
        "rules-tests",
        "smoke-streak",
        "readiness-snapshot",
        "changelog",
        "rollback-owner",
        "sign-off",
    ] {
        assert!(text.contains(&format!("pass  {id}: ")), "{id}: {text}");
    }
    assert!(text.contains("streak of 7 days ending"), "{text}");
    // The checklist's own directory anchors its paths, wherever the command runs from.
    let out = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["release", "check", "--format", "json", "--checklist"])
        .arg(dir.path().join("RELEASE_CHECKLIST.md"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["open"], 0);
    assert_eq!(value["items"].as_array().unwrap().len(), 6);
}

/// Each way an item stays open: (what to break, the item that must fail, words of its why).
#[test]
fn an_incomplete_checklist_fails_on_each_open_item_with_its_reason() {
    type Breakage = fn(&Path);
    let cases: [(Breakage, &str, &str); 9] = [
        (
            |d| fs::remove_file(d.join("rules.ok")).unwrap(),
            "rules-tests",
            "failed",
        ),
        (
            |d| {
                // One failing strict record three days ago breaks the seven-day streak.
                let out = stanchion(
                    d,
                    &[
                        "smoke",
                        "record",
                        "--checks",
                        "--check",
                        "false",
                        "--rollout",
                        "rollout.toml",
                        "--ledger",
                        "evidence",
                        "--date",
                        &date(3),
                    ],
                );
                assert_eq!(out.status.code(), Some(1));
            },
            "smoke-streak",
            "required",
        ),
        (
            |d| {
                fs::remove_file(d.join("evidence").join(format!(
                    "production-hardening-rollout-readiness-{}.md",
                    date(3)
                )))
                .unwrap();
                fs::write(
                    d.join("evidence").join(format!(
                        "production-hardening-rollout-readiness-{}.md",
                        date(9)
                    )),
                    "",
                )
                .unwrap();
            },
            "readiness-snapshot",
            "days old",
        ),
        (
            |d| {
                fs::write(
                    d.join("CHANGELOG.md"),
                    "# Changelog\n\n## Unreleased\n\n## 0.1.0\n\n- old\n",
                )
                .unwrap()
            },
            "changelog",
            "no entry",
        ),
        (
            |d| edit(d, "@platform-oncall", "<name>"),
            "rollback-owner",
            "not filled in",
        ),
        (
            |d| {
                edit(
                    d,
                    "- rollback_response_time_goal: 15 minutes from page to flag flipped\n",
                    "",
                )
            },
            "rollback-owner",
            "missing",
        ),
        (
            |d| edit(d, "- [x] sign-off", "- [ ] sign-off"),
            "sign-off",
            "not ticked",
        ),
        (
            |d| edit(d, "- [x] changelog: entry\n", ""),
            "changelog",
            "missing from the checklist",
        ),
        (
            |d| {
                edit(
                    d,
                    "- readiness_max_age_days: 7",
                    "- readiness_max_age_days: 2",
                )
            },
            "readiness-snapshot",
            "at most 2",
        ),
    ];
    for (break_it, id, why) in cases {
        let dir = tempfile::tempdir().unwrap();
        complete(dir.path());
        break_it(dir.path());
        let (code, text) = check(dir.path());
        assert_eq!(code, 1, "{id}: {text}");
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("FAIL  {id}: ")))
            .unwrap_or_else(|| panic!("{id} not failing: {text}"));
        assert!(line.contains(why), "{id}: {line}");
        assert!(text.contains("1 item(s) open"), "{text}");
    }
}

fn edit(dir: &Path, from: &str, to: &str) {
    let path = dir.join("RELEASE_CHECKLIST.md");
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from}");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn an_unreadable_or_malformed_checklist_is_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check(dir.path()).0, 2, "no checklist");
    fs::write(
        dir.path().join("RELEASE_CHECKLIST.md"),
        "# R\n\n- rollback_ownr: me\n",
    )
    .unwrap();
    let (code, text) = check(dir.path());
    assert_eq!(code, 2);
    assert!(
        text.contains("RELEASE_CHECKLIST.md:3:") && text.contains("rollback_ownr"),
        "{text}"
    );
}

#[test]
fn the_repositorys_checklist_parses_and_lists_the_five_machine_items() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = fs::read_to_string(root.join("RELEASE_CHECKLIST.md")).unwrap();
    for id in [
        "rules-tests",
        "smoke-streak",
        "readiness-snapshot",
        "changelog",
        "rollback-owner",
    ] {
        assert!(text.contains(&format!("- [ ] {id}: ")), "{id}");
    }
    // Its owner fields are placeholders until a release manager fills them in, so the gate
    // is closed in the repository as committed.
    let out = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["release", "check", "--format", "json", "--checklist"])
        .arg(root.join("RELEASE_CHECKLIST.md"))
        .env("PATH", "/nonexistent") // no command check runs anything real from here
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let owner = value["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == "rollback-owner")
        .unwrap();
    assert_eq!(owner["pass"], false);
}
