//! `promtool check metrics` (Prometheus' own linter) is clean on a live `/metrics` of both
//! services, after traffic that touches every kind of series (success, auth failure, unknown
//! route, upstream call, a redaction).

mod common;
use stanchion_test_support::programs as ops;

use common::{Client, start_system};

#[tokio::test]
async fn promtool_finds_nothing_to_lint_on_either_services_metrics() {
    let Some(promtool) = ops::program("promtool") else {
        return;
    };
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    common::chat_once_with_and_once_without_a_token(&system, &client).await;
    let missing = client.get(&system.backend.url("/nowhere"), &[]).await;
    assert_eq!(missing.status, 404);
    // A plain 405 from the router: the guard rewrites it (a violation, counted).
    let wrong_method = client.get(&system.backend.url("/api/v1/chat"), &[]).await;
    assert_eq!(wrong_method.status, 405);

    for server in [&system.backend, &system.agent] {
        let reply = client.get(&server.url("/metrics"), &[]).await;
        assert_eq!(reply.status, 200);
        let text = reply.text();
        assert!(
            text.contains("http_server_request_duration_seconds_bucket"),
            "{}: {text}",
            server.name
        );
        if server.name == "backend" {
            // The SLO generator accepts only families the services export: keep it true.
            for family in stanchion_slo::families() {
                let only_after = [
                    ("up", "Prometheus adds it"),
                    ("stanchion_config_load_errors_total", "a failed load"),
                    ("stanchion_config_refresh_duration_seconds", "a refresh"),
                    ("stanchion_rollout_switches_total", "a rollout mode switch"),
                ];
                if only_after.iter().any(|(name, _)| *name == family.name) {
                    continue;
                }
                assert!(
                    text.contains(&format!("# TYPE {} ", family.name)),
                    "the SLO catalogue names {}, which the backend does not export:\n{text}",
                    family.name
                );
            }
        }
        let (code, lint) = ops::run(&promtool, &["check", "metrics"], &text);
        assert!(
            code == 0 && lint.trim().is_empty(),
            "promtool check metrics on {} exited {code}:\n{lint}\n--- exposition ---\n{text}",
            server.name
        );
    }
}
