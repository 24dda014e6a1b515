//! The axum extractor (feature `axum`).
#![cfg(feature = "axum")]

use axum::{Router, body::Body, routing::get};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use stanchion_request_id::{RequestId, RequestIdLayer};
use tower::ServiceExt as _;

async fn body_text(response: http::Response<Body>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn app() -> Router {
    Router::new()
        .route("/id", get(|id: RequestId| async move { id.to_string() }))
        .route(
            "/maybe",
            get(|id: Option<RequestId>| async move {
                id.map_or_else(|| "none".to_owned(), |id| id.to_string())
            }),
        )
}

#[tokio::test]
async fn handlers_extract_the_layers_id() {
    let app = app().layer(RequestIdLayer::new());
    let request = Request::builder()
        .uri("/id")
        .header("x-request-id", "axum-1")
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.headers()["x-request-id"], "axum-1");
    assert_eq!(body_text(response).await, "axum-1");

    let request = Request::builder()
        .uri("/maybe")
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    let echoed = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(body_text(response).await, echoed);
}

#[tokio::test]
async fn without_the_layer_the_extractor_rejects_and_the_option_is_none() {
    let request = Request::builder()
        .uri("/id")
        .body(Body::empty())
        .expect("request");
    let response = app().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !body_text(response).await.contains("RequestIdLayer"),
        "no internals in the body"
    );

    let request = Request::builder()
        .uri("/maybe")
        .body(Body::empty())
        .expect("request");
    let response = app().oneshot(request).await.expect("infallible");
    assert_eq!(body_text(response).await, "none");
}

#[tokio::test]
async fn the_routers_own_404_and_405_carry_the_id() {
    let app = app().layer(RequestIdLayer::new());
    let request = Request::builder()
        .uri("/no-such-route")
        .header("x-request-id", "lost-1")
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-request-id"], "lost-1");

    let request = Request::builder()
        .method("POST")
        .uri("/id")
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().contains_key("x-request-id"));
}
