//! The example backend's spec generates the committed files (regenerate on purpose with
//! `STANCHION_BLESS=1 cargo test -p stanchion-slo`), every runbook link resolves to a file in
//! docs/runbooks/, and the generated rules pass `promtool check rules` and `promtool test
//! rules` with Debian's Prometheus 2.42.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use stanchion_slo::{Spec, generate, merge_document};

const SPEC: &str = "examples/backend/ops/slo.toml";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

fn backend() -> (Spec, stanchion_slo::Generated) {
    let text = std::fs::read_to_string(root().join(SPEC)).expect("the backend's spec");
    let spec = Spec::parse(&text).unwrap_or_else(|error| panic!("{SPEC} {error}"));
    let generated = generate(&spec, SPEC);
    (spec, generated)
}

fn target(name: &str) -> PathBuf {
    match name {
        "SLOs.md" => root().join("docs/SLOs.md"),
        _ => root().join("examples/backend/ops").join(name),
    }
}

#[test]
fn the_committed_files_are_what_the_spec_generates() {
    let (_, generated) = backend();
    let bless = std::env::var("STANCHION_BLESS").as_deref() == Ok("1");
    for (name, contents) in generated.files() {
        let path = target(name);
        let existing = std::fs::read_to_string(&path).ok();
        let expected = if name == "SLOs.md" {
            merge_document(existing.as_deref(), contents)
        } else {
            contents.to_owned()
        };
        if bless {
            std::fs::write(&path, &expected).expect("written");
            continue;
        }
        assert!(
            existing.as_deref() == Some(expected.as_str()),
            "{} is stale: regenerate with `STANCHION_BLESS=1 cargo test -p stanchion-slo` \
             (or `stanchion slo generate {SPEC} --out examples/backend/ops --docs docs/SLOs.md`)",
            path.display()
        );
    }
}

#[test]
fn every_runbook_link_points_to_a_runbook_that_exists() {
    let (spec, generated) = backend();
    let base = &spec.service.runbook_base_url;
    let mut linked = BTreeSet::new();
    for line in generated.rules.lines() {
        if let Some(url) = line.trim().strip_prefix("runbook_url: ") {
            let url: String = serde_json_free_unquote(url);
            let file = url
                .strip_prefix(base.as_str())
                .unwrap_or_else(|| panic!("{url} is not under {base}"));
            linked.insert(file.to_owned());
        }
    }
    assert!(linked.len() >= 8, "{linked:?}");
    for file in &linked {
        let path = root().join("docs/runbooks").join(file);
        assert!(
            path.is_file(),
            "runbook_url points to {file}, which is not in docs/runbooks/"
        );
    }
    // And the document's relative links.
    for (_, file) in stanchion_slo::OPERATIONAL_RUNBOOKS {
        assert!(linked.contains(file), "{file}");
    }
}

/// The rules write `runbook_url: "..."`: a JSON string without escapes in a URL.
fn serde_json_free_unquote(text: &str) -> String {
    text.trim().trim_matches('"').to_owned()
}

/// A skip notice written to the process's stderr handle itself: libtest captures what
/// `eprintln!` prints in a passing test (it shows only with `--nocapture`), so a skip printed
/// that way reads as a plain `ok`. A write to the handle is not captured.
fn loud_skip(why: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: {why}: this test proves nothing on this machine ***\n"
    );
}

fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("promtool"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool is not installed and CI=true: `.ci/run` installs the Debian package prometheus"
        );
        loud_skip(
            "promtool is not on PATH (Debian package prometheus); the generated rules were NOT checked",
        );
    }
    found
}

#[test]
fn promtool_checks_the_rules_and_every_alert_passes_its_unit_tests() {
    let Some(promtool) = promtool() else {
        return;
    };
    let (_, generated) = backend();
    let dir = tempfile::tempdir().expect("a temp dir");
    for (name, contents) in generated.files() {
        std::fs::write(dir.path().join(name), contents).expect("written");
    }
    let check = Command::new(&promtool)
        .current_dir(dir.path())
        .args(["check", "rules", "rules.yml"])
        .output()
        .expect("promtool runs");
    assert!(
        check.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let test = Command::new(&promtool)
        .current_dir(dir.path())
        .args(["test", "rules", "rules.test.yml"])
        .output()
        .expect("promtool runs");
    assert!(
        test.status.success(),
        "promtool test rules:\n{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
}

/// Per alert name of `rules.test.yml`: (checks where it fires, checks where it stays silent).
/// The generator writes each check as an `alertname:` line followed by `exp_alerts: []`
/// (silent) or `exp_alerts:` and a list (fires).
fn checks_by_alert(rule_tests: &str) -> std::collections::BTreeMap<String, (usize, usize)> {
    let mut checks = std::collections::BTreeMap::<String, (usize, usize)>::new();
    let mut current: Option<String> = None;
    for line in rule_tests.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("alertname: ") {
            current = Some(name.trim_matches('"').to_owned());
        } else if let Some(rest) = line.strip_prefix("exp_alerts:") {
            let name = current.take().expect("exp_alerts follows an alertname");
            let entry = checks.entry(name).or_default();
            if rest.trim() == "[]" {
                entry.1 += 1;
            } else {
                entry.0 += 1;
            }
        }
    }
    checks
}

/// promtool only runs the checks that are written: every alert of `rules.yml` needs one
/// where it fires and one where it stays silent, or a rule that never (or always) fires would
/// pass.
#[test]
fn every_alert_has_a_firing_and_a_silent_unit_test() {
    let (_, generated) = backend();
    let defined: BTreeSet<String> = generated
        .rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .map(|name| name.trim_matches('"').to_owned())
        .collect();
    assert_eq!(
        defined,
        stanchion_slo::alert_names()
            .into_iter()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>(),
        "the backend's rules define every alert the generator can"
    );
    let checks = checks_by_alert(&generated.rule_tests);
    for alert in &defined {
        let (fires, silent) = checks.get(alert).copied().unwrap_or_default();
        assert!(
            fires >= 1 && silent >= 1,
            "{alert}: {fires} check(s) where it fires, {silent} where it stays silent"
        );
    }
    // The reader itself: a file with only silent checks is caught.
    let only_silent = "      - eval_time: 5m\n        alertname: \"A\"\n        exp_alerts: []\n";
    assert_eq!(checks_by_alert(only_silent)["A"], (0, 1));
}

#[test]
fn amtool_accepts_the_alertmanager_config() {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("amtool"))
            .find(|path| path.is_file())
    });
    let Some(amtool) = found else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "amtool is not installed and CI=true: `.ci/run` installs prometheus-alertmanager"
        );
        loud_skip("amtool is not on PATH (Debian package prometheus-alertmanager)");
        return;
    };
    let config = root().join("examples/backend/ops/alertmanager.yml");
    let out = Command::new(amtool)
        .arg("check-config")
        .arg(&config)
        .output()
        .expect("amtool runs");
    assert!(
        out.status.success(),
        "amtool check-config:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
