//! The guard layer on errors the service did not write: router 404/405, body limits, content
//! types, extractor rejections, timeouts, panics and third-party plain-text errors.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    extract::DefaultBodyLimit,
    http::{Request, StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use http_body_util::BodyExt;
use serde_json::Value;
use stanchion_errors::{ApiError, GuardLayer, RenderedError, RolloutMode, codes};
use tower::ServiceExt;
use tower_http::{catch_panic::CatchPanicLayer, timeout::TimeoutLayer};

#[derive(serde::Deserialize)]
#[allow(dead_code)] // The field is only deserialized; the tests look at rejections.
struct Prompt {
    prompt: String,
    max_tokens: u32,
}

fn app(mode: RolloutMode) -> Router {
    Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route(
            "/chat",
            post(|axum::Json(_): axum::Json<Prompt>| async { "ok" }),
        )
        .route("/upload", post(|_: axum::body::Bytes| async { "stored" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("db password=hunter2 at /srv/app/src/handler.rs");
                }
                "unreachable"
            }),
        )
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
        .route(
            "/typed",
            get(|| async { ApiError::new(codes::AUTH_FORBIDDEN).into_response() }),
        )
        .route(
            "/redirect",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/ok")], "") }),
        )
        .layer(DefaultBodyLimit::max(1024))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(50),
        ))
        .layer(CatchPanicLayer::new())
        .layer(GuardLayer::new().with_mode(mode))
}

async fn send(app: Router, request: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let response = app.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header("x-request-id", "req-abc")
        .body(Body::empty())
        .unwrap()
}

fn assert_envelope(status: StatusCode, headers: &http::HeaderMap, body: &str, code: &str) -> Value {
    assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{body}");
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(value["error"]["code"], code, "{body}");
    assert_eq!(value["error"]["statusCode"], status.as_u16(), "{body}");
    assert_eq!(headers[header::CONTENT_LENGTH], body.len().to_string());
    value
}

#[tokio::test]
async fn unknown_route_gets_a_not_found_envelope_with_the_request_id() {
    let (status, headers, body) = send(app(RolloutMode::Enforced), get_req("/nope")).await;
    assert_eq!(status, 404);
    let value = assert_envelope(status, &headers, &body, "NOT_FOUND");
    assert_eq!(value["error"]["requestId"], "req-abc");
}

#[tokio::test]
async fn wrong_method_keeps_allow() {
    let request = Request::delete("/ok").body(Body::empty()).unwrap();
    let (status, headers, body) = send(app(RolloutMode::Enforced), request).await;
    assert_eq!(status, 405);
    assert_envelope(status, &headers, &body, "METHOD_NOT_ALLOWED");
    assert!(headers[header::ALLOW].to_str().unwrap().contains("GET"));
}

#[tokio::test]
async fn oversize_body_is_payload_too_large_without_axum_text() {
    let request = Request::post("/upload")
        .body(Body::from(vec![b'x'; 4096]))
        .unwrap();
    let (status, headers, body) = send(app(RolloutMode::Enforced), request).await;
    assert_eq!(status, 413);
    assert_envelope(status, &headers, &body, "PAYLOAD_TOO_LARGE");
    assert!(!body.contains("length limit"), "{body}");
}

#[tokio::test]
async fn json_without_content_type_is_unsupported_media_type() {
    let request = Request::post("/chat")
        .body(Body::from(r#"{"prompt":"hi","max_tokens":1}"#))
        .unwrap();
    let (status, headers, body) = send(app(RolloutMode::Enforced), request).await;
    assert_eq!(status, 415);
    assert_envelope(status, &headers, &body, "UNSUPPORTED_MEDIA_TYPE");
    assert!(!body.contains("Content-Type: application/json"), "{body}");
}

#[tokio::test]
async fn plain_axum_json_rejection_loses_serde_text_and_the_input() {
    let request = Request::post("/chat")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"prompt":"hi","max_tokens":"<script>alert(1)</script>"}"#,
        ))
        .unwrap();
    let (status, headers, body) = send(app(RolloutMode::Enforced), request).await;
    // axum says 422; the taxonomy pins validation to 400.
    assert_eq!(status, 400);
    assert_envelope(status, &headers, &body, "VALIDATION_ERROR");
    for leak in ["<script>", "u32", "line 1", "invalid type", "max_tokens"] {
        assert!(!body.contains(leak), "{leak} leaked: {body}");
    }
}

#[tokio::test]
async fn timeout_becomes_request_timeout() {
    let (status, headers, body) = send(app(RolloutMode::Enforced), get_req("/slow")).await;
    assert_eq!(status, 408);
    assert_envelope(status, &headers, &body, "REQUEST_TIMEOUT");
}

#[tokio::test]
async fn panic_becomes_internal_error_without_the_panic_message() {
    let (status, headers, body) = send(app(RolloutMode::Enforced), get_req("/panic")).await;
    assert_eq!(status, 500);
    let value = assert_envelope(status, &headers, &body, "INTERNAL_ERROR");
    assert_eq!(value["error"]["requestId"], "req-abc");
    for leak in [
        "hunter2",
        "handler.rs",
        "/srv",
        "panicked",
        "Service panicked",
    ] {
        assert!(!body.contains(leak), "{leak} leaked: {body}");
    }
}

#[tokio::test]
async fn third_party_text_429_keeps_retry_after_and_drops_the_text() {
    let (status, headers, body) = send(app(RolloutMode::Enforced), get_req("/limited")).await;
    assert_eq!(status, 429);
    let value = assert_envelope(status, &headers, &body, "RATE_LIMITED");
    assert_eq!(headers[header::RETRY_AFTER], "7");
    assert_eq!(value["error"]["details"]["retryAfterSeconds"], 7);
    assert!(!body.contains("Wait for"), "{body}");
}

#[tokio::test]
async fn service_envelopes_pass_and_gain_the_request_id() {
    let (status, headers, body) = send(app(RolloutMode::Enforced), get_req("/typed")).await;
    assert_eq!(status, 403);
    let value = assert_envelope(status, &headers, &body, "AUTH_FORBIDDEN");
    assert_eq!(value["error"]["requestId"], "req-abc");
}

#[tokio::test]
async fn success_and_redirect_bodies_are_untouched() {
    let (status, _, body) = send(app(RolloutMode::Enforced), get_req("/ok")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "fine"));
    let (status, headers, body) = send(app(RolloutMode::Enforced), get_req("/redirect")).await;
    assert_eq!(status, 302);
    assert_eq!(headers[header::LOCATION], "/ok");
    assert_eq!(body, "");
}

#[tokio::test]
async fn success_body_is_streamed_not_buffered() {
    // A 2xx whose body has not ended: the guard must hand back the response at once and pass
    // the first frame through without waiting for the rest.
    let (sender, mut receiver) =
        tokio::sync::mpsc::channel::<Result<&'static str, std::io::Error>>(1);
    let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let body = std::sync::Mutex::new(Some(Body::from_stream(stream)));
    let service = tower::service_fn(move |_: Request<Body>| {
        let body = body.lock().unwrap().take().unwrap_or_default();
        async move { Ok::<_, std::convert::Infallible>(http::Response::new(body)) }
    });
    let guarded = tower::ServiceBuilder::new()
        .layer(GuardLayer::new())
        .service(service);
    let response =
        tokio::time::timeout(Duration::from_secs(5), guarded.oneshot(get_req("/stream")))
            .await
            .expect("headers arrive before the body ends")
            .unwrap();
    assert_eq!(response.status(), 200);
    sender.send(Ok("first")).await.unwrap();
    let mut body = response.into_body();
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(frame.into_data().unwrap(), "first");
    drop(sender);
}

#[tokio::test]
async fn hostile_request_id_header_is_not_echoed_without_the_request_id_layer() {
    for hostile in stanchion_test_support::hostile::HEADER_AND_LOG_INJECTION {
        let Ok(request) = Request::get("/nope")
            .header("x-request-id", hostile.value)
            .body(Body::empty())
        else {
            continue; // http refuses it as a header value already.
        };
        let (status, headers, body) = send(app(RolloutMode::Enforced), request).await;
        let value = assert_envelope(status, &headers, &body, "NOT_FOUND");
        if !hostile.value.is_empty() {
            assert_ne!(
                value["error"]["requestId"], hostile.value,
                "{} echoed",
                hostile.name
            );
        }
    }
}

#[tokio::test]
async fn problem_json_on_request() {
    let request = Request::get("/nope")
        .header(header::ACCEPT, "application/problem+json")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(app(RolloutMode::Enforced), request).await;
    assert_eq!(status, 404);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (value["status"].as_u64(), value["code"].as_str()),
        (Some(404), Some("NOT_FOUND"))
    );
    // Also for an envelope the service rendered itself.
    let request = Request::get("/typed")
        .header(header::ACCEPT, "application/problem+json")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(app(RolloutMode::Enforced), request).await;
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
}

#[tokio::test]
async fn rewritten_responses_carry_the_rendered_error_for_logging() {
    let response = app(RolloutMode::Enforced)
        .oneshot(get_req("/panic"))
        .await
        .unwrap();
    let rendered = response.extensions().get::<RenderedError>().unwrap();
    assert_eq!(rendered.code(), codes::INTERNAL_ERROR);
}

#[tokio::test]
async fn off_mode_changes_nothing() {
    let (status, headers, body) = send(app(RolloutMode::Off), get_req("/limited")).await;
    assert_eq!(status, 429);
    assert_eq!(body, "Too Many Requests! Wait for 7s");
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}

#[test]
fn guard_modes_are_the_rollout_vocabulary_and_refuse_the_old_words() {
    assert_eq!(
        "enforced".parse::<RolloutMode>().unwrap(),
        RolloutMode::Enforced
    );
    assert_eq!(
        " Shadow ".parse::<RolloutMode>().unwrap(),
        RolloutMode::Shadow
    );
    assert_eq!("OFF".parse::<RolloutMode>().unwrap(), RolloutMode::Off);
    for old in ["enforce", "audit", "strict"] {
        let error = old.parse::<RolloutMode>().unwrap_err().to_string();
        assert!(error.contains("use off, shadow or enforced"), "{error}");
    }
    assert_eq!(GuardLayer::new().mode(), RolloutMode::Enforced);
}

#[tokio::test]
async fn panicking_handler_over_real_http_gets_an_envelope_not_a_dropped_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server =
        tokio::spawn(async move { axum::serve(listener, app(RolloutMode::Enforced)).await });
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /panic HTTP/1.1\r\nhost: localhost\r\nx-request-id: wire-1\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut raw))
        .await
        .unwrap()
        .unwrap();
    server.abort();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 500"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let value: Value = serde_json::from_str(body).unwrap();
    assert_eq!(value["error"]["code"], "INTERNAL_ERROR");
    assert_eq!(value["error"]["requestId"], "wire-1");
    assert!(!raw.contains("hunter2"));
}
