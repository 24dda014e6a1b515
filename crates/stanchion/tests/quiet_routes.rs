//! Probes and scrapes log at DEBUG with `Stack::with_quiet_routes`, while they succeed; a
//! failing probe and every other route keep INFO (or WARN).

use axum::{Router, http::StatusCode, routing::get};
use stanchion::{PROBE_ROUTES, Stack, Telemetry};
use stanchion_test_support::CapturedLogs;
use tower::ServiceExt as _;

async fn call(app: &Router, path: &str) -> StatusCode {
    let request = http::Request::get(path)
        .body(axum::body::Body::empty())
        .expect("a request");
    app.clone()
        .oneshot(request)
        .await
        .expect("infallible")
        .status()
}

fn access_levels(logs: &CapturedLogs) -> Vec<(String, String, u64)> {
    logs.json_lines()
        .into_iter()
        .filter(|line| line["target"] == "stanchion::access")
        .map(|line| {
            (
                line["route"].as_str().unwrap_or_default().to_owned(),
                line["level"].as_str().unwrap_or_default().to_owned(),
                line["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

fn app(stack: Stack) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "not ready") }),
        )
        .route("/metrics", get(|| async { "# metrics" }))
        .route("/api/hello", get(|| async { "hi" }))
        .layer(stack)
}

#[tokio::test]
async fn probes_and_scrapes_log_at_debug_while_they_succeed() {
    let logs = CapturedLogs::new();
    let _guard = tracing::subscriber::set_default(
        Telemetry::new("svc")
            .with_filter("debug")
            .build(logs.clone()),
    );
    let app = app(Stack::new().with_quiet_routes(PROBE_ROUTES));
    for path in ["/livez", "/metrics", "/readyz", "/api/hello"] {
        call(&app, path).await;
    }
    let levels = access_levels(&logs);
    let level = |route: &str| {
        levels
            .iter()
            .find(|(r, _, _)| r == route)
            .map(|(_, level, status)| (level.as_str(), *status))
            .unwrap_or_else(|| panic!("no access line for {route}: {levels:?}"))
    };
    assert_eq!(level("/livez"), ("DEBUG", 200));
    assert_eq!(level("/metrics"), ("DEBUG", 200));
    // A failing probe is news: its level is not lowered.
    assert_eq!(level("/readyz"), ("WARN", 503));
    assert_eq!(level("/api/hello"), ("INFO", 200));
}

#[tokio::test]
async fn at_info_a_probe_writes_no_line_and_by_default_every_route_is_info() {
    let logs = CapturedLogs::new();
    let _guard = tracing::subscriber::set_default(
        Telemetry::new("svc")
            .with_filter("info")
            .build(logs.clone()),
    );
    let quiet = app(Stack::new().with_quiet_routes(PROBE_ROUTES));
    call(&quiet, "/livez").await;
    call(&quiet, "/api/hello").await;
    let routes: Vec<_> = access_levels(&logs)
        .into_iter()
        .map(|(r, _, _)| r)
        .collect();
    assert_eq!(routes, ["/api/hello"]);

    let default = app(Stack::new());
    call(&default, "/livez").await;
    assert_eq!(
        access_levels(&logs)
            .last()
            .map(|(r, l, _)| (r.clone(), l.clone())),
        Some(("/livez".to_owned(), "INFO".to_owned()))
    );
}
