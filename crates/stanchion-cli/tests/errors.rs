//! `stanchion errors`, run as the real binary.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::process::Command;

fn stanchion(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn list_prints_the_base_taxonomy_table_and_lock() {
    let out = stanchion(&["errors", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("| `AUTH_INVALID_TOKEN` | 401 |"), "{text}");
    let out = stanchion(&["errors", "list", "--format", "lock"]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("NOT_FOUND 404 final")
    );
}

#[test]
fn diff_exits_1_on_a_breaking_change_and_0_on_an_addition() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.lock");
    let new = dir.path().join("new.lock");
    std::fs::write(&old, "A_CODE 404 final\nB_CODE 429 retryable\n").unwrap();

    std::fs::write(&new, "A_CODE 410 final\n").unwrap();
    let out = stanchion(&[
        "errors",
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("removed  B_CODE") && text.contains("A_CODE: status 404 -> 410"),
        "{text}"
    );

    std::fs::write(
        &new,
        "A_CODE 404 final\nB_CODE 429 retryable\nC_CODE 409 final\n",
    )
    .unwrap();
    let out = stanchion(&[
        "errors",
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("added    C_CODE")
    );
}

#[test]
fn diff_exits_2_naming_the_file_on_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.lock");
    std::fs::write(&old, "NOT A LOCK LINE AT ALL\n").unwrap();
    let missing = dir.path().join("missing.lock");
    let out = stanchion(&[
        "errors",
        "diff",
        old.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("missing.lock")
    );
    let out = stanchion(&[
        "errors",
        "diff",
        old.to_str().unwrap(),
        old.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("line 1"));
}
