//! `/metrics` of both services parses as Prometheus text (a strict parser, not a substring
//! search) with the request, latency, error and tool metrics under bounded labels; the health
//! endpoints answer `application/health+json`.

mod common;

use std::collections::BTreeSet;

use common::{
    Client,
    prometheus::{self, Exposition},
    start_system,
};

async fn scrape(client: &Client, server: &common::Server) -> Exposition {
    let reply = client.get(&server.url("/metrics"), &[]).await;
    assert_eq!(
        reply.status,
        200,
        "{} /metrics: {}",
        server.name,
        reply.text()
    );
    let content_type = reply.headers["content-type"].to_str().unwrap_or_default();
    assert!(
        content_type == "text/plain; version=0.0.4; charset=utf-8",
        "{} /metrics content type {content_type:?}",
        server.name
    );
    let text = reply.text();
    prometheus::parse(&text).unwrap_or_else(|error| {
        panic!(
            "{} /metrics is not Prometheus text: {error}\n{text}",
            server.name
        )
    })
}

fn value_of(exposition: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition
        .samples()
        .filter(|s| s.name == name)
        .find(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_with_bounded_labels() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    common::chat_once_with_and_once_without_a_token(&system, &client).await;
    for marker in [
        "raw-path-marker-1",
        "raw-path-marker-2",
        "raw-path-marker-3",
    ] {
        let reply = client
            .get(&system.backend.url(&format!("/api/v1/{marker}")), &[])
            .await;
        assert_eq!(reply.status, 404);
    }

    let backend = scrape(&client, &system.backend).await;
    let duration = backend
        .family("http_server_request_duration_seconds")
        .expect("the latency histogram is exposed");
    assert_eq!(duration.kind, "histogram");
    // OpenTelemetry's HTTP server labels, plus the taxonomy code on error responses.
    for sample in &duration.samples {
        let keys: BTreeSet<&str> = sample.labels.keys().map(String::as_str).collect();
        let base = BTreeSet::from([
            "http_request_method",
            "http_route",
            "http_response_status_code",
        ]);
        assert!(base.is_subset(&keys), "{sample:?}");
        let status: u16 = sample.labels["http_response_status_code"]
            .parse()
            .expect("a numeric status code");
        assert_eq!(
            keys.contains("error_code"),
            status >= 400,
            "error_code exactly on error responses: {sample:?}"
        );
    }
    let count = "http_server_request_duration_seconds_count";
    let served = value_of(
        &backend,
        count,
        &[
            ("http_route", "/api/v1/chat"),
            ("http_request_method", "POST"),
            ("http_response_status_code", "200"),
        ],
    );
    assert!(
        served.is_some_and(|v| v >= 1.0),
        "the served chat is counted: {served:?}"
    );
    let rejected = value_of(
        &backend,
        count,
        &[
            ("http_route", "/api/v1/chat"),
            ("http_request_method", "POST"),
            ("http_response_status_code", "401"),
            ("error_code", "AUTH_REQUIRED"),
        ],
    );
    assert!(
        rejected.is_some_and(|v| v >= 1.0),
        "the 401 is counted: {rejected:?}"
    );
    // Three different unknown paths are one bounded series, never three raw paths.
    let unmatched = value_of(
        &backend,
        count,
        &[
            ("http_route", "unmatched"),
            ("http_request_method", "GET"),
            ("error_code", "NOT_FOUND"),
        ],
    );
    assert!(
        unmatched.is_some_and(|v| v >= 3.0),
        "unknown routes: {unmatched:?}"
    );
    for sample in backend.samples() {
        for value in sample.labels.values() {
            assert!(
                !value.contains("raw-path-marker"),
                "raw path as a label: {sample:?}"
            );
        }
    }
    let bounds: BTreeSet<&str> = duration
        .samples
        .iter()
        .filter_map(|s| s.labels.get("le").map(String::as_str))
        .collect();
    for bound in ["0.005", "0.1", "1", "2.5", "10", "+Inf"] {
        assert!(bounds.contains(bound), "bucket le={bound} in {bounds:?}");
    }

    let auth_failures = value_of(
        &backend,
        "backend_auth_verification_failures_total",
        &[("reason", "missing")],
    );
    assert!(auth_failures.is_some_and(|v| v >= 1.0), "{auth_failures:?}");
    let agent_calls = value_of(
        &backend,
        "backend_upstream_request_duration_seconds_count",
        &[("upstream", "agent"), ("outcome", "ok")],
    );
    assert!(agent_calls.is_some_and(|v| v >= 1.0), "{agent_calls:?}");

    let tools = backend
        .family("stanchion_config_tool_enabled")
        .expect("stanchion_config_tool_enabled is exposed");
    assert_eq!(tools.kind, "gauge");
    assert!(!tools.samples.is_empty());
    for sample in &tools.samples {
        for label in ["env", "tool", "critical"] {
            assert!(sample.labels.contains_key(label), "{sample:?}");
        }
        assert!(sample.value == 0.0 || sample.value == 1.0, "{sample:?}");
    }
    for family in [
        "stanchion_config_tool_reasons",
        "stanchion_config_last_refresh_successful",
        "stanchion_log_redactions_total",
        "stanchion_build_info",
        "stanchion_rollout_mode",
        "process_resident_memory_bytes",
    ] {
        assert!(backend.family(family).is_some(), "{family} is exposed");
    }

    // The agent's own recorder saw the forwarded chat, under its own route.
    let agent = scrape(&client, &system.agent).await;
    let forwarded = value_of(
        &agent,
        "http_server_request_duration_seconds_count",
        &[
            ("http_route", "/v1/chat"),
            ("http_request_method", "POST"),
            ("http_response_status_code", "200"),
        ],
    );
    assert!(
        forwarded.is_some_and(|v| v >= 1.0),
        "agent chat: {forwarded:?}"
    );
    // And the backend's routes are not in the agent's metrics: each service has its recorder.
    assert!(
        agent.samples().all(|s| s
            .labels
            .get("http_route")
            .is_none_or(|r| !r.starts_with("/api/"))),
        "the agent's metrics show the backend's routes"
    );
}

#[tokio::test]
async fn health_endpoints_answer_health_json() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    for (server, paths) in [
        (&system.backend, &["/livez", "/readyz", "/health"][..]),
        (&system.agent, &["/livez", "/readyz"][..]),
    ] {
        for path in paths {
            let reply = client.get(&server.url(path), &[]).await;
            assert_eq!(
                reply.status,
                200,
                "{} {path}: {}",
                server.name,
                reply.text()
            );
            let content_type = reply.headers["content-type"].to_str().unwrap_or_default();
            assert!(
                content_type.starts_with("application/health+json"),
                "{} {path}: {content_type}",
                server.name
            );
            let report = reply.json();
            let status = report["status"].as_str().unwrap_or_default();
            assert!(
                status == "pass" || status == "warn",
                "{} {path}: {report}",
                server.name
            );
        }
    }
    let ready = client.get(&system.backend.url("/readyz"), &[]).await.json();
    assert_eq!(ready["checks"]["agent"][0]["status"], "pass", "{ready}");
    let checks = ready["checks"].as_object().expect("checks is a map");
    assert!(checks.len() >= 3, "config, tools and agent checks: {ready}");
    for (name, results) in checks {
        for result in results.as_array().expect("each check is a list") {
            let status = result["status"].as_str().unwrap_or_default();
            assert!(
                ["pass", "warn", "fail"].contains(&status),
                "{name}: {result}"
            );
        }
    }
}

#[test]
fn the_prometheus_parser_accepts_the_format() {
    let text = "# HELP requests_total Requests.\n# TYPE requests_total counter\n\
                requests_total{route=\"/a\",method=\"GET\"} 3\nrequests_total{route=\"q\\\"x\\\\\\n\"} 1 1700000000\n\
                # TYPE latency_seconds histogram\n\
                latency_seconds_bucket{le=\"0.5\"} 1\nlatency_seconds_bucket{le=\"+Inf\"} 2\n\
                latency_seconds_sum 0.9\nlatency_seconds_count 2\n\
                # TYPE up gauge\nup NaN\n";
    let exposition = prometheus::parse(text).expect("valid text");
    assert_eq!(exposition.families.len(), 3);
    assert_eq!(
        exposition.family("requests_total").expect("parsed").samples[1].labels["route"],
        "q\"x\\\n"
    );
}

#[test]
fn the_prometheus_parser_rejects_what_the_format_forbids() {
    let cases = [
        ("no TYPE", "requests_total 1\n"),
        ("bad name", "# TYPE 1abc counter\n1abc 1\n"),
        ("bad label name", "# TYPE a counter\na{1x=\"y\"} 1\n"),
        ("unquoted label", "# TYPE a counter\na{x=y} 1\n"),
        ("bad escape", "# TYPE a counter\na{x=\"\\t\"} 1\n"),
        ("bad value", "# TYPE a counter\na 1,5\n"),
        ("inf spelled Rust's way", "# TYPE a gauge\na inf\n"),
        ("negative counter", "# TYPE a counter\na -1\n"),
        ("two spaces", "# TYPE a counter\na  1\n"),
        ("trailing text", "# TYPE a counter\na 1 2 3\n"),
        ("unknown type", "# TYPE a meter\na 1\n"),
        ("second TYPE", "# TYPE a counter\n# TYPE a counter\na 1\n"),
        (
            "split group",
            "# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na{x=\"y\"} 2\n",
        ),
        ("no final newline", "# TYPE a counter\na 1"),
        ("repeated label", "# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n"),
        (
            "histogram without +Inf",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        ),
        (
            "histogram +Inf != count",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
        ),
        (
            "histogram not cumulative",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
        ),
        (
            "histogram without sum",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n",
        ),
    ];
    for (what, text) in cases {
        assert!(
            prometheus::parse(text).is_err(),
            "{what}: accepted {text:?}"
        );
    }
}
