//! Refresh: on demand, last good kept on failure, failures counted, flips reported, events
//! and metrics emitted through the real `tracing` and `metrics` facades.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use common::Fixture;
use metrics::{SharedString, Unit};
use metrics_util::{
    CompositeKey,
    debugging::{DebugValue, DebuggingRecorder, Snapshotter},
};
use stanchion_config::{ConfigLoader, ConfigService};

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

/// One reading of the recorder (counters are reset by each reading).
type Reading = Vec<(CompositeKey, Option<Unit>, Option<SharedString>, DebugValue)>;

fn read(snapshotter: &Snapshotter) -> Reading {
    snapshotter.snapshot().into_vec()
}

fn counter(reading: &Reading, name: &str) -> u64 {
    reading
        .iter()
        .filter(|(key, ..)| key.key().name() == name)
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => *n,
            other => panic!("{name} is not a counter: {other:?}"),
        })
        .sum()
}

fn gauge(reading: &Reading, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    reading
        .iter()
        .find(|(key, ..)| {
            key.key().name() == name
                && label
                    .is_none_or(|(k, v)| key.key().labels().any(|l| l.key() == k && l.value() == v))
        })
        .map(|(.., value)| match value {
            DebugValue::Gauge(g) => g.0,
            other => panic!("{name} is not a gauge: {other:?}"),
        })
}

#[test]
fn refresh_reports_the_tools_that_flipped() {
    let fx = Fixture::new();
    fx.write(".env", "SEARCH_URL=https://search.example\n");
    let service = service(&fx);
    let before = service.snapshot();
    assert!(before.is_enabled("search") && !before.is_enabled("slack"));

    fx.write(".env.production", "SLACK_TOKEN=xoxb-1\n");
    fx.remove(".env");
    let report = service.refresh().expect("refresh");
    let flipped: Vec<(String, bool)> = report
        .flipped
        .iter()
        .map(|f| (f.slug.clone(), f.enabled))
        .collect();
    assert_eq!(
        flipped,
        [("slack".to_owned(), true), ("search".to_owned(), false)]
    );
    assert!(report.id > before.refresh_id());
    assert_eq!(service.snapshot().refresh_id(), report.id);
    assert!(
        before.is_enabled("search"),
        "an old snapshot held by a reader never changes"
    );
}

#[test]
fn a_failed_refresh_keeps_the_last_good_snapshot_and_is_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let fx = Fixture::new();
        fx.write(".env", "SEARCH_URL=https://search.example\n");
        let service = service(&fx);
        let good = service.snapshot().refresh_id();

        // 1. The registry file is deleted.
        fx.remove("tools.toml");
        let error = service.refresh().unwrap_err();
        assert_eq!(error.kept(), good);
        assert_eq!(error.error().kind(), "registry");
        let first = read(&snapshotter);
        assert_eq!(
            gauge(&first, "stanchion_config_last_refresh_successful", None),
            Some(0.0)
        );

        // 2. The registry is truncated mid-table.
        fx.write(
            "tools.toml",
            &REGISTRY[..REGISTRY.find("required").unwrap() + 12],
        );
        assert_eq!(service.refresh().unwrap_err().error().kind(), "registry");

        // 3. A dotenv file is half-written: the writer stopped inside a quoted value.
        fx.write("tools.toml", REGISTRY);
        fx.write(
            ".env",
            "SEARCH_URL=https://search.example\nSLACK_TOKEN=\"xoxb-half",
        );
        let error = service.refresh().unwrap_err();
        assert_eq!(error.error().kind(), "dotenv");
        assert!(error.to_string().contains("line 2"), "{error}");
        assert!(!error.to_string().contains("xoxb"), "{error}");

        // 4. A dotenv file is truncated to a prefix that is valid: that is a real change.
        fx.write(
            ".env",
            "SEARCH_URL=https://search.example\nSLACK_TOKEN=\"xoxb-whole\"\n",
        );
        let report = service.refresh().expect("whole file");

        let last = read(&snapshotter);
        assert_eq!(service.refresh_failures(), 3);
        // Recorded as an absolute count, so the last reading holds the whole total.
        assert_eq!(
            counter(&first, "stanchion_config_refresh_failures_total"),
            1
        );
        assert_eq!(counter(&last, "stanchion_config_refresh_failures_total"), 3);
        assert_eq!(service.snapshot().refresh_id(), report.id);
        assert!(service.snapshot().is_enabled("slack"));
        assert_eq!(
            gauge(&last, "stanchion_config_last_refresh_successful", None),
            Some(1.0)
        );
        assert_eq!(
            gauge(
                &last,
                "stanchion_config_tool_enabled",
                Some(("tool", "slack"))
            ),
            Some(1.0)
        );
        let enabled_in_production: f64 = last
            .iter()
            .filter(|(key, ..)| {
                key.key().name() == "stanchion_config_tool_enabled"
                    && key
                        .key()
                        .labels()
                        .any(|l| l.key() == "env" && l.value() == "production")
            })
            .map(|(.., value)| match value {
                DebugValue::Gauge(n) => n.into_inner(),
                other => panic!("not a gauge: {other:?}"),
            })
            .sum();
        assert_eq!(enabled_in_production, 2.0, "tools enabled per environment");
        let durations: usize = [&first, &last]
            .into_iter()
            .flatten()
            .filter(|(key, ..)| key.key().name() == "stanchion_config_refresh_duration_seconds")
            .map(|(.., value)| match value {
                DebugValue::Histogram(values) => values.len(),
                other => panic!("not a histogram: {other:?}"),
            })
            .sum();
        assert_eq!(durations, 4, "every refresh is timed, failed ones too");
    });
}

#[test]
fn readers_are_never_blocked_by_a_refresh() {
    let fx = Fixture::new();
    fx.write(".env", "SEARCH_URL=https://search.example\n");
    let service = Arc::new(service(&fx));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (service, stop) = (Arc::clone(&service), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut reads = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let snapshot = service.snapshot();
                // Every snapshot a reader sees is whole: the tool list never half-updates.
                assert_eq!(snapshot.tools().len(), 2);
                assert_eq!(service.current().tools().len(), 2);
                reads += 1;
            }
            reads
        })
    };
    for round in 0..20 {
        let value = if round % 2 == 0 {
            "SEARCH_URL=\n"
        } else {
            "SEARCH_URL=https://s.example\n"
        };
        fx.write(".env", value);
        service.refresh().expect("refresh");
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().expect("reader thread") > 0);
}

#[test]
fn a_deleted_secret_file_disables_its_tool_on_refresh_without_failing_it() {
    let fx = Fixture::new();
    let token = fx.write("run/slack-token", "xoxb-from-file\n");
    fx.write("tools.toml", REGISTRY);
    let loader = ConfigLoader::from_registry_file(fx.path("tools.toml"))
        .with_dir(fx.root())
        .with_process_env([("SLACK_TOKEN_FILE", token.display().to_string())]);
    let service = ConfigService::start(loader).expect("start");
    assert!(service.snapshot().is_enabled("slack"));

    fx.remove("run/slack-token");
    let report = service
        .refresh()
        .expect("a missing secret file is a state, not a failure");
    assert_eq!(report.flipped.len(), 1);
    assert_eq!(
        (report.flipped[0].slug.as_str(), report.flipped[0].enabled),
        ("slack", false)
    );
    let snapshot = service.snapshot();
    let reason = &snapshot.tool("slack").unwrap().reasons()[0];
    assert_eq!(reason.kind(), stanchion_config::ReasonKind::Unreadable);
    assert!(
        reason.message().contains("slack-token"),
        "{}",
        reason.message()
    );
    assert_eq!(service.refresh_failures(), 0);
}
