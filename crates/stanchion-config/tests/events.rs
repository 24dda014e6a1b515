//! Structured events of a load and a refresh, captured from real `tracing` output.
//!
//! One test in this binary on purpose: `tracing` caches callsite interest process-wide, so a
//! parallel test emitting the same events without a subscriber could hide some of them.

mod common;

use common::Fixture;
use stanchion_config::{ConfigLoader, ConfigService};
use stanchion_test_support::CapturedLogs;

const REGISTRY: &str = r#"
[[tools]]
slug = "slack"
required = ["SLACK_TOKEN"]
secrets = ["SLACK_TOKEN"]

[[tools]]
slug = "search"
required = ["SEARCH_URL"]
"#;

fn service(fx: &Fixture) -> ConfigService {
    fx.write("tools.toml", REGISTRY);
    let loader = ConfigLoader::from_registry_file(fx.path("tools.toml"))
        .with_dir(fx.root())
        .with_process_env([("APP_ENV", "production")]);
    ConfigService::start(loader).expect("first load")
}

#[test]
fn events_name_the_tool_env_source_and_refresh_id() {
    let logs = CapturedLogs::new();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(logs.clone())
        .finish();
    let fx = Fixture::new();
    let snapshot = tracing::subscriber::with_default(subscriber, || {
        let service = service(&fx);
        service.refresh().expect("refresh");
        service.snapshot()
    });
    let lines = logs.json_lines();
    let missing: Vec<_> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "required variable missing")
        .collect();
    let last = missing.last().expect("a missing-variable event");
    assert_eq!(last["target"], "stanchion_config");
    assert_eq!(last["fields"]["env"], "production");
    assert_eq!(
        last["fields"]["refresh_id"],
        snapshot.refresh_id().to_string()
    );
    let tools: Vec<&str> = missing
        .iter()
        .filter_map(|l| l["fields"]["tool"].as_str())
        .collect();
    assert!(
        tools.contains(&"slack") && tools.contains(&"search"),
        "{tools:?}"
    );
    assert!(
        last["fields"]["source"]
            .as_str()
            .unwrap()
            .contains("process environment")
    );
    let disabled = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "tool disabled")
        .count();
    assert_eq!(disabled, 4, "two tools, two loads");
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "configuration refreshed"
                && l["fields"]["duration_ms"].is_number())
    );
}
