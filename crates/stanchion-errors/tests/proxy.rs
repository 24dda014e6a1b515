//! The proxy policy on every kind of upstream answer, including hostile ones.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::error::Error as _;

use http::{HeaderMap, HeaderValue, StatusCode, header};
use stanchion_errors::{ApiError, ProxyPolicy, Taxonomy, UpstreamError, codes};

stanchion_errors::error_codes! {
    /// Codes shared by backend and agent.
    pub const SHARED;
    /// The caller used up their plan's queries.
    SUBSCRIPTION_QUERY_LIMIT = 429, "You have used all queries in your plan for now.",
        retryable, forwardable;
    /// Not forwardable: the backend should not relay it as is.
    AGENT_MODEL_MISCONFIGURED = 500, "The model is misconfigured.";
}

fn policy() -> ProxyPolicy {
    ProxyPolicy::new(Taxonomy::builder().extend(SHARED).build().unwrap())
}

fn body_text(error: &ApiError) -> String {
    String::from_utf8(error.to_response().into_body().to_vec()).unwrap()
}

fn envelope(code: &str, status: u16, message: &str) -> Vec<u8> {
    serde_json::json!({"error": {"code": code, "message": message, "statusCode": status, "requestId": "agent-id"}})
        .to_string()
        .into_bytes()
}

#[test]
fn forwardable_code_with_its_status_is_relayed_with_the_local_message() {
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    let error = policy().relay(
        StatusCode::TOO_MANY_REQUESTS,
        &headers,
        &envelope(
            "SUBSCRIPTION_QUERY_LIMIT",
            429,
            "agent says: key sk-live-123",
        ),
    );
    assert_eq!(error.code(), SUBSCRIPTION_QUERY_LIMIT);
    assert_eq!(error.retry_after_secs(), Some(30));
    let body = body_text(&error);
    assert!(body.contains(SUBSCRIPTION_QUERY_LIMIT.message()));
    assert!(
        !body.contains("sk-live") && !body.contains("agent says") && !body.contains("agent-id"),
        "{body}"
    );
}

#[test]
fn forwardable_code_with_a_different_status_is_not_trusted() {
    let error = policy().relay(
        StatusCode::OK,
        &HeaderMap::new(),
        &envelope("SUBSCRIPTION_QUERY_LIMIT", 429, "x"),
    );
    assert_eq!(error.code(), codes::UPSTREAM_ERROR);
}

#[test]
fn non_forwardable_code_becomes_an_upstream_code() {
    let error = policy().relay(
        StatusCode::INTERNAL_SERVER_ERROR,
        &HeaderMap::new(),
        &envelope(
            "AGENT_MODEL_MISCONFIGURED",
            500,
            "OPENAI_API_KEY missing at /etc/agent.env",
        ),
    );
    assert_eq!(error.code(), codes::UPSTREAM_ERROR);
    let body = body_text(&error);
    assert!(!body.contains("OPENAI") && !body.contains("/etc"), "{body}");
    let cause = error
        .source()
        .unwrap()
        .downcast_ref::<UpstreamError>()
        .unwrap();
    assert_eq!(cause.code(), Some("AGENT_MODEL_MISCONFIGURED"));
    assert_eq!(cause.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn unknown_code_becomes_an_upstream_code() {
    let error = policy().relay(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        &envelope("SOMETHING_NEW", 400, "x"),
    );
    assert_eq!(error.code(), codes::UPSTREAM_ERROR);
}

#[test]
fn non_json_and_empty_bodies_become_upstream_codes() {
    for body in [
        &b"<html><body>502 Bad Gateway nginx/1.25 at /var/www</body></html>"[..],
        b"",
        b"{",
        b"\xff\xfe\x00",
        b"null",
        b"{\"error\":42}",
    ] {
        let error = policy().relay(StatusCode::BAD_GATEWAY, &HeaderMap::new(), body);
        assert_eq!(error.code(), codes::UPSTREAM_ERROR);
        assert!(!body_text(&error).contains("nginx"));
        let cause = error
            .source()
            .unwrap()
            .downcast_ref::<UpstreamError>()
            .unwrap();
        assert_eq!(cause.code(), None);
    }
}

#[test]
fn upstream_timeouts_become_upstream_timeout() {
    for status in [StatusCode::GATEWAY_TIMEOUT, StatusCode::REQUEST_TIMEOUT] {
        let error = policy().relay(
            status,
            &HeaderMap::new(),
            &envelope("REQUEST_TIMEOUT", 408, "x"),
        );
        assert_eq!(error.code(), codes::UPSTREAM_TIMEOUT);
        assert_eq!(error.status(), StatusCode::GATEWAY_TIMEOUT);
    }
}

#[test]
fn hostile_upstream_code_is_sanitized_before_it_reaches_a_log() {
    let hostile = "X\r\nlevel=ERROR forged=\"1\" <script>".repeat(10);
    let error = policy().relay(
        StatusCode::BAD_REQUEST,
        &HeaderMap::new(),
        &envelope(&hostile, 400, "x"),
    );
    let cause = error.source().unwrap().to_string();
    for forbidden in ['\r', '\n', '<', '"', '='] {
        assert!(!cause.contains(forbidden), "{forbidden:?} in {cause}");
    }
    let logged_code = error
        .source()
        .unwrap()
        .downcast_ref::<UpstreamError>()
        .unwrap()
        .code()
        .unwrap()
        .to_owned();
    assert!(logged_code.len() <= 63);
    assert!(
        logged_code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "{logged_code}"
    );
}

#[test]
fn oversized_upstream_body_is_not_parsed() {
    let mut body = envelope("SUBSCRIPTION_QUERY_LIMIT", 429, "x");
    body.extend(std::iter::repeat_n(b' ', 70 * 1024));
    let error = policy().relay(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), &body);
    assert_eq!(error.code(), codes::UPSTREAM_ERROR);
}

#[test]
fn absurd_retry_after_is_dropped() {
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("99999999"));
    let error = policy().relay(
        StatusCode::TOO_MANY_REQUESTS,
        &headers,
        &envelope("SUBSCRIPTION_QUERY_LIMIT", 429, "x"),
    );
    assert_eq!(error.code(), SUBSCRIPTION_QUERY_LIMIT);
    assert_eq!(error.retry_after_secs(), None);
}
