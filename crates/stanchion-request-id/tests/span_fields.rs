//! The request span and its fields in real JSON output, alone and composed with tower-http's
//! `TraceLayer` in either order.

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use common::{capture_json, echoed, report, request_span};
use http::{Request, Response};
use http_body_util::Empty;
use stanchion_request_id::{RequestIdLayer, TrustPolicy};
use stanchion_test_support::CapturedLogs;
use tower::{ServiceBuilder, ServiceExt as _, service_fn};
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;

fn assigned_line(logs: &CapturedLogs) -> serde_json::Value {
    logs.json_lines()
        .into_iter()
        .find(|line| line["fields"]["message"] == "request ID assigned")
        .expect("DEBUG event")
}

fn handler_line(logs: &CapturedLogs) -> serde_json::Value {
    logs.json_lines()
        .into_iter()
        .find(|line| line["fields"]["message"] == "handled")
        .expect("handler event")
}

#[tokio::test]
async fn accepted_id_span_has_request_id_and_source_and_no_client_field() {
    let logs = CapturedLogs::new();
    let _guard = capture_json(&logs);
    let service = RequestIdLayer::new();
    let service = ServiceBuilder::new()
        .layer(service)
        .service(service_fn(report));
    let request = Request::builder()
        .header("x-request-id", "abc-123")
        .body(())
        .expect("request");
    service.oneshot(request).await.expect("infallible");

    let line = handler_line(&logs);
    let span = request_span(&line).expect("request span");
    assert_eq!(span["request_id"], "abc-123");
    assert!(span.get("client_request_id").is_none(), "{span}");
    assert_eq!(assigned_line(&logs)["fields"]["source"], "accepted");
    assert_eq!(line["span"]["request_id"], "abc-123");
}

#[tokio::test]
async fn an_untrusted_valid_id_is_kept_as_client_request_id_at_the_edge() {
    let logs = CapturedLogs::new();
    let _guard = capture_json(&logs);
    let layer = RequestIdLayer::new().with_trust_policy(TrustPolicy::AlwaysGenerate);
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(report));
    let request = Request::builder()
        .header("x-request-id", "client-chosen-1")
        .body(())
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");

    let line = handler_line(&logs);
    let span = request_span(&line).expect("request span");
    assert_eq!(span["request_id"], echoed(&response).as_str());
    assert_eq!(span["client_request_id"], "client-chosen-1");
    assert_eq!(span["client_request_id_len"], 15);
    let assigned = assigned_line(&logs);
    assert_eq!(assigned["fields"]["source"], "replaced");
    assert_eq!(assigned["fields"]["reason"], "untrusted");
}

#[tokio::test]
async fn a_generated_id_says_so() {
    let logs = CapturedLogs::new();
    let _guard = capture_json(&logs);
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .service(service_fn(report));
    let response = service.oneshot(Request::new(())).await.expect("infallible");
    let line = handler_line(&logs);
    let span = request_span(&line).expect("request span");
    assert_eq!(span["request_id"], echoed(&response).as_str());
    assert_eq!(assigned_line(&logs)["fields"]["source"], "generated");
}

fn trace_layer()
-> TraceLayer<tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>>
{
    TraceLayer::new_for_http()
        .on_request(DefaultOnRequest::new().level(Level::INFO))
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

async fn ok(_: Request<Empty<Bytes>>) -> Result<Response<Empty<Bytes>>, Infallible> {
    tracing::info!("handled");
    Ok(Response::new(Empty::new()))
}

#[tokio::test]
async fn recommended_order_request_id_outside_trace_layer_puts_the_id_on_trace_events() {
    let logs = CapturedLogs::new();
    let _guard = capture_json(&logs);
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(trace_layer())
        .service(service_fn(ok));
    let response = service
        .oneshot(Request::new(Empty::new()))
        .await
        .expect("infallible");
    let id = echoed(&response);

    let lines = logs.json_lines();
    let messages: Vec<_> = lines
        .iter()
        .map(|l| {
            l["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for message in [
        "started processing request",
        "handled",
        "finished processing request",
    ] {
        let line = lines
            .iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} in {messages:?}"));
        let span = request_span(line).unwrap_or_else(|| panic!("{message}: no request span"));
        assert_eq!(span["request_id"], id.as_str(), "{message}");
        // tower-http's span is nested inside ours.
        let names: Vec<_> = line["spans"]
            .as_array()
            .expect("span list")
            .iter()
            .map(|s| s["name"].clone())
            .collect();
        assert_eq!(names.len(), 2, "{message}: {names:?}");
    }
}

#[tokio::test]
async fn other_order_trace_layer_outside_still_tags_handler_events() {
    let logs = CapturedLogs::new();
    let _guard = capture_json(&logs);
    let service = ServiceBuilder::new()
        .layer(trace_layer())
        .layer(RequestIdLayer::new())
        .service(service_fn(ok));
    let response = service
        .oneshot(Request::new(Empty::new()))
        .await
        .expect("infallible");
    let id = echoed(&response);

    let lines = logs.json_lines();
    let handled = lines
        .iter()
        .find(|l| l["fields"]["message"] == "handled")
        .expect("handler event");
    assert_eq!(
        request_span(handled).expect("request span")["request_id"],
        id.as_str()
    );
    // Documented limitation of this order: TraceLayer's own events are outside our span.
    let finished = lines
        .iter()
        .find(|l| l["fields"]["message"] == "finished processing request")
        .expect("on_response event");
    assert!(request_span(finished).is_none());
}
