//! The agent's public interface over real HTTP on loopback: the agent runs on its own thread
//! (as the backend and the end-to-end tests run it), with its log lines captured.

use bytes::Bytes;
use example_agent::{AgentConfig, ServiceThread, spawn_on_thread};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use stanchion_test_support::CapturedLogs;

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: serde_json::Value,
    text: String,
}

fn start(vars: &[(&str, &str)]) -> (ServiceThread, CapturedLogs) {
    let mut all = vec![("AGENT_ADDR", "127.0.0.1:0")];
    all.extend_from_slice(vars);
    // Tests stop the agent often; no load balancer waits on its readiness.
    let config = AgentConfig::from_vars(all)
        .expect("agent config")
        .with_shutdown_delay(std::time::Duration::ZERO);
    let logs = CapturedLogs::new();
    let agent = spawn_on_thread(config, logs.clone()).expect("agent thread");
    (agent, logs)
}

async fn send(agent: &ServiceThread, request: http::Request<Full<Bytes>>) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let (parts, body) = request.into_parts();
    let uri = format!("{}{}", agent.base_url(), parts.uri);
    let mut request = http::Request::from_parts(parts, body);
    *request.uri_mut() = uri.parse().expect("uri");
    let response = client.request(request).await.expect("agent answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

fn chat() -> http::request::Builder {
    http::Request::post("/v1/chat").header("content-type", "application/json")
}

fn body(json: serde_json::Value) -> Full<Bytes> {
    Full::new(Bytes::from(json.to_string()))
}

#[tokio::test]
async fn chat_answers_under_the_propagated_request_id() {
    let (agent, logs) = start(&[]);
    let request = chat()
        .header("x-request-id", "backend-req-42")
        .body(body(
            serde_json::json!({"prompt": "How do I pace a 10k run?"}),
        ))
        .expect("request");
    let reply = send(&agent, request).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body["answer"]
            .as_str()
            .expect("answer")
            .starts_with("Keep most runs easy")
    );
    assert_eq!(reply.body["requestId"], "backend-req-42");
    assert_eq!(reply.headers["x-request-id"], "backend-req-42");
    agent.shutdown().expect("clean stop");

    let lines = logs.json_lines();
    let answered = lines
        .iter()
        .find(|line| line["message"] == "chat answered")
        .expect("a chat event");
    assert_eq!(answered["requestId"], "backend-req-42");
    assert_eq!(answered["service"], "agent");
    let access = lines
        .iter()
        .find(|line| line["target"] == "stanchion::access")
        .expect("an access log event");
    assert_eq!(access["route"], "/v1/chat");
    assert_eq!(access["requestId"], "backend-req-42");
    let all = logs.contents();
    assert!(
        !all.contains("dev-only-local-model-key"),
        "the model key leaked"
    );
}

#[tokio::test]
async fn bad_requests_are_envelopes_with_the_request_id() {
    let (agent, _logs) = start(&[]);
    let cases = [
        (
            chat()
                .body(body(serde_json::json!({"prompt": "   "})))
                .expect("request"),
            400,
            "VALIDATION_ERROR",
        ),
        (
            chat()
                .body(body(serde_json::json!({"question": "hi"})))
                .expect("request"),
            400,
            "VALIDATION_ERROR",
        ),
        (
            http::Request::post("/v1/chat")
                .header("content-type", "text/plain")
                .body(Full::new(Bytes::from_static(b"hi")))
                .expect("request"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            chat()
                .body(Full::new(Bytes::from(vec![b'x'; 1024 * 1024 + 1])))
                .expect("request"),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            http::Request::get("/v1/chat")
                .body(Full::new(Bytes::new()))
                .expect("request"),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            http::Request::get("/v2/nothing")
                .body(Full::new(Bytes::new()))
                .expect("request"),
            404,
            "NOT_FOUND",
        ),
    ];
    for (request, status, code) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let reply = send(&agent, request).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        assert_eq!(reply.body["error"]["code"], code, "{what}");
        assert_eq!(reply.body["error"]["statusCode"], status, "{what}");
        assert_eq!(
            reply.body["error"]["requestId"],
            reply.headers["x-request-id"].to_str().expect("ASCII"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn the_query_quota_answers_a_forwardable_429_per_user() {
    let (agent, _logs) = start(&[("AGENT_QUERIES_PER_MINUTE", "1")]);
    let ask = |user: &'static str| {
        chat()
            .header("x-user-id", user)
            .body(body(serde_json::json!({"prompt": "rest day?"})))
            .expect("request")
    };
    assert_eq!(send(&agent, ask("ana")).await.status, 200);
    let limited = send(&agent, ask("ana")).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["error"]["code"], "SUBSCRIPTION_QUERY_LIMIT");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(send(&agent, ask("bo")).await.status, 200);
}

#[tokio::test]
async fn an_invalid_user_id_spends_the_anonymous_quota_not_a_named_users() {
    let (agent, logs) = start(&[("AGENT_QUERIES_PER_MINUTE", "1")]);
    let ask = |user: Option<&str>| {
        let mut request = chat();
        if let Some(user) = user {
            request = request.header("x-user-id", user);
        }
        request
            .body(body(serde_json::json!({"prompt": "rest day?"})))
            .expect("request")
    };
    // Not the backend's rule (1-128 visible ASCII): a space, 129 characters. Each one would be
    // a fresh quota key, and a fresh quota, without the check.
    let spaced = "ana evil";
    let long = "x".repeat(129);
    assert_eq!(send(&agent, ask(Some(spaced))).await.status, 200);
    let limited = send(&agent, ask(Some(&long))).await;
    assert_eq!(
        limited.status, 429,
        "both count as anonymous: {}",
        limited.text
    );
    let limited = send(&agent, ask(None)).await;
    assert_eq!(limited.status, 429, "the anonymous bucket is used up");
    // A valid ID has its own quota, untouched by the invalid ones.
    assert_eq!(send(&agent, ask(Some("ana"))).await.status, 200);
    // The invalid value is never logged, only its size.
    let contents = logs.contents();
    assert!(contents.contains("counted as anonymous"), "{contents}");
    assert!(!contents.contains(spaced) && !contents.contains(&long));
}

#[tokio::test]
async fn health_and_metrics_endpoints() {
    let (agent, _logs) = start(&[]);
    for path in ["/livez", "/readyz", "/health"] {
        let reply = send(
            &agent,
            http::Request::get(path)
                .body(Full::new(Bytes::new()))
                .expect("request"),
        )
        .await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.headers["content-type"], "application/health+json");
        assert_eq!(reply.body["status"], "pass", "{path}");
    }
    let metrics = send(
        &agent,
        http::Request::get("/metrics")
            .body(Full::new(Bytes::new()))
            .expect("request"),
    )
    .await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/plain")
    );
    assert!(
        metrics.text.lines().any(|line| {
            line.starts_with("stanchion_config_tool_enabled{")
                && line.contains(r#"tool="model""#)
                && line.ends_with("} 1")
        }),
        "{}",
        metrics.text
    );
    assert!(
        metrics.text.contains(r#"http_route="/readyz""#),
        "{}",
        metrics.text
    );
    assert!(!metrics.text.contains("dev-only-local-model-key"));
}

/// A fake remote model provider: answers only when the bearer is the configured key.
fn fake_provider() -> ServiceThread {
    use axum::{Router, http::HeaderMap, routing::post};
    let router = Router::new().route(
        "/v1/answer",
        post(|headers: HeaderMap| async move {
            let expected = "Bearer dev-only-local-model-key-not-a-secret";
            if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected) {
                (
                    http::StatusCode::OK,
                    axum::Json(serde_json::json!({"answer": "remote says hi"})),
                )
            } else {
                (
                    http::StatusCode::UNAUTHORIZED,
                    axum::Json(serde_json::json!({"error": "bad key"})),
                )
            }
        }),
    );
    ServiceThread::serve_router("provider", router).expect("provider")
}

#[tokio::test]
async fn a_remote_provider_gets_the_key_and_its_connect_failure_has_its_own_code() {
    let provider = fake_provider();
    let endpoint = format!("{}/v1/answer", provider.base_url());
    let (agent, logs) = start(&[("MODEL_PROVIDER", "http"), ("MODEL_ENDPOINT", &endpoint)]);
    let ask = || {
        chat()
            .body(body(serde_json::json!({"prompt": "hello"})))
            .expect("request")
    };
    let reply = send(&agent, ask()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["answer"], "remote says hi");

    provider.shutdown().expect("provider stops");
    let down = send(&agent, ask()).await;
    assert_eq!(down.status, 502, "{}", down.body);
    assert_eq!(down.body["error"]["code"], "MODEL_PROVIDER_CONNECT_FAILED");
    assert!(!down.text.contains("127.0.0.1"), "{}", down.text);
    agent.shutdown().expect("agent stops");
    let failed = logs
        .json_lines()
        .into_iter()
        .find(|line| line["message"] == "model call failed")
        .expect("the failure is logged");
    assert_eq!(failed["errorCode"], "MODEL_PROVIDER_CONNECT_FAILED");
    assert!(
        !logs.contents().contains("dev-only-local-model-key"),
        "the key leaked"
    );
}

#[tokio::test]
async fn guard_mode_comes_from_the_configuration_and_shadow_passes_plain_errors_through() {
    // Enforced (the registry's default): the router's plain 405 leaves as an envelope.
    let (agent, _logs) = start(&[]);
    let get_chat = || {
        http::Request::get("/v1/chat")
            .body(Full::new(Bytes::new()))
            .expect("request")
    };
    let reply = send(&agent, get_chat()).await;
    assert_eq!(reply.status, 405);
    assert_eq!(
        reply.body["error"]["code"], "METHOD_NOT_ALLOWED",
        "{}",
        reply.text
    );

    // Shadow: the same response passes unchanged, and the would-be rewrite is counted.
    let (agent, logs) = start(&[("GUARD_MODE", "shadow")]);
    let reply = send(&agent, get_chat()).await;
    assert_eq!(reply.status, 405);
    assert!(reply.body.is_null(), "passed through: {}", reply.text);
    let metrics = send(
        &agent,
        http::Request::get("/metrics")
            .body(Full::new(Bytes::new()))
            .expect("request"),
    )
    .await;
    assert!(
        metrics.text.contains(
            r#"stanchion_rollout_decisions_total{flag="GUARD_MODE",outcome="would_deny"} 1"#
        ),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains(r#"stanchion_rollout_mode{flag="GUARD_MODE",mode="shadow"} 1"#),
        "{}",
        metrics.text
    );
    assert!(
        logs.json_lines().iter().any(|line| line["message"]
            == "error response without an envelope (passed through in shadow mode)"),
        "{}",
        logs.contents()
    );

    // The old word is refused at start, naming the accepted ones.
    let error = AgentConfig::from_vars([("AGENT_ADDR", "127.0.0.1:0"), ("GUARD_MODE", "audit")])
        .expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("GUARD_MODE: `audit` is not a rollout mode; use off, shadow or enforced"),
        "{error}"
    );
}
