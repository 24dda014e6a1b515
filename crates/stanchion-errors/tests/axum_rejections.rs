//! axum's extractor rejections through `stanchion_errors::axum`: every one is an envelope that
//! names the field and says what is wrong, without the caller's input, serde's text or Rust
//! type names.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use std::collections::HashMap;

use axum::{
    Router,
    body::Body,
    http::Request,
    routing::{get, post},
};
use http_body_util::BodyExt;
use serde_json::Value;
use stanchion_errors::axum::{Json, Path, Query};
use tower::ServiceExt;

#[derive(serde::Deserialize)]
#[allow(dead_code)] // Fields are only deserialized; the tests look at rejections.
struct Chat {
    prompt: String,
    options: Options,
    tags: Vec<String>,
    labels: Option<HashMap<String, u32>>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)] // As above.
struct Options {
    max_tokens: u32,
    mode: Mode,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Fast,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)] // As above.
struct Page {
    limit: u32,
}

fn app() -> Router {
    Router::new()
        .route("/chat", post(|Json(_chat): Json<Chat>| async { "ok" }))
        .route("/items", get(|Query(_page): Query<Page>| async { "ok" }))
        .route("/items/{id}", get(|Path(_id): Path<u32>| async { "ok" }))
}

async fn call(request: Request<Body>) -> (u16, Value, String) {
    let response = app().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    (status, serde_json::from_str(&text).unwrap(), text)
}

fn chat(body: &str) -> Request<Body> {
    Request::post("/chat")
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

const LEAKS: &[&str] = &[
    "<script>",
    "u32",
    "line 1",
    "column",
    "invalid type",
    "expected",
    "serde",
    "Chat",
    "Options",
    "String",
];

fn assert_no_leaks(text: &str, input: &str) {
    for leak in LEAKS {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
    assert!(
        !text.contains("evil"),
        "input leaked: {text} (input {input})"
    );
}

/// (body, expected field, expected description)
const CASES: &[(&str, &str, &str)] = &[
    (
        r#"{"prompt":"evil","options":{"max_tokens":"<script>evil","mode":"fast"},"tags":[]}"#,
        "options.max_tokens",
        "has the wrong type",
    ),
    (
        r#"{"prompt":"evil","options":{"max_tokens":1,"mode":"fast"}}"#,
        "tags",
        "is required",
    ),
    (
        r#"{"options":{"max_tokens":1,"mode":"fast"},"tags":[]}"#,
        "prompt",
        "is required",
    ),
    (
        r#"{"prompt":"evil","options":{"max_tokens":1},"tags":[]}"#,
        "options.mode",
        "is required",
    ),
    (
        r#"{"prompt":"evil","options":{"max_tokens":1,"mode":"evil"},"tags":[]}"#,
        "options.mode",
        "is not one of the allowed values",
    ),
    (
        r#"{"prompt":"evil","options":{"max_tokens":1,"mode":"fast"},"tags":["a",7]}"#,
        "tags[1]",
        "has the wrong type",
    ),
    (
        r#"{"prompt":"evil","options":{"max_tokens":-1,"mode":"fast"},"tags":[]}"#,
        "options.max_tokens",
        "has an invalid value",
    ),
    (
        r#"{"prompt":"evil","options":{"max_tokens":1,"mode":"fast"},"tags":[],"labels":{"<script>evil":"x"}}"#,
        "labels.*",
        "has the wrong type",
    ),
    (r#"{"prompt": evil"#, "body", "must be valid JSON"),
    // serde would fill a struct from an array; the extractor takes objects only.
    (r#"[1,2,3]"#, "body", "has the wrong type"),
    (r#"["evil"]"#, "body", "has the wrong type"),
];

#[tokio::test]
async fn json_rejections_name_the_field_without_echoing_input() {
    for (body, field, description) in CASES {
        let (status, value, text) = call(chat(body)).await;
        assert_eq!(status, 400, "{body} -> {text}");
        assert_eq!(value["error"]["code"], "VALIDATION_ERROR", "{text}");
        let violation = &value["error"]["details"]["fieldViolations"][0];
        assert_eq!(violation["field"], *field, "{body} -> {text}");
        assert_eq!(violation["description"], *description, "{body} -> {text}");
        assert_no_leaks(&text, body);
    }
}

#[tokio::test]
async fn json_without_content_type_is_unsupported_media_type() {
    let request = Request::post("/chat").body(Body::from("{}")).unwrap();
    let (status, value, text) = call(request).await;
    assert_eq!(
        (status, value["error"]["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE")),
        "{text}"
    );
}

#[tokio::test]
async fn bad_query_names_the_parameter_or_the_query() {
    let (status, value, text) = call(
        Request::get("/items?limit=evil")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        value["error"]["details"]["fieldViolations"][0]["field"], "query",
        "{text}"
    );
    assert!(!text.contains("evil") && !text.contains("digit"), "{text}");

    let (_, value, text) = call(Request::get("/items").body(Body::empty()).unwrap()).await;
    assert_eq!(
        value["error"]["details"]["fieldViolations"][0]["field"], "limit",
        "{text}"
    );
    assert_eq!(
        value["error"]["details"]["fieldViolations"][0]["description"],
        "is required"
    );
}

#[tokio::test]
async fn bad_path_parameter_is_a_validation_error_without_the_value() {
    let (status, value, text) = call(
        Request::get("/items/evil%3Cscript%3E")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(value["error"]["code"], "VALIDATION_ERROR");
    assert!(
        !text.contains("evil") && !text.contains("u32") && !text.contains("<script"),
        "{text}"
    );
}
