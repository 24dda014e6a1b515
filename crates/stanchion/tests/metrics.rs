//! The recorder, the configuration metrics and the global install, without HTTP.

mod common;

use common::parse_prometheus;
use stanchion::{
    Metrics,
    config::{ConfigLoader, Registry},
    record_tools,
};

#[test]
fn record_tools_sets_a_gauge_per_tool_and_counts_problems_by_kind() {
    let registry = Registry::from_toml_str(
        r#"
        [[tools]]
        slug = "slack"
        required = ["SLACK_TOKEN", "SLACK_CHANNEL"]
        secrets = ["SLACK_TOKEN"]

        [[tools]]
        slug = "search"
        required = ["SEARCH_URL"]
        "#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "SEARCH_URL=https://search.internal\n",
    )
    .unwrap();
    let snapshot = ConfigLoader::new(registry)
        .with_dir(dir.path())
        .with_process_env([("APP_ENV", "development")])
        .load()
        .unwrap();

    let metrics = Metrics::for_current_thread();
    record_tools(&snapshot);
    let text = metrics.render();
    let (samples, _) = parse_prometheus(&text);
    let value = |name: &str, key: &str, label: &str| {
        samples
            .iter()
            .find(|s| s.name == name && s.label(key) == Some(label))
            .map(|s| s.value)
    };
    assert_eq!(
        value("stanchion_tools_enabled", "tool", "search"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value("stanchion_tools_enabled", "tool", "slack"),
        Some(0.0),
        "{text}"
    );
    // Slack misses two variables.
    assert_eq!(
        value("stanchion_config_errors_total", "kind", "MISSING"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value("stanchion_config_errors_total", "kind", "EMPTY"),
        Some(0.0)
    );
}

#[test]
fn the_global_recorder_is_installed_once_and_sees_every_thread() {
    let first = Metrics::install_global().unwrap();
    let second = Metrics::install_global().unwrap();
    std::thread::spawn(|| metrics::counter!("jobs_done_total", "queue" => "mail").increment(3))
        .join()
        .unwrap();
    for metrics in [first, second] {
        assert!(
            metrics
                .render()
                .contains(r#"jobs_done_total{queue="mail"} 3"#),
            "{}",
            metrics.render()
        );
    }
}

#[test]
fn a_thread_recorder_sees_only_its_thread() {
    let metrics = Metrics::for_current_thread();
    metrics::counter!("local_total").increment(1);
    std::thread::spawn(|| metrics::counter!("elsewhere_total").increment(1))
        .join()
        .unwrap();
    let text = metrics.render();
    assert!(text.contains("local_total 1"), "{text}");
    assert!(!text.contains("elsewhere_total"), "{text}");
}
