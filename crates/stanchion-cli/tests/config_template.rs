//! `stanchion config template`, run as the real binary: the examples' committed `.env.example`
//! files are what it prints today, and they hold no secret value.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned()
}

/// Where the manifests (`deploy/kubernetes/base/*.yaml`) mount the services' secret files.
const SECRETS_DIR: &str = "/run/secrets/stanchion";

fn template(registry: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["config", "template", "--registry", registry])
        .args(["--secrets-dir", SECRETS_DIR])
        .current_dir(workspace_root())
        .output()
        .unwrap()
}

#[test]
fn the_examples_env_example_files_are_fresh_and_hold_no_secret() {
    for service in ["backend", "agent"] {
        let registry = format!("examples/{service}/config/tools.toml");
        let out = template(&registry);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fresh = String::from_utf8(out.stdout).unwrap();
        let path = workspace_root().join(format!("examples/{service}/config/.env.example"));
        if std::env::var_os("STANCHION_BLESS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != fresh {
            let first = committed
                .lines()
                .zip(fresh.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
            panic!(
                "{} is stale (first difference at line {}: committed {:?}, generated {:?}); \
                 regenerate with `STANCHION_BLESS=1 cargo test -p stanchion-cli --test \
                 config_template` (or `stanchion config template --registry ... --secrets-dir \
                 /run/secrets/stanchion`)",
                path.display(),
                first + 1,
                committed.lines().nth(first),
                fresh.lines().nth(first),
            );
        }

        let registry =
            stanchion_config::Registry::from_toml_file(workspace_root().join(&registry)).unwrap();
        for name in registry
            .variables()
            .iter()
            .filter(|n| registry.is_secret(n))
        {
            for line in fresh.lines() {
                let assignment = line.trim_start_matches(['#', ' ']);
                assert!(
                    !assignment.starts_with(&format!("{name}=")),
                    "{service}: a value line for the secret {name}: {line}"
                );
            }
            let file_line = format!("{name}_FILE={SECRETS_DIR}/{name}");
            assert!(
                fresh.contains(&file_line),
                "{service}: {name} has no mounted-file line"
            );
            // The path the template gives is the one the manifest sets.
            let manifest = std::fs::read_to_string(
                workspace_root().join(format!("deploy/kubernetes/base/{service}.yaml")),
            )
            .unwrap();
            assert!(
                manifest.contains(&format!(
                    "- name: {name}_FILE\n              value: {SECRETS_DIR}/{name}\n"
                )),
                "deploy/kubernetes/base/{service}.yaml does not set {file_line}"
            );
        }
        for name in registry.variables() {
            assert!(
                fresh.contains(&format!("\n# {name} (")),
                "{service}: {name} is not described"
            );
        }
    }
}

#[test]
fn an_unusable_registry_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let out = template(missing.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));

    let bad = dir.path().join("tools.toml");
    std::fs::write(
        &bad,
        "[[tools]]\nslug = \"x\"\n[tools.describe]\nNOT_READ = \"a description\"\n",
    )
    .unwrap();
    let out = template(bad.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("description for NOT_READ, which the tool does not read"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
