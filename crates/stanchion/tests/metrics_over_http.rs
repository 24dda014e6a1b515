//! `/metrics` of a service running the full stack, scraped over real HTTP.

mod common;

use axum::{Router, extract::Path, routing::get};
use common::{get as http_get, parse_prometheus, serve};
use stanchion::{Metrics, Stack};

async fn panicking() -> &'static str {
    panic!("handler bug");
}

fn app(metrics: Metrics) -> Router {
    Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { id.to_string() }),
        )
        .route("/panic", get(panicking))
        .merge(metrics.route())
        .layer(Stack::new())
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_with_bounded_labels_and_a_2_5_s_bucket() {
    let metrics = Metrics::for_current_thread();
    let addr = serve(app(metrics)).await;
    for path in [
        "/users/1",
        "/users/2",
        "/users/3",
        "/no/such/raw/path",
        "/panic",
    ] {
        http_get(addr, path).await;
    }
    let reply = http_get(addr, "/metrics").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = reply.text();
    let (samples, types) = parse_prometheus(&text);

    // OpenTelemetry's HTTP server semantic conventions, as a Prometheus exporter renders them,
    // plus the taxonomy code of error responses.
    let requests = |route: &str, status: &str, code: Option<&str>| {
        samples
            .iter()
            .find(|s| {
                s.name == "http_server_request_duration_seconds_count"
                    && s.label("http_route") == Some(route)
                    && s.label("http_request_method") == Some("GET")
                    && s.label("http_response_status_code") == Some(status)
                    && s.label("error_code") == code
            })
            .map(|s| s.value)
    };
    assert_eq!(requests("/users/{id}", "200", None), Some(3.0), "{text}");
    assert_eq!(
        requests("unmatched", "404", Some("NOT_FOUND")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        requests("/panic", "500", Some("INTERNAL_ERROR")),
        Some(1.0),
        "{text}"
    );

    // Bounded labels: no raw path, no request ID, only the documented label names.
    for sample in samples
        .iter()
        .filter(|s| s.name.starts_with("http_server_"))
    {
        for (key, value) in &sample.labels {
            assert!(
                [
                    "http_route",
                    "http_request_method",
                    "http_response_status_code",
                    "error_code",
                    "le"
                ]
                .contains(&key.as_str()),
                "unexpected label {key} in {sample:?}"
            );
            assert!(
                !value.contains("/users/1") && !value.contains("raw"),
                "{sample:?}"
            );
        }
    }

    assert!(
        types.contains(&(
            "http_server_request_duration_seconds".into(),
            "histogram".into()
        )),
        "{text}"
    );
    let les: Vec<&str> = samples
        .iter()
        .filter(|s| {
            s.name == "http_server_request_duration_seconds_bucket"
                && s.label("http_route") == Some("/users/{id}")
        })
        .filter_map(|s| s.label("le"))
        .collect();
    assert_eq!(
        les,
        [
            "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5",
            "5", "7.5", "10", "+Inf"
        ],
        "{text}"
    );
    let count = samples
        .iter()
        .find(|s| {
            s.name == "http_server_request_duration_seconds_count"
                && s.label("http_route") == Some("/users/{id}")
        })
        .map(|s| s.value);
    assert_eq!(count, Some(3.0));
}

#[tokio::test]
async fn shadow_mode_passes_plain_errors_through_and_counts_them() {
    let metrics = Metrics::for_current_thread();
    let router = Router::new()
        .route(
            "/legacy",
            get(|| async { (http::StatusCode::CONFLICT, "plain text conflict") }),
        )
        .merge(metrics.clone().route())
        .layer(Stack::new().with_guard_mode(stanchion::rollout::RolloutMode::Shadow));
    let addr = serve(router).await;
    let reply = http_get(addr, "/legacy").await;
    assert_eq!(reply.status, 409);
    assert_eq!(
        reply.text(),
        "plain text conflict",
        "shadow mode rewrites nothing"
    );

    let (samples, _) = parse_prometheus(&metrics.render());
    let violations = samples
        .iter()
        .find(|s| {
            s.name == "stanchion_guard_violations_total"
                && s.label("mode") == Some("shadow")
                && s.label("status") == Some("409")
        })
        .map(|s| s.value);
    assert_eq!(violations, Some(1.0));
    let would_deny = samples
        .iter()
        .find(|s| {
            s.name == "stanchion_rollout_decisions_total"
                && s.label("flag") == Some("GUARD_MODE")
                && s.label("outcome") == Some("would_deny")
        })
        .map(|s| s.value);
    assert_eq!(
        would_deny,
        Some(1.0),
        "the guard's shadow decision is counted"
    );
    let requests = samples
        .iter()
        .find(|s| {
            s.name == "http_server_request_duration_seconds_count"
                && s.label("http_route") == Some("/legacy")
        })
        .map(|s| {
            (
                s.label("http_response_status_code").map(str::to_owned),
                s.value,
            )
        });
    assert_eq!(requests, Some((Some("409".to_owned()), 1.0)));
}
