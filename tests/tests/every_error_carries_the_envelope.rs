//! Every non-2xx the backend sends for a bad request carries the error envelope, with
//! `statusCode` equal to the HTTP status and `requestId` equal to the `x-request-id` header:
//! routing errors, authentication errors, body errors, hostile request IDs, and a panic under
//! `stanchion::Stack`.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{
    Client, assert_envelope, bearer, build, chat_body, is_valid_request_id, mentions, start_router,
    start_system, token, token_with, violated_fields, with_raw_header,
};
use http::Method;
use stanchion_test_support::hostile::HEADER_AND_LOG_INJECTION;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CHAT: &str = "/api/v1/chat";

#[tokio::test]
async fn unknown_routes_are_not_found_envelopes() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let (name, value) = bearer(&token("ana"));
    for path in [
        "/api/v1/nope",
        "/nope",
        "/api/v1/chat/extra",
        "/%2e%2e/etc/passwd",
    ] {
        let reply = client.get(&system.backend.url(path), &[]).await;
        assert_envelope(&reply, 404, Some("NOT_FOUND"));
        // Credentials change nothing about a route that does not exist.
        let reply = client
            .get(&system.backend.url(path), &[(name, &value)])
            .await;
        assert_envelope(&reply, 404, Some("NOT_FOUND"));
    }
}

#[tokio::test]
async fn wrong_methods_are_method_not_allowed_envelopes_with_allow() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let (name, value) = bearer(&token("ana"));
    for (method, path, allowed) in [
        (Method::GET, CHAT, "POST"),
        (Method::PUT, CHAT, "POST"),
        (Method::POST, "/api/v1/tools", "GET"),
        (Method::DELETE, "/api/v1/training-plans/active", "GET"),
    ] {
        let request = build(
            method.clone(),
            &system.backend.url(path),
            &[(name, &value)],
            Bytes::new(),
        );
        let reply = client.send(request).await;
        assert_envelope(&reply, 405, Some("METHOD_NOT_ALLOWED"));
        let allow = reply
            .headers
            .get("allow")
            .unwrap_or_else(|| panic!("{method} {path}: a 405 keeps Allow"))
            .to_str()
            .expect("Allow is ASCII");
        assert!(allow.contains(allowed), "{method} {path}: Allow {allow:?}");
    }
}

#[tokio::test]
async fn a_missing_token_is_auth_required() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let json = ("content-type", "application/json");
    let reply = client
        .post(&system.backend.url(CHAT), &[json], chat_body("hi"))
        .await;
    assert_envelope(&reply, 401, Some("AUTH_REQUIRED"));
    // Auth runs before the body is read: a bad body without a token is still a 401.
    let reply = client
        .post(&system.backend.url(CHAT), &[json], "{not json")
        .await;
    assert_envelope(&reply, 401, Some("AUTH_REQUIRED"));
    let reply = client
        .get(&system.backend.url("/api/v1/training-plans/active"), &[])
        .await;
    assert_envelope(&reply, 401, Some("AUTH_REQUIRED"));
}

#[tokio::test]
async fn garbage_tokens_are_invalid_token() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let forged = token_with("not-the-configured-secret-0123456789abcdef", "ana", 3600);
    let valid = token("ana");
    // The valid token with its signature's last characters changed.
    let tampered = format!("{}AA", &valid[..valid.len() - 2]);
    let cases = [
        "Bearer garbage".to_owned(),
        "Bearer a.b.c".to_owned(),
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbmEifQ.".to_owned(),
        format!("Bearer {forged}"),
        format!("Bearer {tampered}"),
    ];
    for authorization in &cases {
        for (method, path) in [
            (Method::POST, CHAT),
            (Method::GET, "/api/v1/training-plans/active"),
        ] {
            let request = build(
                method.clone(),
                &system.backend.url(path),
                &[
                    ("authorization", authorization),
                    ("content-type", "application/json"),
                ],
                Bytes::from(chat_body("hi")),
            );
            let reply = client.send(request).await;
            let body = assert_envelope(&reply, 401, Some("AUTH_INVALID_TOKEN"));
            assert!(
                !mentions(
                    &body.to_string(),
                    authorization.trim_start_matches("Bearer ")
                ),
                "the token is not echoed"
            );
        }
    }
    // A scheme other than Bearer is not a bearer token: a 401 with an auth code either way.
    let reply = client
        .get(
            &system.backend.url("/api/v1/training-plans/active"),
            &[("authorization", "Basic YW5hOmh1bnRlcjI=")],
        )
        .await;
    let body = assert_envelope(&reply, 401, None);
    let code = body["error"]["code"].as_str().unwrap_or_default();
    assert!(
        code == "AUTH_REQUIRED" || code == "AUTH_INVALID_TOKEN",
        "Basic credentials: {code}"
    );
}

#[tokio::test]
async fn an_expired_token_is_expired_token() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let expired = token_with(&common::jwt_secret(), "ana", -3600);
    let (name, value) = bearer(&expired);
    let reply = client
        .get(
            &system.backend.url("/api/v1/training-plans/active"),
            &[(name, &value)],
        )
        .await;
    assert_envelope(&reply, 401, Some("AUTH_EXPIRED_TOKEN"));
    let reply = client
        .post(
            &system.backend.url(CHAT),
            &[(name, &value), ("content-type", "application/json")],
            chat_body("hi"),
        )
        .await;
    assert_envelope(&reply, 401, Some("AUTH_EXPIRED_TOKEN"));
}

#[tokio::test]
async fn a_free_plan_is_a_subscription_plan_limit() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let free = example_backend::mint_token_with_plan(
        common::jwt_secret().as_bytes(),
        "ana",
        3600,
        Some("free"),
    )
    .expect("HS256 signing succeeds");
    let (name, value) = bearer(&free);
    let reply = client
        .get(
            &system.backend.url("/api/v1/training-plans/active"),
            &[(name, &value)],
        )
        .await;
    assert_envelope(&reply, 403, Some("SUBSCRIPTION_PLAN_LIMIT"));
}

/// POST a chat body with a valid token and JSON content type.
async fn post_chat(
    client: &Client,
    system: &common::System,
    body: impl Into<Bytes>,
) -> common::Reply {
    let (name, value) = bearer(&token("ana"));
    client
        .post(
            &system.backend.url(CHAT),
            &[(name, &value), ("content-type", "application/json")],
            body,
        )
        .await
}

#[tokio::test]
async fn malformed_json_is_a_validation_error_that_does_not_echo_the_input() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    for body in [
        r#"{"prompt": "marker-7f3a"#,
        r#"{"prompt": 'marker-7f3a'}"#,
        "marker-7f3a",
        "",
    ] {
        let reply = post_chat(&client, &system, body).await;
        let envelope = assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
        assert!(
            !violated_fields(&envelope).is_empty(),
            "{body:?}: a validation error says which field: {envelope}"
        );
        assert!(
            !reply.text().contains("marker-7f3a"),
            "input echoed: {}",
            reply.text()
        );
    }
}

#[tokio::test]
async fn wrong_json_types_are_validation_errors_naming_the_field() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    for body in [
        r#"{"prompt": 42}"#,
        r#"{"prompt": ["marker-51b2"]}"#,
        r#"{"prompt": {"marker-51b2": true}}"#,
        r#"{"prompt": null}"#,
    ] {
        let reply = post_chat(&client, &system, body).await;
        let envelope = assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
        assert_eq!(violated_fields(&envelope), ["prompt"], "{body}: {envelope}");
        assert!(
            !reply.text().contains("marker-51b2"),
            "input echoed: {}",
            reply.text()
        );
    }
    // A body of the wrong shape altogether still gets an envelope with a violation.
    for body in ["[]", "42", r#""prompt""#] {
        let reply = post_chat(&client, &system, body).await;
        let envelope = assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
        assert!(!violated_fields(&envelope).is_empty(), "{body}: {envelope}");
    }
}

#[tokio::test]
async fn missing_fields_are_validation_errors_naming_the_field() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    for body in ["{}", r#"{"promt": "typo"}"#] {
        let reply = post_chat(&client, &system, body).await;
        let envelope = assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
        assert_eq!(violated_fields(&envelope), ["prompt"], "{body}: {envelope}");
    }
}

#[tokio::test]
async fn a_wrong_content_type_is_unsupported_media_type() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let (name, value) = bearer(&token("ana"));
    let url = system.backend.url(CHAT);
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut headers = vec![(name, value.as_str())];
        if let Some(content_type) = content_type {
            headers.push(("content-type", content_type));
        }
        let reply = client.post(&url, &headers, chat_body("hi")).await;
        assert_envelope(&reply, 415, Some("UNSUPPORTED_MEDIA_TYPE"));
    }
}

#[tokio::test]
async fn an_oversize_body_is_payload_too_large() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    // A syntactically valid JSON body one byte over 1 MiB, announced by Content-Length.
    let limit = 1024 * 1024;
    let prefix = r#"{"prompt":""#;
    let suffix = r#""}"#;
    let mut body = String::with_capacity(limit + 1);
    body.push_str(prefix);
    body.push_str(&"a".repeat(limit + 1 - prefix.len() - suffix.len()));
    body.push_str(suffix);
    assert_eq!(body.len(), limit + 1);
    let reply = post_chat(&client, &system, body).await;
    assert_envelope(&reply, 413, Some("PAYLOAD_TOO_LARGE"));
}

#[tokio::test]
async fn an_oversize_chunked_body_is_payload_too_large() {
    let _guard = common::init();
    let system = start_system();
    // No Content-Length: the limit must be enforced while the body streams in.
    let mut stream = tokio::net::TcpStream::connect(system.backend.addr)
        .await
        .expect("connect to the backend");
    let head = format!(
        "POST {CHAT} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        system.backend.addr,
        token("ana"),
    );
    let exchange = async {
        stream.write_all(head.as_bytes()).await?;
        let chunk = vec![b'a'; 64 * 1024];
        // 17 chunks of 64 KiB: over the limit. The server may answer and close early, so a
        // failed write ends the upload rather than the test.
        let _ = async {
            stream.write_all(b"b\r\n{\"prompt\":\"\r\n").await?;
            for _ in 0..17 {
                stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                stream.write_all(&chunk).await?;
                stream.write_all(b"\r\n").await?;
            }
            stream.write_all(b"2\r\n\"}\r\n0\r\n\r\n").await
        }
        .await;
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("the backend answers an oversize chunked body")
        .expect("write the request head");
    let reply = common::parse_raw_response(&raw);
    assert_envelope(&reply, 413, Some("PAYLOAD_TOO_LARGE"));
}

#[tokio::test]
async fn hostile_request_ids_are_replaced_and_the_envelope_carries_the_replacement() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let long = "a".repeat(10 * 1024);
    let mut values: Vec<(String, Vec<u8>)> = HEADER_AND_LOG_INJECTION
        .iter()
        .map(|h| (h.name.to_owned(), h.value.as_bytes().to_vec()))
        .collect();
    values.push((
        "10 KiB of valid characters".to_owned(),
        long.clone().into_bytes(),
    ));
    values.push(("latin-1 bytes".to_owned(), b"caf\xe9-\xff".to_vec()));
    values.push((
        "129 valid characters".to_owned(),
        "b".repeat(129).into_bytes(),
    ));
    let (name, value) = bearer(&token("ana"));
    for (what, raw) in &values {
        for (method, path, status, code) in [
            (Method::GET, "/api/v1/nope", 404, "NOT_FOUND"),
            (Method::POST, CHAT, 401, "AUTH_REQUIRED"),
            (Method::GET, CHAT, 405, "METHOD_NOT_ALLOWED"),
        ] {
            let request = build(method.clone(), &system.backend.url(path), &[], Bytes::new());
            let reply = client
                .send(with_raw_header(request, "x-request-id", raw))
                .await;
            assert_envelope(&reply, status, Some(code));
            let echoed = reply.request_id();
            assert_ne!(echoed.as_bytes(), raw.as_slice(), "{what}: echoed as is");
            assert!(is_valid_request_id(&echoed), "{what}: {echoed:?}");
        }
        // The hostile ID also goes with a request that is served: still replaced.
        let request = build(
            Method::POST,
            &system.backend.url(CHAT),
            &[(name, &value), ("content-type", "application/json")],
            Bytes::from(chat_body("hi")),
        );
        let reply = client
            .send(with_raw_header(request, "x-request-id", raw))
            .await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.text());
        assert_ne!(reply.request_id().as_bytes(), raw.as_slice(), "{what}");
    }
    // Every line of both services is still one JSON object, no line's requestId is a hostile
    // value, and the 10 KiB value was never written whole.
    for server in [&system.backend, &system.agent] {
        for line in server.log_lines() {
            if let Some(id) = line.get("requestId") {
                let id = id.as_str().expect("requestId is a string");
                assert!(is_valid_request_id(id), "{}: requestId {id:?}", server.name);
            }
        }
        assert!(
            !server.logs.contents().contains(&long[..200]),
            "{}: the 10 KiB ID reached the logs",
            server.name
        );
    }
}

#[tokio::test]
async fn a_handler_slower_than_the_stack_timeout_is_a_request_timeout_envelope() {
    use axum::{Router, routing::get};
    let _guard = common::init();
    let router = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "too late"
            }),
        )
        .layer(stanchion::Stack::new().with_timeout(Duration::from_millis(100)));
    let server = start_router("sluggish", router);
    let reply = Client::new().get(&server.url("/slow"), &[]).await;
    assert_envelope(&reply, 408, Some("REQUEST_TIMEOUT"));
    assert!(!reply.text().contains("too late"));
}

#[tokio::test]
async fn the_agent_envelopes_its_own_errors() {
    let _guard = common::init();
    let agent = common::start_agent();
    let client = Client::new();
    let url = agent.url("/v1/chat");
    let json = ("content-type", "application/json");
    let reply = client.get(&agent.url("/v1/nope"), &[]).await;
    assert_envelope(&reply, 404, Some("NOT_FOUND"));
    let reply = client.get(&url, &[]).await;
    assert_envelope(&reply, 405, Some("METHOD_NOT_ALLOWED"));
    let reply = client.post(&url, &[json], "{not json").await;
    assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
    let reply = client.post(&url, &[json], "{}").await;
    let body = assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
    assert_eq!(violated_fields(&body), ["prompt"], "{body}");
    let reply = client
        .post(&url, &[("content-type", "text/plain")], chat_body("hi"))
        .await;
    assert_envelope(&reply, 415, Some("UNSUPPORTED_MEDIA_TYPE"));
    // The agent trusts the hop's ID (the backend validated it at the edge) and echoes it in
    // the envelope.
    let reply = client
        .post(&url, &[json, ("x-request-id", "from-the-backend-42")], "{}")
        .await;
    assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
    assert_eq!(reply.request_id(), "from-the-backend-42");
}

async fn explode() -> &'static str {
    panic!("handler exploded: password=hunter2-marker");
}

#[tokio::test]
async fn a_panicking_handler_under_the_stack_is_an_internal_error_envelope() {
    use axum::{Router, routing::get};
    let _guard = common::init();
    let router = Router::new()
        .route("/panic", get(explode))
        .route("/ok", get(|| async { "ok" }))
        .layer(stanchion::Stack::new());
    let server = start_router("panicky", router);
    let client = Client::new();

    let reply = client.get(&server.url("/panic"), &[]).await;
    let body = assert_envelope(&reply, 500, Some("INTERNAL_ERROR"));
    assert!(
        !reply.text().contains("exploded"),
        "panic message in the body: {body}"
    );
    let id = reply.request_id();

    // The server survived and still serves, and the Stack also envelopes its own 404.
    let ok = client.get(&server.url("/ok"), &[]).await;
    assert_eq!(ok.status, 200);
    let reply = client.get(&server.url("/missing"), &[]).await;
    assert_envelope(&reply, 404, Some("NOT_FOUND"));

    // The panic is logged at ERROR with the request's ID, its secret redacted.
    let line = server
        .wait_for_line("for the panic", |line| {
            line["target"] == "stanchion::panic" && line["requestId"] == id.as_str()
        })
        .await;
    assert_eq!(line["level"], "ERROR", "{line}");
    assert!(
        !server.logs.contents().contains("hunter2-marker"),
        "the panic's secret reached the logs"
    );
}
