//! Feature `watch`: changes on disk are picked up without a call to `refresh`, including the
//! atomic symlink swap Kubernetes uses to update a mounted secret.

#![cfg(feature = "watch")]

mod common;

use std::{
    os::unix::fs::symlink,
    sync::Arc,
    time::{Duration, Instant},
};

use common::Fixture;
use stanchion_config::{ConfigService, Fingerprint};

/// Poll `probe` until it returns true or `limit` passes; polling, never a fixed sleep.
fn eventually(limit: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if probe() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    probe()
}

const LIMIT: Duration = Duration::from_secs(20);

const REGISTRY: &str = r#"
[[tools]]
slug = "chat"
required = ["CHAT_TOKEN"]
secrets = ["CHAT_TOKEN"]

[[tools]]
slug = "search"
required = ["SEARCH_URL"]
"#;

/// Lay out a secret mount the way kubelet does: `..data` → `..<version>`, and one symlink per
/// key through `..data`.
fn kubelet_mount(fx: &Fixture, version: &str, token: &str) {
    fx.write(&format!("secrets/..{version}/chat_token"), token);
    let data = fx.path("secrets/..data");
    if !data.exists() {
        symlink(format!("..{version}"), &data).expect("..data symlink");
        symlink("..data/chat_token", fx.path("secrets/chat_token")).expect("key symlink");
    }
}

/// Kubelet's update: write the new version, point a temporary symlink at it, rename it over
/// `..data` (one atomic rename), remove the old version.
fn kubelet_swap(fx: &Fixture, old: &str, new: &str, token: &str) {
    fx.write(&format!("secrets/..{new}/chat_token"), token);
    let tmp = fx.path("secrets/..data_tmp");
    symlink(format!("..{new}"), &tmp).expect("temp symlink");
    std::fs::rename(&tmp, fx.path("secrets/..data")).expect("atomic swap");
    std::fs::remove_dir_all(fx.path(&format!("secrets/..{old}"))).expect("remove old version");
}

fn fingerprint(service: &ConfigService) -> Option<Fingerprint> {
    service
        .snapshot()
        .variable("CHAT_TOKEN")
        .and_then(|v| v.fingerprint())
}

#[test]
fn a_symlink_swap_of_a_mounted_secret_is_seen() {
    let fx = Fixture::new();
    kubelet_mount(&fx, "2026_11_22_00_00_00.1", "first-token");
    let service = Arc::new(
        ConfigService::start(
            fx.loader(REGISTRY, &[])
                .with_secrets_dir(fx.path("secrets")),
        )
        .expect("start"),
    );
    let before = fingerprint(&service).expect("the mounted secret is read");
    assert_eq!(before.len(), "first-token".len());
    let handle = service.watch().expect("watch");
    assert!(handle.watched().contains(&fx.path("secrets")));

    kubelet_swap(
        &fx,
        "2026_11_22_00_00_00.1",
        "2026_11_22_00_05_00.2",
        "second-token-longer",
    );
    assert!(
        eventually(LIMIT, || fingerprint(&service) != Some(before)),
        "the watcher refreshed after the swap"
    );
    assert_eq!(
        fingerprint(&service).unwrap().len(),
        "second-token-longer".len()
    );
    assert_eq!(service.refresh_failures(), 0);
}

#[test]
fn a_dotenv_edit_flips_a_tool_and_a_broken_edit_keeps_the_last_good_snapshot() {
    let fx = Fixture::new();
    fx.write(".env", "# nothing yet\n");
    let service = Arc::new(ConfigService::start(fx.loader(REGISTRY, &[])).expect("start"));
    let _handle = service.watch().expect("watch");
    assert!(!service.snapshot().is_enabled("search"));

    fx.write(".env", "SEARCH_URL=https://search.example\n");
    assert!(
        eventually(LIMIT, || service.snapshot().is_enabled("search")),
        "edit seen"
    );

    fx.write(".env", "SEARCH_URL=\"https://half-writ");
    assert!(
        eventually(LIMIT, || service.refresh_failures() >= 1),
        "broken edit counted"
    );
    assert!(
        service.snapshot().is_enabled("search"),
        "the last good snapshot is kept"
    );
}
