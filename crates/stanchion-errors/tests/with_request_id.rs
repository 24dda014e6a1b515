//! The guard and `ApiError` behind stanchion-request-id's layer: `requestId` in every body
//! equals the `x-request-id` response header, for errors the service wrote and for the ones it
//! did not.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::time::Duration;

use axum::{Router, body::Body, http::Request, response::IntoResponse, routing::get};
use http_body_util::BodyExt;
use serde_json::Value;
use stanchion_errors::{ApiError, GuardLayer, codes};
use stanchion_request_id::RequestIdLayer;
use tower::ServiceExt;
use tower_http::{catch_panic::CatchPanicLayer, timeout::TimeoutLayer};

fn app() -> Router {
    Router::new()
        .route(
            "/forbidden",
            get(|| async { ApiError::new(codes::AUTH_FORBIDDEN).into_response() }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("boom");
                }
            }),
        )
        .route(
            "/slow",
            get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }),
        )
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(50),
        ))
        .layer(CatchPanicLayer::new())
        .layer(GuardLayer::new())
        .layer(RequestIdLayer::new())
}

async fn call(path: &str, inbound_id: Option<&str>) -> (String, Value) {
    let mut request = Request::get(path);
    if let Some(id) = inbound_id {
        request = request.header("x-request-id", id);
    }
    let response = app()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (header, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn request_id_in_body_equals_the_response_header_for_every_kind_of_error() {
    for path in ["/forbidden", "/nope", "/panic", "/slow"] {
        for inbound in [None, Some("client-id-1"), Some("bad id \"with\" quotes")] {
            let (header, body) = call(path, inbound).await;
            assert_eq!(body["error"]["requestId"], header, "{path} {inbound:?}");
            if inbound == Some("client-id-1") {
                assert_eq!(header, "client-id-1", "a valid inbound ID is kept");
            } else {
                assert_ne!(
                    Some(header.as_str()),
                    inbound,
                    "an invalid inbound ID is replaced"
                );
            }
        }
    }
}
