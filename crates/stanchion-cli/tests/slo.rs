//! `stanchion slo generate`, run as the real binary: files written, `--check`, and every bad
//! spec of `data/slo_bad_specs.toml` refused with exit 2 naming the field and the line.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::{path::Path, process::Command};

/// A valid `[service]` table: six lines, so a case's first line is line 7.
const SERVICE: &str = "[service]\nname = \"shop\"\njob = \"shop\"\nowner = \"Shop team\"\non_call = \"shop-primary\"\nrunbook_base_url = \"https://runbooks.example/\"\n";

fn stanchion(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[derive(serde::Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    what: String,
    spec: String,
    expect: Vec<String>,
}

#[test]
fn every_bad_spec_exits_2_naming_the_field_and_line() {
    let data = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/slo_bad_specs.toml"),
    )
    .unwrap();
    let cases: Cases = toml::from_str(&data).unwrap();
    assert!(cases.cases.len() >= 8);
    for case in cases.cases {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("slo.toml");
        std::fs::write(&spec, format!("{SERVICE}{}", case.spec)).unwrap();
        let out = dir.path().join("out");
        let (code, _, stderr) = stanchion(&[
            "slo",
            "generate",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{}: {stderr}", case.what);
        for expected in &case.expect {
            assert!(
                stderr.contains(expected.as_str()),
                "{}: {expected:?} not in {stderr:?}",
                case.what
            );
        }
        assert!(!out.exists(), "{}: nothing is written", case.what);
    }
}

#[test]
fn generate_writes_the_files_and_check_finds_a_stale_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let spec = root.join("examples/backend/ops/slo.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let spec = spec.to_str().unwrap();
    let (code, stdout, stderr) = stanchion(&["slo", "generate", spec, "--out", out]);
    assert_eq!(code, 0, "{stderr}");
    for name in ["rules.yml", "rules.test.yml", "dashboard.json", "SLOs.md"] {
        assert!(stdout.contains(name), "{stdout}");
        assert!(dir.path().join(name).is_file(), "{name}");
    }
    let (code, ..) = stanchion(&["slo", "generate", spec, "--out", out, "--check"]);
    assert_eq!(code, 0, "freshly generated files are up to date");
    std::fs::write(dir.path().join("rules.yml"), "groups: []\n").unwrap();
    let (code, stdout, _) = stanchion(&["slo", "generate", spec, "--out", out, "--check"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("stale:") && stdout.contains("rules.yml"),
        "{stdout}"
    );
    let (code, ..) = stanchion(&["slo", "generate", "/no/such/spec.toml", "--out", out]);
    assert_eq!(code, 2);
}
