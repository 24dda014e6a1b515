//! The dependency invariants between the crates, checked against the real dependency graph.
//!
//! Each check runs `cargo tree` for one package alone, so features are resolved the way a
//! service that depends on that crate alone would see them (no unification with the rest of
//! the workspace). A wrong arrow between crates fails here, in CI, with the path that brought
//! the dependency in.

use std::{collections::BTreeSet, path::Path, process::Command};

/// The library crates of the workspace (everything a service links).
const LIBRARIES: &[&str] = &[
    "stanchion",
    "stanchion-errors",
    "stanchion-request-id",
    "stanchion-redact",
    "stanchion-config",
    "stanchion-rollout",
];

/// The arrows between Stanchion crates allowed outside the facade, the CLI,
/// the examples, the benches and the tests.
const ALLOWED_ARROWS: &[(&str, &str)] = &[
    // stanchion-errors may read the current request ID through the public API.
    ("stanchion-errors", "stanchion-request-id"),
    // The configuration service registers every secret it loads with a redactor.
    ("stanchion-config", "stanchion-redact"),
    // One vocabulary of rollout modes: the guard's mode and the configuration's flags.
    ("stanchion-errors", "stanchion-rollout"),
    ("stanchion-config", "stanchion-rollout"),
];

/// Packages that make a crate depend on a web framework.
const WEB_FRAMEWORKS: &[&str] = &[
    "axum",
    "axum-core",
    "actix-web",
    "warp",
    "rocket",
    "poem",
    "salvo",
    "tonic",
];

/// Async runtimes the configuration core must not need.
const ASYNC_RUNTIMES: &[&str] = &["tokio", "async-std", "smol", "async-executor"];

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace root")
}

/// The names of every package in the normal (non-dev, non-build) dependency tree of `package`,
/// with the given feature arguments.
fn normal_tree(package: &str, feature_args: &[&str]) -> BTreeSet<String> {
    let output = Command::new(cargo())
        .current_dir(workspace_root())
        .args(["tree", "--offline", "-p", package, "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .args(feature_args)
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package} {feature_args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The Stanchion crates `package` depends on directly (normal dependencies, all features).
fn direct_stanchion_deps(package: &str) -> BTreeSet<String> {
    let output = Command::new(cargo())
        .current_dir(workspace_root())
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("packages array");
    let manifest = packages
        .iter()
        .find(|p| p["name"] == package)
        .unwrap_or_else(|| panic!("package {package} is in the workspace"));
    manifest["dependencies"]
        .as_array()
        .expect("dependencies array")
        .iter()
        .filter(|dep| dep["kind"].is_null())
        .filter_map(|dep| dep["name"].as_str())
        .filter(|name| name.starts_with("stanchion"))
        .map(str::to_owned)
        .collect()
}

fn assert_absent(package: &str, features: &[&str], tree: &BTreeSet<String>, banned: &[&str]) {
    let found: Vec<&&str> = banned.iter().filter(|b| tree.contains(**b)).collect();
    assert!(
        found.is_empty(),
        "{package} (features {features:?}) depends on {found:?}; see `cargo tree -p {package} \
         -e normal -i <name>` for the path that brings it in"
    );
}

#[test]
fn redact_depends_on_neither_tower_nor_http() {
    for features in [&["--no-default-features"][..], &["--all-features"][..]] {
        let tree = normal_tree("stanchion-redact", features);
        assert_absent(
            "stanchion-redact",
            features,
            &tree,
            &["tower", "tower-layer", "tower-service", "http", "hyper"],
        );
    }
}

#[test]
fn redact_core_does_not_need_tracing_subscriber() {
    let features = ["--no-default-features"];
    let tree = normal_tree("stanchion-redact", &features);
    assert_absent(
        "stanchion-redact",
        &features,
        &tree,
        &["tracing-subscriber"],
    );
}

#[test]
fn config_core_has_no_async_runtime_and_watching_is_a_feature() {
    let features = ["--no-default-features"];
    let tree = normal_tree("stanchion-config", &features);
    assert_absent("stanchion-config", &features, &tree, ASYNC_RUNTIMES);
    assert_absent("stanchion-config", &features, &tree, &["notify"]);
}

#[test]
fn request_id_knows_nothing_of_error_envelopes() {
    let features = ["--all-features"];
    let tree = normal_tree("stanchion-request-id", &features);
    assert_absent(
        "stanchion-request-id",
        &features,
        &tree,
        &["stanchion-errors"],
    );
}

#[test]
fn only_allowed_arrows_link_library_crates() {
    for library in LIBRARIES.iter().filter(|name| **name != "stanchion") {
        for dep in direct_stanchion_deps(library) {
            assert!(
                ALLOWED_ARROWS.contains(&(library, dep.as_str())),
                "{library} depends on {dep}; the workspace allows only {ALLOWED_ARROWS:?} outside \
                 the facade, the CLI, the examples, the benches and the tests"
            );
        }
    }
}

#[test]
fn no_library_enables_a_web_framework_by_default() {
    for library in LIBRARIES {
        let tree = normal_tree(library, &[]);
        assert_absent(library, &["default"], &tree, WEB_FRAMEWORKS);
    }
}
