//! The backend's public interface over real HTTP on loopback: the backend and the agent each
//! run on their own thread with their own captured logs; misbehaving agents are real servers.

use std::time::Duration;

use axum::{Router, response::IntoResponse, routing::post};
use bytes::Bytes;
use example_agent::{AgentConfig, ServiceThread};
use example_backend::{BackendConfig, DEVELOPMENT_JWT_SECRET, mint_token, mint_token_with_plan};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use stanchion_test_support::CapturedLogs;

const SECRET: &[u8] = DEVELOPMENT_JWT_SECRET.as_bytes();

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: serde_json::Value,
    text: String,
}

impl Reply {
    /// Asserts the envelope contract and returns the code.
    fn code(&self) -> &str {
        let error = &self.body["error"];
        assert_eq!(error["statusCode"], self.status, "{}", self.body);
        assert_eq!(
            error["requestId"],
            self.headers["x-request-id"].to_str().expect("ASCII"),
            "{}",
            self.body
        );
        error["code"].as_str().expect("a code")
    }
}

fn agent(vars: &[(&str, &str)]) -> (ServiceThread, CapturedLogs) {
    let mut all = vec![("AGENT_ADDR", "127.0.0.1:0")];
    all.extend_from_slice(vars);
    let logs = CapturedLogs::new();
    let config = AgentConfig::from_vars(all)
        .expect("agent config")
        .with_shutdown_delay(Duration::ZERO);
    let thread = example_agent::spawn_on_thread(config, logs.clone()).expect("agent");
    (thread, logs)
}

fn backend(agent_url: &str, timeout: Duration) -> (ServiceThread, CapturedLogs) {
    let logs = CapturedLogs::new();
    let config = BackendConfig::from_vars([("BACKEND_ADDR", "127.0.0.1:0")])
        .expect("backend config")
        // Tests stop services often; no load balancer waits on their readiness.
        .with_shutdown_delay(Duration::ZERO)
        .with_agent_url(agent_url)
        .with_agent_timeout(timeout);
    let thread = example_backend::spawn_on_thread(config, logs.clone()).expect("backend");
    (thread, logs)
}

/// A fake agent: a real server answering `/v1/chat` with `router`'s behaviour.
fn fake_agent(router: Router) -> ServiceThread {
    ServiceThread::serve_router("fake-agent", router).expect("fake agent")
}

async fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body.into())).expect("request");
    let response = client.request(request).await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn chat(base: &str, token: &str, prompt: &str) -> Reply {
    let auth = format!("Bearer {token}");
    let body = serde_json::json!({ "prompt": prompt }).to_string();
    send(
        base,
        "POST",
        "/api/v1/chat",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await
}

#[tokio::test]
async fn one_chat_request_has_one_id_in_both_services_logs() {
    let (agent, agent_logs) = agent(&[]);
    let (backend, backend_logs) = backend(&agent.base_url(), Duration::from_secs(10));
    let token = mint_token(SECRET, "ana", 300).expect("token");
    let reply = chat(&backend.base_url(), &token, "What about a long bike ride?").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body["answer"]
            .as_str()
            .expect("answer")
            .starts_with("Build endurance")
    );
    let id = reply.headers["x-request-id"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    backend.shutdown().expect("backend stops");
    agent.shutdown().expect("agent stops");

    let in_request = |logs: &CapturedLogs, message: &str| {
        logs.json_lines()
            .into_iter()
            .find(|line| line["message"] == message && line["requestId"] == id.as_str())
            .unwrap_or_else(|| panic!("no {message:?} line with {id}:\n{}", logs.contents()))
    };
    assert_eq!(
        in_request(&backend_logs, "chat answered by the agent")["service"],
        "backend"
    );
    assert_eq!(in_request(&agent_logs, "chat answered")["service"], "agent");
    let access = in_request(&backend_logs, "request completed");
    assert_eq!(access["route"], "/api/v1/chat");
    assert_eq!(access["userId"], "ana");
    assert_eq!(access["status"], 200);
    assert_eq!(
        in_request(&agent_logs, "request completed")["route"],
        "/v1/chat"
    );
    for logs in [&backend_logs, &agent_logs] {
        let all = logs.contents();
        assert!(!all.contains(&token), "the bearer token leaked");
        assert!(
            !all.contains(DEVELOPMENT_JWT_SECRET),
            "the JWT secret leaked"
        );
        assert!(
            !all.contains("dev-only-local-model-key"),
            "the model key leaked"
        );
    }
}

#[tokio::test]
async fn auth_and_body_failures_are_envelopes() {
    let (agent, _) = agent(&[]);
    let (backend, _) = backend(&agent.base_url(), Duration::from_secs(10));
    let base = backend.base_url();
    let good = mint_token(SECRET, "ana", 300).expect("token");
    let expired = mint_token(SECRET, "ana", -3600).expect("token");
    let forged = mint_token(b"someone-elses-secret-0123456789abcdef", "ana", 300).expect("token");
    let bearer = |token: &str| format!("Bearer {token}");
    let json = ("content-type", "application/json");
    let prompt = r#"{"prompt":"hi"}"#;
    // (headers, body, status, code)
    type Case<'a> = (Vec<(&'a str, String)>, &'a str, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (vec![], prompt, 401, "AUTH_REQUIRED"),
        (
            vec![("authorization", "Bearer garbage".into())],
            prompt,
            401,
            "AUTH_INVALID_TOKEN",
        ),
        (
            vec![("authorization", bearer(&forged))],
            prompt,
            401,
            "AUTH_INVALID_TOKEN",
        ),
        (
            vec![("authorization", bearer(&expired))],
            prompt,
            401,
            "AUTH_EXPIRED_TOKEN",
        ),
        // Auth runs before the body is read.
        (vec![], "{not json", 401, "AUTH_REQUIRED"),
        (
            vec![("authorization", bearer(&good))],
            "{not json",
            400,
            "VALIDATION_ERROR",
        ),
        (
            vec![("authorization", bearer(&good))],
            r#"{"prompt":42}"#,
            400,
            "VALIDATION_ERROR",
        ),
        (
            vec![("authorization", bearer(&good))],
            r#"{"prompt":" "}"#,
            400,
            "VALIDATION_ERROR",
        ),
        (
            vec![("authorization", bearer(&good))],
            "{}",
            400,
            "VALIDATION_ERROR",
        ),
    ];
    for (headers, body, status, code) in cases {
        let mut all: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        all.push(json);
        let reply = send(&base, "POST", "/api/v1/chat", &all, body.to_owned()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(reply.code(), code, "{body}");
        if status == 401 {
            assert!(reply.headers.contains_key("www-authenticate"));
        }
        assert!(!reply.body.to_string().contains("not json"));
    }
    let auth = bearer(&good);
    let wrong_type = send(
        &base,
        "POST",
        "/api/v1/chat",
        &[("authorization", &auth), ("content-type", "text/plain")],
        prompt,
    )
    .await;
    assert_eq!(
        (wrong_type.status, wrong_type.code()),
        (415, "UNSUPPORTED_MEDIA_TYPE")
    );
    let huge = send(
        &base,
        "POST",
        "/api/v1/chat",
        &[("authorization", &auth), json],
        vec![b' '; 1024 * 1024 + 1],
    )
    .await;
    assert_eq!((huge.status, huge.code()), (413, "PAYLOAD_TOO_LARGE"));
    let missing = send(&base, "POST", "/api/v1/chat", &[json], prompt).await;
    let violations = &missing.body["error"]["details"];
    assert!(
        violations.is_null(),
        "no violations on auth errors: {violations}"
    );
    let wrong_method = send(&base, "GET", "/api/v1/chat", &[], "").await;
    assert_eq!(
        (wrong_method.status, wrong_method.code()),
        (405, "METHOD_NOT_ALLOWED")
    );
    let unknown = send(&base, "GET", "/api/v1/nothing", &[], "").await;
    assert_eq!((unknown.status, unknown.code()), (404, "NOT_FOUND"));
}

#[tokio::test]
async fn agent_failures_map_to_upstream_codes() {
    // Down: a port where nothing listens.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    // Slow: answers long after the backend's 300 ms.
    let slow = fake_agent(Router::new().route(
        "/v1/chat",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            axum::Json(serde_json::json!({"answer": "late"}))
        }),
    ));
    // Garbage: a 2xx that is not an answer.
    let garbage = fake_agent(Router::new().route("/v1/chat", post(|| async { "<<not json>>" })));
    // An error page that is not an envelope, with an internal path in it.
    let broken = fake_agent(Router::new().route(
        "/v1/chat",
        post(|| async {
            (
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "panic at /srv/agent/src/main.rs:42",
            )
                .into_response()
        }),
    ));
    let token = mint_token(SECRET, "ana", 300).expect("token");
    let cases = [
        (format!("http://{closed}"), 502, "UPSTREAM_UNAVAILABLE"),
        (slow.base_url(), 504, "UPSTREAM_TIMEOUT"),
        (garbage.base_url(), 502, "UPSTREAM_ERROR"),
        (broken.base_url(), 502, "UPSTREAM_ERROR"),
    ];
    for (url, status, code) in cases {
        let (backend, logs) = backend(&url, Duration::from_millis(300));
        let reply = chat(&backend.base_url(), &token, "hello").await;
        assert_eq!(reply.status, status, "{url}: {}", reply.body);
        assert_eq!(reply.code(), code, "{url}");
        let text = reply.body.to_string();
        assert!(
            !text.contains("/srv/agent") && !text.contains("not json"),
            "{text}"
        );
        backend.shutdown().expect("backend stops");
        let failed = logs
            .json_lines()
            .into_iter()
            .find(|line| line["message"] == "agent call failed")
            .expect("the failure is logged");
        assert_eq!(failed["errorCode"], code);
    }
}

#[tokio::test]
async fn readiness_reflects_the_agent() {
    let (agent, _) = agent(&[]);
    let (backend, _) = backend(&agent.base_url(), Duration::from_millis(500));
    let base = backend.base_url();
    let ready = send(&base, "GET", "/readyz", &[], "").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.headers["content-type"], "application/health+json");
    assert_eq!(ready.body["checks"]["agent"][0]["status"], "pass");
    agent.shutdown().expect("agent stops");
    for path in ["/readyz", "/health"] {
        let down = send(&base, "GET", path, &[], "").await;
        assert_eq!(down.status, 503, "{path}: {}", down.body);
        assert_eq!(down.body["status"], "fail");
        assert_eq!(down.body["checks"]["agent"][0]["status"], "fail");
    }
    let live = send(&base, "GET", "/livez", &[], "").await;
    assert_eq!(
        (live.status, &live.body["status"]),
        (200, &serde_json::json!("pass"))
    );
}

#[tokio::test]
async fn the_agents_query_limit_is_forwarded_as_is() {
    let (agent, _) = agent(&[("AGENT_QUERIES_PER_MINUTE", "1")]);
    let (backend, _) = backend(&agent.base_url(), Duration::from_secs(10));
    let base = backend.base_url();
    let ana = mint_token(SECRET, "ana", 300).expect("token");
    assert_eq!(chat(&base, &ana, "rest?").await.status, 200);
    let limited = chat(&base, &ana, "rest?").await;
    assert_eq!(
        (limited.status, limited.code()),
        (429, "SUBSCRIPTION_QUERY_LIMIT")
    );
    assert!(limited.headers.contains_key("retry-after"));
    let bo = mint_token(SECRET, "bo", 300).expect("token");
    assert_eq!(
        chat(&base, &bo, "rest?").await.status,
        200,
        "quota is per user"
    );
}

#[tokio::test]
async fn training_plans_follow_the_plan_claim_and_tools_show_no_values() {
    let (backend, _) = backend("http://127.0.0.1:9", Duration::from_millis(100));
    let base = backend.base_url();
    let pro = format!(
        "Bearer {}",
        mint_token(SECRET, "ana-5d1c", 300).expect("token")
    );
    let free = format!(
        "Bearer {}",
        mint_token_with_plan(SECRET, "bo", 300, Some("free")).expect("token")
    );
    let plan = send(
        &base,
        "GET",
        "/api/v1/training-plans/active",
        &[("authorization", &pro)],
        "",
    )
    .await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert_eq!(plan.body["plan"]["userId"], "ana-5d1c");
    let limited = send(
        &base,
        "GET",
        "/api/v1/training-plans/active",
        &[("authorization", &free)],
        "",
    )
    .await;
    assert_eq!(
        (limited.status, limited.code()),
        (403, "SUBSCRIPTION_PLAN_LIMIT")
    );
    let anonymous = send(&base, "GET", "/api/v1/training-plans/active", &[], "").await;
    assert_eq!((anonymous.status, anonymous.code()), (401, "AUTH_REQUIRED"));

    let tools = send(&base, "GET", "/api/v1/tools", &[], "").await;
    assert_eq!(tools.status, 200);
    let slugs: Vec<_> = tools.body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|tool| tool["slug"].as_str().expect("slug").to_owned())
        .collect();
    assert_eq!(slugs, ["auth", "chat", "training-plans"]);
    assert!(!tools.body.to_string().contains(DEVELOPMENT_JWT_SECRET));

    let metrics = send(&base, "GET", "/metrics", &[], "").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text;
    assert!(
        text.lines().any(|line| {
            line.starts_with("stanchion_config_tool_enabled{")
                && line.contains(r#"tool="auth""#)
                && line.ends_with("} 1")
        }),
        "{text}"
    );
    assert!(
        text.contains(r#"error_code="SUBSCRIPTION_PLAN_LIMIT""#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_route="/api/v1/training-plans/active""#),
        "{text}"
    );
    assert!(
        !text.contains(DEVELOPMENT_JWT_SECRET) && !text.contains("ana-5d1c"),
        "{text}"
    );
}

#[test]
fn without_an_agent_url_the_backend_starts_one_in_process() {
    let logs = CapturedLogs::new();
    let config = BackendConfig::from_vars([("BACKEND_ADDR", "127.0.0.1:0")])
        .expect("config")
        .with_shutdown_delay(Duration::ZERO);
    assert_eq!(config.agent_url(), None);
    let backend = example_backend::spawn_on_thread(config, logs.clone()).expect("backend");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let token = mint_token(SECRET, "ana", 300).expect("token");
    let reply = runtime.block_on(chat(&backend.base_url(), &token, "sore legs"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body["answer"]
            .as_str()
            .expect("answer")
            .starts_with("Take an easy day")
    );
    backend.shutdown().expect("backend and its agent stop");
    let listening = logs
        .json_lines()
        .into_iter()
        .find(|line| line["message"] == "backend listening")
        .expect("a start event");
    assert_eq!(listening["inProcessAgent"], true);
}

#[tokio::test]
async fn the_agents_own_provider_failure_is_not_forwarded() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let endpoint = format!("http://{closed}/v1/answer");
    let (agent, _) = agent(&[("MODEL_PROVIDER", "http"), ("MODEL_ENDPOINT", &endpoint)]);
    let (backend, _) = backend(&agent.base_url(), Duration::from_secs(10));
    let token = mint_token(SECRET, "ana", 300).expect("token");
    let reply = chat(&backend.base_url(), &token, "hello").await;
    // The agent says MODEL_PROVIDER_CONNECT_FAILED; the shared taxonomy does not mark it
    // forwardable, so the backend's caller sees an upstream code.
    assert_eq!((reply.status, reply.code()), (502, "UPSTREAM_ERROR"));
}
