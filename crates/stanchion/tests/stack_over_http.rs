//! The full stack on an axum router, over real HTTP on loopback, with the service's real
//! JSON log lines captured.
//!
//! Every test installs its own thread-default subscriber (tracing caches callsite interest
//! per process, so a test without one could make another lose events) and runs the server on
//! its current-thread runtime, so the server's events reach that subscriber.

mod common;

use std::time::Duration;

use axum::{
    Router,
    extract::{Path, Request},
    routing::{get, post},
};
use bytes::Bytes;
use common::{Reply, get as http_get, send, serve};
use http_body_util::Full;
use stanchion::{Stack, Telemetry, set_user_id};
use stanchion_test_support::CapturedLogs;

const GITHUB_TOKEN: &str = "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12";

fn app() -> Router {
    Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<String>| async move {
                tracing::info!(user = %id, "loading user");
                "ok"
            }),
        )
        .route("/panic", get(panicking))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/upload",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/me",
            get(|request: Request| async move {
                set_user_id(request.extensions(), "user-7");
                "me"
            }),
        )
        .route(
            "/secret",
            get(|| async {
                tracing::info!(api_key = "k-93f0a8c1d2e4", "pushing with {GITHUB_TOKEN}");
                tracing::warn!(upstream = GITHUB_TOKEN, service = "agent", "retrying");
                "ok"
            }),
        )
        .layer(
            Stack::new()
                .with_timeout(Duration::from_millis(200))
                .with_body_limit(1024),
        )
}

async fn panicking() -> &'static str {
    let password_line = "db login failed: password=hunter2hunter2";
    panic!("{password_line}");
}

fn capture() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
    let logs = CapturedLogs::new();
    let subscriber = Telemetry::new("backend")
        .with_filter("info")
        .build(logs.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    (logs, guard)
}

/// The envelope's code, with `statusCode` equal to the status and `requestId` equal to the
/// `x-request-id` header.
fn assert_envelope(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), "application/json");
    let body = reply.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["statusCode"], status);
    assert_eq!(body["error"]["requestId"], reply.header("x-request-id"));
}

fn access_line(logs: &CapturedLogs) -> serde_json::Value {
    let lines = logs.json_lines();
    let access: Vec<_> = lines
        .iter()
        .filter(|line| line["target"] == "stanchion::access")
        .collect();
    assert_eq!(access.len(), 1, "one access event per request: {lines:#?}");
    access[0].clone()
}

#[tokio::test]
async fn a_panic_is_an_internal_error_envelope_and_an_error_log_without_the_secret() {
    let (logs, _guard) = capture();
    let addr = serve(app()).await;
    let reply = http_get(addr, "/panic").await;
    assert_envelope(&reply, 500, "INTERNAL_ERROR");
    assert!(!reply.text().contains("hunter2"), "{}", reply.text());

    let id = reply.header("x-request-id");
    let lines = logs.json_lines();
    let panic = lines
        .iter()
        .find(|line| line["target"] == "stanchion::panic")
        .expect("the panic is logged");
    assert_eq!(panic["level"], "ERROR");
    assert_eq!(panic["requestId"], id);
    assert!(panic["panic"].as_str().unwrap().contains("db login failed"));
    assert!(
        !logs.contents().contains("hunter2hunter2"),
        "{}",
        logs.contents()
    );

    let access = access_line(&logs);
    assert_eq!(access["level"], "WARN");
    assert_eq!(access["status"], 500);
    assert_eq!(access["errorCode"], "INTERNAL_ERROR");
    assert_eq!(access["route"], "/panic");
}

#[tokio::test]
async fn a_slow_handler_is_a_request_timeout_envelope() {
    let (logs, _guard) = capture();
    let addr = serve(app()).await;
    let reply = http_get(addr, "/slow").await;
    assert_envelope(&reply, 408, "REQUEST_TIMEOUT");
    let access = access_line(&logs);
    assert_eq!(access["errorCode"], "REQUEST_TIMEOUT");
    assert!(access["latencyMs"].as_f64().unwrap() >= 200.0, "{access}");
}

#[tokio::test]
async fn an_oversize_body_is_a_payload_too_large_envelope() {
    let (logs, _guard) = capture();
    let addr = serve(app()).await;
    let reply = send(
        http::Request::post(format!("http://{addr}/upload"))
            .header("content-type", "application/octet-stream")
            .body(Full::new(Bytes::from(vec![b'x'; 4096])))
            .unwrap(),
    )
    .await;
    assert_envelope(&reply, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(access_line(&logs)["errorCode"], "PAYLOAD_TOO_LARGE");

    // Under the limit, the handler runs.
    let reply = send(
        http::Request::post(format!("http://{addr}/upload"))
            .body(Full::new(Bytes::from(vec![b'x'; 1000])))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "1000");
}

#[tokio::test]
async fn an_unknown_route_is_not_found_and_logged_as_unmatched() {
    let (logs, _guard) = capture();
    let addr = serve(app()).await;
    let reply = http_get(addr, "/no/such/path/9f8e7d").await;
    assert_envelope(&reply, 404, "NOT_FOUND");
    let access = access_line(&logs);
    assert_eq!(access["route"], "unmatched");
    assert_eq!(access["errorCode"], "NOT_FOUND");
    assert!(
        !logs.contents().contains("9f8e7d"),
        "the raw path is never logged"
    );
}

#[tokio::test]
async fn the_access_log_has_method_route_template_status_and_latency() {
    let (logs, _guard) = capture();
    let addr = serve(app()).await;
    let reply = http_get(addr, "/users/42").await;
    assert_eq!(reply.status, 200);
    let access = access_line(&logs);
    assert_eq!(access["message"], "request completed");
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["route"], "/users/{id}");
    assert_eq!(access["status"], 200);
    assert!(access["latencyMs"].is_f64(), "{access}");
    assert!(access.get("errorCode").is_none(), "2xx has no error code");
    assert!(access.get("userId").is_none(), "nobody authenticated");
    assert_eq!(access["requestId"], reply.header("x-request-id"));
}

#[tokio::test]
async fn the_access_log_names_the_user_an_extractor_set() {
    let (logs, _guard) = capture();
    let addr = serve(app()).await;
    let reply = http_get(addr, "/me").await;
    assert_eq!(reply.status, 200);
    assert_eq!(access_line(&logs)["userId"], "user-7");
}

#[tokio::test]
async fn every_event_inside_a_request_carries_the_request_id_and_service() {
    let (logs, _guard) = capture();
    let addr = serve(app()).await;
    let reply = send(
        http::Request::get(format!("http://{addr}/users/42"))
            .header("x-request-id", "client-chosen-id-0001")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.header("x-request-id"), "client-chosen-id-0001");
    tracing::info!("after the request");

    let lines = logs.json_lines();
    let (inside, outside): (Vec<_>, Vec<_>) = lines
        .iter()
        .partition(|line| line["message"] != "after the request");
    assert!(
        inside.len() >= 2,
        "the handler's event and the access event: {lines:#?}"
    );
    for line in &inside {
        assert_eq!(line["requestId"], "client-chosen-id-0001", "{line}");
        assert_eq!(line["service"], "backend", "{line}");
        for key in ["timestamp", "level", "target", "message"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
    }
    let handler = inside
        .iter()
        .find(|line| line["message"] == "loading user")
        .unwrap();
    assert_eq!(
        handler["user"], "42",
        "fields are flattened at the top level"
    );
    assert_eq!(outside.len(), 1);
    assert!(
        outside[0].get("requestId").is_none(),
        "no request, no requestId"
    );
    assert_eq!(outside[0]["service"], "backend");
}

#[tokio::test]
async fn a_hostile_request_id_is_replaced_in_the_header_the_envelope_and_the_logs() {
    let (logs, _guard) = capture();
    let addr = serve(app()).await;
    let reply = send(
        http::Request::get(format!("http://{addr}/missing"))
            .header("x-request-id", "abc\" status=200 user=admin")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_envelope(&reply, 404, "NOT_FOUND");
    let id = reply.header("x-request-id");
    assert_ne!(id, "abc\" status=200 user=admin");
    for line in logs.json_lines() {
        assert_eq!(line["requestId"], id, "{line}");
    }
}

#[tokio::test]
async fn secrets_in_messages_and_fields_are_redacted_and_lines_stay_json() {
    let (logs, _guard) = capture();
    let addr = serve(app()).await;
    let reply = http_get(addr, "/secret").await;
    assert_eq!(reply.status, 200);
    let contents = logs.contents();
    assert!(!contents.contains(GITHUB_TOKEN), "{contents}");
    assert!(!contents.contains("k-93f0a8c1d2e4"), "{contents}");
    let lines = logs.json_lines(); // panics on a line that is not JSON
    let pushed = lines
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("pushing"))
        })
        .unwrap();
    assert_eq!(pushed["message"], "pushing with [REDACTED:github-pat]");
    assert_eq!(pushed["api_key"], "[REDACTED:secret-field]");
    let retry = lines
        .iter()
        .find(|line| line["message"] == "retrying")
        .unwrap();
    assert_eq!(retry["upstream"], "[REDACTED:github-pat]");
    // A field named like a reserved key does not overwrite it.
    assert_eq!(retry["service"], "backend");
    assert_eq!(retry["field.service"], "agent");
}
