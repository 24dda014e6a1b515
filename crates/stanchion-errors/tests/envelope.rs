//! The envelope an `ApiError` renders: members, status, headers, formats, and what never
//! appears in it.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::{error::Error as _, time::Duration};

use http::{HeaderMap, HeaderValue, header};
use serde_json::Value;
use stanchion_errors::{ApiError, FieldViolation, Format, RenderedError, codes};

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("the body is JSON")
}

#[test]
fn every_base_code_renders_its_status_message_and_request_id() {
    for code in codes::BASE.codes() {
        let response = ApiError::new(*code).with_request_id("req-42").to_response();
        assert_eq!(response.status(), code.status(), "{code}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = json(response.body());
        let error = &body["error"];
        assert_eq!(error["code"], code.name());
        assert_eq!(error["message"], code.message());
        assert_eq!(error["statusCode"], code.status_u16());
        assert_eq!(error["requestId"], "req-42");
        assert!(
            error.get("details").is_none(),
            "no empty details for {code}"
        );
        assert_eq!(
            body.as_object().unwrap().len(),
            1,
            "only `error` at the top"
        );
    }
}

#[test]
fn request_id_is_null_when_unknown() {
    let response = ApiError::new(codes::NOT_FOUND).to_response();
    assert_eq!(json(response.body())["error"]["requestId"], Value::Null);
}

#[test]
fn unauthorized_codes_carry_a_bearer_challenge() {
    let expect = [
        (codes::AUTH_REQUIRED, "Bearer"),
        (codes::AUTH_INVALID_TOKEN, "Bearer error=\"invalid_token\""),
        (codes::AUTH_EXPIRED_TOKEN, "Bearer error=\"invalid_token\""),
    ];
    for (code, challenge) in expect {
        let response = ApiError::new(code).to_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            challenge,
            "{code}"
        );
    }
    let custom = ApiError::new(codes::AUTH_REQUIRED)
        .with_challenge(HeaderValue::from_static("Bearer realm=\"api\""))
        .to_response();
    assert_eq!(
        custom.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"api\""
    );
    let forbidden = ApiError::new(codes::AUTH_FORBIDDEN).to_response();
    assert!(forbidden.headers().get(header::WWW_AUTHENTICATE).is_none());
}

#[test]
fn retry_hint_sets_header_and_detail_rounding_up() {
    let response = ApiError::new(codes::RATE_LIMITED)
        .with_retry_after(Duration::from_millis(2_500))
        .to_response();
    assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    assert_eq!(
        json(response.body())["error"]["details"]["retryAfterSeconds"],
        3
    );
}

#[test]
fn method_not_allowed_keeps_allow() {
    let response = ApiError::new(codes::METHOD_NOT_ALLOWED)
        .with_allow(HeaderValue::from_static("GET,HEAD"))
        .to_response();
    assert_eq!(response.headers()[header::ALLOW], "GET,HEAD");
}

#[test]
fn violations_and_params_are_structured_details() {
    let response = ApiError::new(codes::VALIDATION_ERROR)
        .with_violation(FieldViolation::new("prompt", "must not be empty"))
        .with_violation(FieldViolation::new("items[2].name", "is required"))
        .with_param("maxPromptChars", 4_000u32)
        .with_param("strict", true)
        .with_param("unit", "chars")
        .to_response();
    let details = &json(response.body())["error"]["details"];
    assert_eq!(details["fieldViolations"][0]["field"], "prompt");
    assert_eq!(details["fieldViolations"][1]["description"], "is required");
    assert_eq!(details["params"]["maxPromptChars"], 4000);
    assert_eq!(details["params"]["strict"], true);
    assert_eq!(details["params"]["unit"], "chars");
}

#[test]
fn cause_is_kept_for_logs_and_never_serialized() {
    let cause = std::io::Error::other("password=hunter2 at /srv/app/src/db.rs:42 in sqlx::Pool");
    let error = ApiError::internal(cause);
    assert!(error.source().unwrap().to_string().contains("hunter2"));
    let debug = format!("{error:?}");
    assert!(!debug.contains("hunter2"), "Debug hides the cause: {debug}");
    let response = error.to_response();
    let rendered = response.extensions().get::<RenderedError>().unwrap();
    assert_eq!(rendered.code(), codes::INTERNAL_ERROR);
    assert!(rendered.cause().unwrap().to_string().contains("db.rs"));
    let body = String::from_utf8(response.body().to_vec()).unwrap();
    for leak in ["hunter2", "db.rs", "/srv", "sqlx", "42"] {
        assert!(!body.contains(leak), "{leak} leaked into {body}");
    }
    assert_eq!(
        json(response.body())["error"]["message"],
        "An internal error occurred."
    );
}

#[test]
fn problem_json_is_negotiated_from_accept() {
    let mut headers = HeaderMap::new();
    assert_eq!(Format::negotiate(&headers), Format::Envelope);
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/json, application/problem+json;q=0.9"),
    );
    assert_eq!(Format::negotiate(&headers), Format::Problem);
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/problem+json;q=0"),
    );
    assert_eq!(Format::negotiate(&headers), Format::Envelope);
    headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    assert_eq!(Format::negotiate(&headers), Format::Envelope);
}

#[test]
fn problem_json_has_rfc_9457_members_and_the_envelope_members() {
    let response = ApiError::new(codes::NOT_FOUND)
        .with_request_id("r-1")
        .to_response_as(Format::Problem);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let body = json(response.body());
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["title"], "Not Found");
    assert_eq!(body["status"], 404);
    assert_eq!(body["statusCode"], 404);
    assert_eq!(body["code"], "NOT_FOUND");
    assert_eq!(body["requestId"], "r-1");
}

#[test]
fn status_maps_to_base_codes_with_fixed_statuses() {
    use http::StatusCode;
    for (status, code) in [
        (404, codes::NOT_FOUND),
        (405, codes::METHOD_NOT_ALLOWED),
        (408, codes::REQUEST_TIMEOUT),
        (413, codes::PAYLOAD_TOO_LARGE),
        (415, codes::UNSUPPORTED_MEDIA_TYPE),
        (422, codes::VALIDATION_ERROR),
        (429, codes::RATE_LIMITED),
        (418, codes::BAD_REQUEST),
        (500, codes::INTERNAL_ERROR),
        (507, codes::INTERNAL_ERROR),
        (503, codes::SERVICE_UNAVAILABLE),
        (504, codes::UPSTREAM_TIMEOUT),
    ] {
        assert_eq!(
            ApiError::code_for_status(StatusCode::from_u16(status).unwrap()),
            code,
            "{status}"
        );
    }
}
