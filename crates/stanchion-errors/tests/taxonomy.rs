//! The taxonomy as reviewers see it: declarations, conflicts, the generated table and the lock.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::path::PathBuf;

use stanchion_errors::{Checked, Taxonomy, codes};

stanchion_errors::error_codes! {
    /// Codes a test service declares.
    pub const SERVICE_A;

    /// The caller's plan does not include the feature.
    SUBSCRIPTION_PLAN_LIMIT = 403, "Your subscription plan does not include this feature.";

    /// The caller used up their plan's queries.
    SUBSCRIPTION_QUERY_LIMIT = 429, "You have used all queries in your plan for now.",
        retryable, forwardable;
}

mod other_team {
    stanchion_errors::error_codes! {
        /// A second set that reuses a name of the first.
        pub const SERVICE_B;

        /// Declared again on purpose: merging must refuse it.
        SUBSCRIPTION_PLAN_LIMIT = 402, "Payment required.";
    }
}

fn workspace_docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/error-codes.md")
}

fn base_lock() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("error-codes.lock")
}

const DOCS_TITLE: &str = "Error codes (base taxonomy)";

#[test]
fn base_taxonomy_has_the_codes_the_contract_names() {
    let taxonomy = Taxonomy::base();
    let expected = [
        ("AUTH_INVALID_TOKEN", 401),
        ("AUTH_EXPIRED_TOKEN", 401),
        ("AUTH_FORBIDDEN", 403),
        ("VALIDATION_ERROR", 400),
        ("NOT_FOUND", 404),
        ("METHOD_NOT_ALLOWED", 405),
        ("PAYLOAD_TOO_LARGE", 413),
        ("UNSUPPORTED_MEDIA_TYPE", 415),
        ("RATE_LIMITED", 429),
        ("REQUEST_TIMEOUT", 408),
        ("UPSTREAM_UNAVAILABLE", 502),
        ("UPSTREAM_TIMEOUT", 504),
        ("SERVICE_UNAVAILABLE", 503),
        ("INTERNAL_ERROR", 500),
    ];
    for (name, status) in expected {
        let code = taxonomy
            .get(name)
            .unwrap_or_else(|| panic!("{name} is a base code"));
        assert_eq!(code.status_u16(), status, "{name}");
        assert!(
            !code.description().is_empty(),
            "{name} has a reviewer description"
        );
    }
}

#[test]
fn every_base_code_is_unique_valid_and_an_error_status() {
    let mut seen = std::collections::HashSet::new();
    for code in codes::BASE.codes() {
        assert!(seen.insert(code.name()), "{} declared twice", code.name());
        assert!(stanchion_errors::is_valid_name(code.name()));
        assert!(code.status().is_client_error() || code.status().is_server_error());
        assert!(
            code.declared_at().contains("codes.rs:"),
            "{}",
            code.declared_at()
        );
    }
}

#[test]
fn extension_codes_merge_with_the_base() {
    let taxonomy = Taxonomy::builder().extend(SERVICE_A).build().unwrap();
    assert_eq!(taxonomy.len(), codes::BASE.codes().len() + 2);
    let limit = taxonomy.get("SUBSCRIPTION_QUERY_LIMIT").unwrap();
    assert!(limit.is_retryable() && limit.is_forwardable());
    assert_eq!(
        limit.description(),
        "The caller used up their plan's queries."
    );
}

#[test]
fn a_code_declared_in_two_sets_fails_naming_both_places() {
    let error = Taxonomy::builder()
        .extend(SERVICE_A)
        .extend(other_team::SERVICE_B)
        .build()
        .unwrap_err();
    assert_eq!(
        error.codes().collect::<Vec<_>>(),
        ["SUBSCRIPTION_PLAN_LIMIT"]
    );
    let message = error.to_string();
    assert!(
        message.contains("SERVICE_A") && message.contains("SERVICE_B"),
        "{message}"
    );
    // Both declaration sites, as file:line.
    assert_eq!(
        message.matches("tests/taxonomy.rs:").count(),
        2,
        "{message}"
    );
}

#[test]
fn the_same_set_twice_is_a_conflict_too() {
    let error = Taxonomy::builder()
        .extend(SERVICE_A)
        .extend(SERVICE_A)
        .build()
        .unwrap_err();
    assert_eq!(error.codes().count(), 2);
}

#[test]
fn reviewer_table_is_fresh() {
    Taxonomy::base().assert_docs_fresh(workspace_docs(), DOCS_TITLE);
}

#[test]
fn base_lock_holds() {
    Taxonomy::base().assert_lock_holds(base_lock());
}

#[test]
fn stale_table_fails_then_passes_after_regeneration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error-codes.md");
    let taxonomy = Taxonomy::builder().extend(SERVICE_A).build().unwrap();

    let missing = taxonomy
        .check_docs(&path, "T", false)
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("does not exist") && missing.contains("STANCHION_BLESS=1"),
        "{missing}"
    );

    // An older table, generated before the service added its codes.
    std::fs::write(&path, Taxonomy::base().to_markdown("T")).unwrap();
    let stale = taxonomy
        .check_docs(&path, "T", false)
        .unwrap_err()
        .to_string();
    assert!(
        stale.contains("is stale") && stale.contains("STANCHION_BLESS=1"),
        "{stale}"
    );

    assert_eq!(
        taxonomy.check_docs(&path, "T", true).unwrap(),
        Checked::Regenerated
    );
    assert_eq!(
        taxonomy.check_docs(&path, "T", false).unwrap(),
        Checked::Fresh
    );
    let table = std::fs::read_to_string(&path).unwrap();
    assert!(
        table.contains("| `SUBSCRIPTION_QUERY_LIMIT` | 429 | yes | yes |"),
        "{table}"
    );
}

#[test]
fn removed_code_breaks_the_lock_until_regenerated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error-codes.lock");
    let with_service = Taxonomy::builder().extend(SERVICE_A).build().unwrap();
    with_service.check_lock(&path, true).unwrap();

    // The service dropped its codes: the lock still lists them.
    let base_only = Taxonomy::base();
    let message = base_only.check_lock(&path, false).unwrap_err().to_string();
    assert!(message.contains("BREAKING"), "{message}");
    assert!(
        message.contains("removed SUBSCRIPTION_PLAN_LIMIT"),
        "{message}"
    );
    assert!(message.contains("STANCHION_BLESS=1"), "{message}");

    assert_eq!(
        base_only.check_lock(&path, true).unwrap(),
        Checked::Regenerated
    );
    assert_eq!(base_only.check_lock(&path, false).unwrap(), Checked::Fresh);
}

#[test]
fn changed_status_breaks_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error-codes.lock");
    let lock = Taxonomy::base()
        .to_lock()
        .replace("NOT_FOUND 404 final", "NOT_FOUND 410 final");
    std::fs::write(&path, lock).unwrap();
    let message = Taxonomy::base()
        .check_lock(&path, false)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("BREAKING") && message.contains("NOT_FOUND: status 410 -> 404"),
        "{message}"
    );
}

#[test]
fn new_codes_are_reported_as_not_breaking() {
    let taxonomy = Taxonomy::builder().extend(SERVICE_A).build().unwrap();
    let diff = taxonomy.diff_lock(&Taxonomy::base().to_lock()).unwrap();
    assert!(!diff.is_breaking());
    assert_eq!(
        diff.added,
        ["SUBSCRIPTION_PLAN_LIMIT", "SUBSCRIPTION_QUERY_LIMIT"]
    );
    assert!(diff.to_string().contains("not breaking"));
}

#[test]
fn malformed_lock_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("error-codes.lock");
    std::fs::write(&path, "# header\nNOT_FOUND 404 final\nGARBAGE\n").unwrap();
    let message = Taxonomy::base()
        .check_lock(&path, false)
        .unwrap_err()
        .to_string();
    assert!(message.contains("line 3"), "{message}");
}
