//! The recorder, the configuration metrics and the global install, without HTTP.

mod common;

use common::parse_prometheus;
use stanchion::{
    Metrics,
    config::{ConfigLoader, ConfigService, Registry},
    redact::Redactor,
};

fn service() -> std::sync::Arc<ConfigService> {
    let registry = Registry::from_toml_str(
        r#"
        [[tools]]
        slug = "slack"
        required = ["SLACK_TOKEN", "SLACK_CHANNEL"]
        secrets = ["SLACK_TOKEN"]
        critical = true

        [[tools]]
        slug = "search"
        required = ["SEARCH_URL"]
        "#,
    )
    .expect("a valid registry");
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(
        dir.path().join(".env"),
        "SEARCH_URL=https://search.internal\n",
    )
    .expect("the .env file is written");
    let loader = ConfigLoader::new(registry)
        .with_dir(dir.path())
        .with_process_env([("APP_ENV", "development")]);
    std::sync::Arc::new(ConfigService::start(loader).expect("the configuration loads"))
}

#[test]
fn a_configuration_loaded_before_the_recorder_is_replayed_on_every_scrape() {
    // Loaded first, as a service does: no recorder of this thread sees the load.
    let config = service();
    let metrics = Metrics::for_current_thread();
    assert!(
        !metrics.render().contains("stanchion_config_tool_enabled{"),
        "the load happened before the recorder: nothing to see without the replay"
    );

    let metrics = metrics.with_config(config);
    let text = metrics.render();
    let (samples, _) = parse_prometheus(&text);
    let value = |name: &str, key: &str, label: &str| {
        samples
            .iter()
            .find(|s| s.name == name && s.label(key) == Some(label))
            .map(|s| s.value)
    };
    assert_eq!(
        value("stanchion_config_tool_enabled", "tool", "search"),
        Some(1.0),
        "{text}"
    );
    let slack = samples
        .iter()
        .find(|s| s.name == "stanchion_config_tool_enabled" && s.label("tool") == Some("slack"))
        .unwrap();
    assert_eq!(slack.value, 0.0);
    assert_eq!(slack.label("env"), Some("development"));
    assert_eq!(slack.label("critical"), Some("true"));
    // Slack misses two variables.
    assert_eq!(
        value("stanchion_config_tool_reasons", "kind", "MISSING"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value("stanchion_config_tool_reasons", "kind", "EMPTY"),
        Some(0.0)
    );
    assert!(
        text.contains("stanchion_config_last_refresh_successful 1"),
        "{text}"
    );
    assert!(
        text.contains(r#"stanchion_rollout_mode{flag="SECRETS_VAULT_MODE",mode="off"} 1"#),
        "{text}"
    );
}

#[test]
fn redactions_build_info_and_process_metrics_are_collected_at_render() {
    let redactor = Redactor::new();
    let metrics = Metrics::for_current_thread()
        .with_redactor(redactor.clone())
        .with_build_info("jobs", "1.2.3");
    let before = metrics.render();
    assert!(
        before.contains(r#"stanchion_log_redactions_total{rule="github-pat"} 0"#),
        "every rule is exported from zero: {before}"
    );
    let _ = redactor.redact("deploy key ghp_0123456789abcdefghijABCDEFGHIJ012345 leaked");
    let text = metrics.render();
    assert!(
        text.contains(r#"stanchion_log_redactions_total{rule="github-pat"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"stanchion_build_info{service="jobs",version="1.2.3"} 1"#),
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes "), "{text}");
    assert!(text.contains("process_start_time_seconds "), "{text}");
}

#[test]
fn every_family_has_help_and_a_type() {
    let config = service();
    let metrics = Metrics::for_current_thread()
        .with_config(config)
        .with_redactor(Redactor::new())
        .with_build_info("jobs", "1.2.3");
    metrics::histogram!(stanchion::metrics::HTTP_REQUEST_DURATION_SECONDS, "http_route" => "/x")
        .record(0.1);
    metrics::counter!(stanchion::errors::VIOLATIONS_METRIC, "mode" => "audit").increment(1);
    let text = metrics.render();
    let families: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    assert!(families.len() > 10, "{text}");
    for family in families {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} has no HELP line: {text}"
        );
    }
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
