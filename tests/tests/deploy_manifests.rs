//! The Kubernetes manifests under `deploy/kubernetes/`: every overlay rendered and validated
//! offline against the Kubernetes schemas, plus the deployment rules (probes, resources,
//! restricted security context, secrets only as mounted files, registries identical to the
//! examples', the smoke record's CronJob and its rollout file), by `deploy/kubernetes/check.py`.
//!
//! It needs python3 with `PyYAML`, `jsonpatch` and `kubernetes-validate` (PyPI; `.ci/run`
//! installs them). Without them the test says so loudly and skips, except under `CI=true`,
//! where it fails.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::{io::Write as _, path::Path, process::Command};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn tools_present() -> bool {
    Command::new("python3")
        .args(["-c", "import yaml, jsonpatch, kubernetes_validate"])
        .output()
        .is_ok_and(|out| out.status.success())
}

#[test]
fn every_overlay_renders_validates_and_follows_the_deployment_rules() {
    if !tools_present() {
        let message = "python3 with PyYAML, jsonpatch and kubernetes-validate is needed to \
                       validate deploy/kubernetes (pip install pyyaml jsonpatch \
                       kubernetes-validate)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        // To the stderr handle itself: libtest captures `eprintln!` in a passing test.
        let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {message} ***\n");
        return;
    }
    let out = Command::new("python3")
        .arg(repository().join("deploy/kubernetes/check.py"))
        .current_dir(repository())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for overlay in ["staging", "production"] {
        assert!(
            stdout.contains(&format!("{overlay}: ")) && stdout.contains("objects rendered"),
            "{stdout}"
        );
    }
    assert!(stdout.ends_with("all manifests pass\n"), "{stdout}");
}
