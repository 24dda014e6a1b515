//! The ID header is on every response, including the ones inner layers make: tower-http's
//! timeout (408) and panic catcher (500). A panic handler can put the ID into its body.

mod common;

use std::{convert::Infallible, time::Duration};

use bytes::Bytes;
use common::{capture_json, echoed, is_uuid, request_span};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use stanchion_request_id::{RequestId, RequestIdLayer};
use stanchion_test_support::CapturedLogs;
use tower::{ServiceBuilder, ServiceExt as _, service_fn};
use tower_http::{catch_panic::CatchPanicLayer, timeout::TimeoutLayer};

const INBOUND: &str = "edge-request-1";

fn with_id() -> Request<()> {
    Request::builder()
        .header("x-request-id", INBOUND)
        .body(())
        .expect("request")
}

#[tokio::test(start_paused = true)]
async fn timeout_responses_made_inside_carry_the_id() {
    let _quiet = common::quiet();
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(50),
        ))
        .service(service_fn(|_: Request<()>| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        }));

    let response = service
        .clone()
        .oneshot(with_id())
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(echoed(&response), INBOUND);

    let response = service.oneshot(Request::new(())).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(is_uuid(&echoed(&response), '4'));
}

async fn panics(request: Request<()>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() == "/sync" {
        panic!("synchronous boom");
    }
    tokio::task::yield_now().await;
    panic!("boom after an await");
}

#[tokio::test]
async fn panic_responses_made_inside_carry_the_id_and_the_panic_log_carries_the_span() {
    let logs = CapturedLogs::new();
    let _guard = capture_json(&logs);
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(CatchPanicLayer::new())
        .service(service_fn(panics));

    for path in ["/async", "/sync"] {
        logs.clear();
        let request = Request::builder()
            .uri(path)
            .header("x-request-id", INBOUND)
            .body(())
            .expect("request");
        let response = service.clone().oneshot(request).await.expect("infallible");
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        assert_eq!(echoed(&response), INBOUND, "{path}");

        let lines = logs.json_lines();
        let panic_line = lines
            .iter()
            .find(|line| line["level"] == "ERROR")
            .unwrap_or_else(|| panic!("{path}: CatchPanic logs the panic"));
        let span = request_span(panic_line).expect("the panic event is inside the request span");
        assert_eq!(span["request_id"], INBOUND, "{path}");
    }
}

#[tokio::test]
async fn a_panic_handler_can_put_the_current_id_into_its_body() {
    let _quiet = common::quiet();
    let handler = |_: Box<dyn std::any::Any + Send>| {
        let id = RequestId::current()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let mut response = Response::new(Full::from(format!("{{\"requestId\":\"{id}\"}}")));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    };
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(CatchPanicLayer::custom(handler))
        .service(service_fn(panics));

    let response = service.oneshot(with_id()).await.expect("infallible");
    assert_eq!(echoed(&response), INBOUND);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, format!("{{\"requestId\":\"{INBOUND}\"}}"));
}

#[tokio::test]
async fn an_error_response_from_the_handler_keeps_its_status_and_gets_the_id() {
    let _quiet = common::quiet();
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .service(service_fn(|_: Request<()>| async {
            let mut response = Response::new(());
            *response.status_mut() = StatusCode::NOT_FOUND;
            // A proxied response may carry the next hop's ID: the layer's ID wins.
            response
                .headers_mut()
                .insert("x-request-id", http::HeaderValue::from_static("agent-id"));
            Ok::<_, Infallible>(response)
        }));
    let response = service.oneshot(with_id()).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(echoed(&response), INBOUND);
}
