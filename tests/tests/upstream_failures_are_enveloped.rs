//! When the agent behind the backend is down, slow, or answers garbage, the backend answers
//! with an upstream code in the envelope (statusCode = HTTP status, requestId = the header),
//! never the agent's body; and `/readyz` reports an agent that is down.

mod common;

use common::{
    AGENT_TIMEOUT, Client, FakeAgent, assert_envelope, bearer, chat_body, closed_port_url,
    start_backend, start_fake_agent, token,
};

async fn chat(client: &Client, backend: &common::Server) -> common::Reply {
    let (name, value) = bearer(&token("ana"));
    client
        .post(
            &backend.url("/api/v1/chat"),
            &[(name, &value), ("content-type", "application/json")],
            chat_body("what is my plan?"),
        )
        .await
}

#[tokio::test]
async fn an_agent_that_is_down_is_an_upstream_unavailable_envelope() {
    let _guard = common::init();
    let backend = start_backend(closed_port_url());
    let client = Client::new();
    let reply = chat(&client, &backend).await;
    let body = assert_envelope(&reply, 502, Some("UPSTREAM_UNAVAILABLE"));
    assert!(
        !reply.text().to_lowercase().contains("refused"),
        "the connect error is not sent: {body}"
    );
    // The access log says what happened, with the same ID.
    let id = reply.request_id();
    let line = backend
        .wait_for_line("access log for the failed chat", |line| {
            line["target"] == "stanchion::access" && line["requestId"] == id.as_str()
        })
        .await;
    assert_eq!(line["status"], 502, "{line}");
    assert_eq!(line["errorCode"], "UPSTREAM_UNAVAILABLE", "{line}");
}

#[tokio::test]
async fn a_slow_agent_is_an_upstream_timeout_envelope() {
    let _guard = common::init();
    let agent = start_fake_agent(FakeAgent::Slow);
    let backend = start_backend(agent.base_url());
    let client = Client::new();
    let started = tokio::time::Instant::now();
    let reply = chat(&client, &backend).await;
    assert_envelope(&reply, 504, Some("UPSTREAM_TIMEOUT"));
    // The backend gave up on its own deadline, not on the agent's eventual answer (which
    // comes only after a hundred times the deadline). A bound, not a timing measurement.
    assert!(
        started.elapsed() < AGENT_TIMEOUT * 50,
        "the backend waited {:?} for a {AGENT_TIMEOUT:?} deadline",
        started.elapsed()
    );
    assert!(!reply.text().contains("too late"), "{}", reply.text());
}

#[tokio::test]
async fn an_agent_answering_garbage_is_an_upstream_error_envelope() {
    let _guard = common::init();
    let agent = start_fake_agent(FakeAgent::Garbage);
    let backend = start_backend(agent.base_url());
    let client = Client::new();
    let reply = chat(&client, &backend).await;
    assert_envelope(&reply, 502, Some("UPSTREAM_ERROR"));
    assert!(!reply.text().contains("not json"), "{}", reply.text());
}

#[tokio::test]
async fn an_agent_error_page_is_an_upstream_error_envelope_without_its_body() {
    let _guard = common::init();
    let agent = start_fake_agent(FakeAgent::BrokenError);
    let backend = start_backend(agent.base_url());
    let client = Client::new();
    let reply = chat(&client, &backend).await;
    assert_envelope(&reply, 502, Some("UPSTREAM_ERROR"));
    let text = reply.text();
    assert!(
        !text.contains("stack trace") && !text.contains("main.rs") && !text.contains("<html>"),
        "the agent's body leaked: {text}"
    );
}

#[tokio::test]
async fn readiness_fails_while_the_agent_is_down_and_liveness_does_not() {
    let _guard = common::init();
    let backend = start_backend(closed_port_url());
    let client = Client::new();
    for path in ["/readyz", "/health"] {
        let reply = client.get(&backend.url(path), &[]).await;
        assert_eq!(reply.status, 503, "{path}: {}", reply.text());
        let content_type = reply.headers["content-type"].to_str().unwrap_or_default();
        assert!(
            content_type.starts_with("application/health+json"),
            "{path}: {content_type}"
        );
        let report = reply.json();
        assert_eq!(report["status"], "fail", "{path}: {report}");
        assert_eq!(
            report["checks"]["agent"][0]["status"], "fail",
            "{path}: {report}"
        );
        // The other checks (configuration loaded, critical tools) still pass on their own.
        let checks = report["checks"].as_object().expect("checks is a map");
        assert!(checks.len() >= 2, "{path}: {report}");
    }
    let reply = client.get(&backend.url("/livez"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["status"], "pass");
}

#[tokio::test]
async fn an_agent_error_envelope_is_relayed_under_the_backends_request_id() {
    let _guard = common::init();
    // One query per user per minute: the second chat hits the agent's quota.
    let agent = common::start_agent_with(vec![("AGENT_QUERIES_PER_MINUTE", "1".to_owned())]);
    let backend = start_backend(agent.base_url());
    let client = Client::new();
    let first = chat(&client, &backend).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let second = chat(&client, &backend).await;
    // SUBSCRIPTION_QUERY_LIMIT is forwardable: relayed as is, with its retry hint, but the
    // envelope is the backend's own, carrying the backend's request ID.
    let body = assert_envelope(&second, 429, Some("SUBSCRIPTION_QUERY_LIMIT"));
    assert!(
        second.headers.contains_key("retry-after"),
        "the retry hint travels: {body}"
    );
    let id = second.request_id();
    agent
        .wait_for_line("the agent's access log for the limited chat", |line| {
            line["target"] == "stanchion::access"
                && line["requestId"] == id.as_str()
                && line["status"] == 429
        })
        .await;
}
