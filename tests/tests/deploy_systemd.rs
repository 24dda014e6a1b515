//! The systemd units under `deploy/systemd/` that run the daily strict smoke record:
//! `systemd-analyze verify` accepts both (syntax, values, the commands exist), and the unit
//! agrees with the repository where verify cannot look (the rollout file exists, the ledger
//! and the textfile directory are writable under `ProtectSystem=strict`, the timer fires well
//! inside the 26 hours `SmokeEvidenceStale` allows).
//!
//! verify checks that `ExecStart`'s program is executable, and `/usr/local/bin/stanchion` is
//! not installed on a build machine, so it runs on a copy whose `ExecStart` names an executable
//! stand-in at a temporary path; every other line is verified as committed. verify only warns
//! (exit 0) about a value it ignores, such as a misspelt key, so any line naming one of the
//! units fails the test too; a deliberately broken copy proves that on this machine.
//!
//! It needs `systemd-analyze` (Debian package `systemd`; `.ci/run` installs it). Without it the
//! test says so loudly and skips, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::{
    collections::BTreeMap,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use stanchion_test_support::programs;

const SERVICE: &str = "stanchion-smoke-record.service";
const TIMER: &str = "stanchion-smoke-record.timer";
/// Where the unit expects the CLI; the verified copy points elsewhere (see the module docs).
const INSTALLED_CLI: &str = "/usr/local/bin/stanchion";
/// `SmokeEvidenceStale`'s threshold, in seconds, from the generator that writes the rule.
const STALE_AFTER_SECS: u64 = stanchion_slo::SMOKE_MAX_AGE_HOURS * 3600;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn unit_text(name: &str) -> String {
    std::fs::read_to_string(repository().join("deploy/systemd").join(name)).unwrap()
}

/// `section -> key -> values` (a key may repeat: `ExecStartPost=`, `Environment=`).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// The unit file's settings. A small reader: the units use no line continuations.
fn parse(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        assert!(!line.ends_with('\\'), "no continuation lines: {line}");
        let (key, value) = line.split_once('=').unwrap();
        unit.entry(section.clone())
            .or_default()
            .entry(key.trim().to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    unit
}

fn one<'a>(unit: &'a Unit, section: &str, key: &str) -> &'a str {
    let values = unit
        .get(section)
        .and_then(|s| s.get(key))
        .unwrap_or_else(|| panic!("[{section}] has no {key}="));
    assert_eq!(values.len(), 1, "[{section}] {key}= appears {values:?}");
    &values[0]
}

/// `30min`, `2h`, `45s` in seconds (the forms the units use).
fn seconds(span: &str) -> u64 {
    let digits = span.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let number: u64 = digits.parse().unwrap();
    match &span[digits.len()..] {
        "s" | "" => number,
        "min" => number * 60,
        "h" => number * 3600,
        unit => panic!("unexpected time unit {unit:?} in {span}"),
    }
}

#[test]
fn the_service_runs_a_strict_record_the_sandbox_lets_it_write() {
    let unit = parse(&unit_text(SERVICE));
    assert_eq!(one(&unit, "Service", "Type"), "oneshot");
    let checkout = PathBuf::from(one(&unit, "Service", "WorkingDirectory"));
    assert!(checkout.is_absolute(), "{}", checkout.display());

    let exec = one(&unit, "Service", "ExecStart");
    let words: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(words[0], INSTALLED_CLI, "{exec}");
    assert_eq!(words[1..4], ["smoke", "record", "--checks"], "{exec}");
    let flag = |name: &str| {
        let at = words.iter().position(|w| *w == name);
        words[at.unwrap_or_else(|| panic!("ExecStart has no {name}: {exec}")) + 1]
    };
    // Relative paths resolve from WorkingDirectory, which is a checkout of this repository.
    let rollout = flag("--rollout");
    assert!(
        repository().join(rollout).is_file(),
        "--rollout {rollout} is not a file of the checkout"
    );
    let ledger = checkout.join(flag("--ledger"));

    // ProtectSystem=strict makes everything read-only except these: the ledger must be one,
    // or every record fails on a read-only file system (verify cannot see that).
    assert_eq!(one(&unit, "Service", "ProtectSystem"), "strict");
    let writable: Vec<PathBuf> = one(&unit, "Service", "ReadWritePaths")
        .split_whitespace()
        .map(PathBuf::from)
        .collect();
    let is_writable = |path: &Path| writable.iter().any(|w| path.starts_with(w));
    assert!(
        is_writable(&ledger),
        "{} is not under ReadWritePaths {writable:?}",
        ledger.display()
    );
    // The textfile goes from the ledger to node_exporter's directory, also writable.
    let posts = &unit["Service"]["ExecStartPost"];
    let copy: Vec<&str> = posts[0].split_whitespace().collect();
    assert_eq!(
        checkout.join(copy[copy.len() - 2]),
        ledger.join("production_hardening_smoke.prom"),
        "{posts:?}"
    );
    let temporary = Path::new(copy[copy.len() - 1]);
    let rename: Vec<&str> = posts[1].split_whitespace().collect();
    assert_eq!(Path::new(rename[rename.len() - 2]), temporary, "{posts:?}");
    let published = Path::new(rename[rename.len() - 1]);
    assert_eq!(
        published.file_name().unwrap(),
        "production_hardening_smoke.prom"
    );
    // node_exporter reads only `*.prom`: the half-copied file must not be one.
    assert!(!temporary.to_str().unwrap().ends_with(".prom"), "{posts:?}");
    assert_eq!(temporary.parent(), published.parent());
    assert!(is_writable(published), "{}", published.display());

    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(one(&unit, "Service", key), value, "{key}");
    }
    // A hung check must end the run: oneshot units have no start timeout by default.
    assert!(seconds(one(&unit, "Service", "TimeoutStartSec")) < STALE_AFTER_SECS);

    // The Documentation= links name files of this repository.
    for url in &unit["Unit"]["Documentation"] {
        let file = url
            .strip_prefix("https://example.invalid/stanchion/blob/main/")
            .unwrap_or_else(|| panic!("{url}"));
        assert!(repository().join(file).is_file(), "{url}");
    }
}

#[test]
fn the_timer_runs_daily_catches_up_and_stays_inside_the_staleness_threshold() {
    let timer = parse(&unit_text(TIMER));
    let calendar = one(&timer, "Timer", "OnCalendar");
    assert!(
        calendar.starts_with("*-*-* ") || calendar == "daily",
        "{calendar}"
    );
    assert_eq!(one(&timer, "Timer", "Persistent"), "true");
    let delay = seconds(one(&timer, "Timer", "RandomizedDelaySec"));
    assert!(delay > 0);
    let service = parse(&unit_text(SERVICE));
    let run = seconds(one(&service, "Service", "TimeoutStartSec"));
    // Two passes are at most a day plus the random delay plus one run apart.
    assert!(
        86_400 + delay + run < STALE_AFTER_SECS,
        "a day + {delay} s delay + {run} s run reaches the 26 h staleness alert"
    );
    assert_eq!(one(&timer, "Install", "WantedBy"), "timers.target");
}

/// Copies of both units into a fresh directory, the service's `ExecStart` pointing at an
/// executable stand-in there; `edit` may change them further.
fn verifiable_copies(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cli = dir.path().join("stanchion");
    std::fs::write(&cli, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    for name in [SERVICE, TIMER] {
        let text = unit_text(name).replace(INSTALLED_CLI, cli.to_str().unwrap());
        std::fs::write(dir.path().join(name), edit(name, text)).unwrap();
    }
    dir
}

/// verify's complaints about our two units (exit code and the lines naming them).
fn verify(analyze: &Path, dir: &Path) -> (i32, Vec<String>) {
    let out = Command::new(analyze)
        .args(["verify", "--man=no", "--recursive-errors=no"])
        .arg(dir.join(SERVICE))
        .arg(dir.join(TIMER))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ours = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if line.contains("stanchion-smoke-record") {
            ours.push(line.to_owned());
        } else {
            // The host's own units (network-online.target...) are not ours to judge.
            eprintln!("systemd-analyze (not about our units): {line}");
        }
    }
    (out.status.code().unwrap_or(-1), ours)
}

#[test]
fn systemd_analyze_verifies_both_units_and_catches_a_broken_one() {
    let Some(analyze) = programs::program("systemd-analyze") else {
        return;
    };
    let committed = verifiable_copies(|_, text| text);
    let (code, complaints) = verify(&analyze, committed.path());
    assert!(
        code == 0 && complaints.is_empty(),
        "systemd-analyze verify exited {code}:\n{}",
        complaints.join("\n")
    );

    // The harness must see what an operator's typo does: a misspelt value and key are only
    // warnings ("ignoring"), an impossible calendar makes the timer unusable.
    for (file, from, to) in [
        (SERVICE, "Type=oneshot", "Type=oneshott"),
        (SERVICE, "ProtectSystem=strict", "ProtectSystem=strictly"),
        (TIMER, "Persistent=true", "Persistant=true"),
        (TIMER, "OnCalendar=*-*-* 04:00:00 UTC", "OnCalendar=dailyy"),
    ] {
        let broken = verifiable_copies(|name, text| {
            if name == file {
                assert!(text.contains(from), "{file} has no {from}");
                text.replacen(from, to, 1)
            } else {
                text
            }
        });
        let (code, complaints) = verify(&analyze, broken.path());
        assert!(
            code != 0 || !complaints.is_empty(),
            "systemd-analyze verify accepted {file} with {to:?}: the test could not catch it"
        );
    }
    // And the reason the copy exists: the committed unit as is names a program missing here.
    if !Path::new(INSTALLED_CLI).exists() {
        let dir = tempfile::tempdir().unwrap();
        for name in [SERVICE, TIMER] {
            std::fs::write(dir.path().join(name), unit_text(name)).unwrap();
        }
        let (_, complaints) = verify(&analyze, dir.path());
        assert!(
            complaints.iter().any(|l| l.contains(INSTALLED_CLI)),
            "{complaints:?}"
        );
    }
}
