//! `docs/security/threat-model.md` names the test that proves each mitigation as
//! `file::function`; every one of them must exist, so the page cannot cite a test that was
//! renamed or removed.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::path::Path;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Every `path.rs::function` reference in `text`.
fn references(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for piece in text.split('`') {
        if let Some((file, function)) = piece.split_once(".rs::") {
            let function_ok = !function.is_empty()
                && function
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if function_ok && !file.contains(' ') {
                found.push((format!("{file}.rs"), function.to_owned()));
            }
        }
    }
    found
}

/// Whether `source` defines `function` as a test: `fn function(` with `#[test]` or
/// `#[tokio::test...]` among the attributes right above it (after the previous item's `}` or
/// `;`).
fn is_test(source: &str, function: &str) -> bool {
    let Some(at) = source.find(&format!("fn {function}(")) else {
        return false;
    };
    let before = &source[..at];
    let item_start = before.rfind(['}', ';']).map_or(0, |end| end + 1);
    let attributes = &before[item_start..];
    attributes.contains("#[test]") || attributes.contains("#[tokio::test")
}

#[test]
fn every_test_the_threat_model_names_exists() {
    let text = std::fs::read_to_string(repository().join("docs/security/threat-model.md")).unwrap();
    let refs = references(&text);
    assert!(refs.len() >= 20, "too few references found: {refs:?}");
    let mut missing = Vec::new();
    for (file, function) in refs {
        let source = std::fs::read_to_string(repository().join(&file)).unwrap_or_default();
        if !is_test(&source, &function) {
            missing.push(format!("{file}::{function}"));
        }
    }
    assert!(
        missing.is_empty(),
        "named in the threat model but not found as a #[test] or #[tokio::test]: {missing:#?}"
    );
}

#[test]
fn the_reference_reader_finds_a_missing_test() {
    let refs = references("| x | `tests/tests/nope.rs::a_test_that_does_not_exist` |");
    assert_eq!(
        refs,
        [(
            "tests/tests/nope.rs".to_owned(),
            "a_test_that_does_not_exist".to_owned()
        )]
    );
    let source = std::fs::read_to_string(repository().join(&refs[0].0)).unwrap_or_default();
    assert!(!is_test(&source, "a_test_that_does_not_exist"));
    // A helper that exists but is not a test does not count; a test does.
    let suite = std::fs::read_to_string(repository().join("tests/tests/security_authorization.rs"))
        .unwrap();
    assert!(suite.contains("fn now("));
    assert!(!is_test(&suite, "now"));
    assert!(is_test(
        &suite,
        "every_bearer_route_refuses_every_bad_credential_before_its_handler_runs"
    ));
}
