//! Audit mode: a non-envelope error passes through unchanged, and is logged and counted.
//!
//! In its own test binary: tracing caches per-callsite interest for the whole process, so an
//! event captured here could be lost if another test in the same binary hit the callsite first
//! without a subscriber.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
    routing::get,
};
use http_body_util::BodyExt;
use stanchion_errors::{GUARD_TARGET, GuardLayer, RolloutMode, VIOLATIONS_METRIC};
use stanchion_test_support::CapturedLogs;
use tower::ServiceExt;

fn app() -> Router {
    Router::new()
        .route(
            "/limited",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "7")],
                    "Too Many Requests! Wait for 7s",
                )
            }),
        )
        .layer(GuardLayer::new().with_mode(RolloutMode::Shadow))
}

#[test]
fn shadow_mode_passes_through_and_logs_and_counts_a_would_deny() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let logs = CapturedLogs::new();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(logs.clone())
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (status, content_type, body) = metrics::with_local_recorder(&recorder, || {
        tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(async {
                let request = Request::get("/limited").body(Body::empty()).unwrap();
                let response = app().oneshot(request).await.unwrap();
                let status = response.status();
                let content_type = response.headers()[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (
                    status,
                    content_type,
                    String::from_utf8(body.to_vec()).unwrap(),
                )
            })
        })
    });
    assert_eq!(status, 429);
    assert_eq!(body, "Too Many Requests! Wait for 7s");
    assert!(content_type.starts_with("text/plain"), "{content_type}");

    let lines = logs.json_lines();
    let event = lines
        .iter()
        .find(|line| line["target"] == GUARD_TARGET)
        .unwrap_or_else(|| panic!("no guard event in {lines:?}"));
    assert_eq!(event["fields"]["status"], 429);
    assert_eq!(event["fields"]["mode"], "shadow");
    assert_eq!(event["fields"]["content_type"], "text/plain");

    let reading = snapshotter.snapshot().into_vec();
    let decisions: Vec<_> = reading
        .iter()
        .filter(|(key, ..)| key.key().name() == "stanchion_rollout_decisions_total")
        .map(|(key, _, _, value)| {
            let labels: Vec<_> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let count = match value {
                metrics_util::debugging::DebugValue::Counter(n) => *n,
                other => panic!("not a counter: {other:?}"),
            };
            (labels, count)
        })
        .collect();
    assert_eq!(
        decisions,
        [(
            vec![
                "flag=GUARD_MODE".to_owned(),
                "outcome=would_deny".to_owned()
            ],
            1
        )]
    );
    let counted: u64 = reading
        .into_iter()
        .filter(|(key, ..)| key.key().name() == VIOLATIONS_METRIC)
        .map(|(key, _, _, value)| {
            let labels: Vec<_> = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            assert!(
                labels.contains(&("mode".into(), "shadow".into())),
                "{labels:?}"
            );
            assert!(
                labels.contains(&("status".into(), "429".into())),
                "{labels:?}"
            );
            match value {
                metrics_util::debugging::DebugValue::Counter(n) => n,
                other => panic!("not a counter: {other:?}"),
            }
        })
        .sum();
    assert_eq!(counted, 1);
}
