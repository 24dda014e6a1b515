//! One chat request has one ID: the backend's response header, the backend's log lines and the
//! agent's log lines (separate servers, separately captured, parsed as JSON) all carry it. The
//! access log has one line per request with the matched route, never the raw path.

mod common;

use common::{Client, assert_envelope, bearer, chat_body, start_system, token};
use serde_json::Value;

fn is_access(line: &Value) -> bool {
    line["target"] == "stanchion::access" && line["message"] == "request completed"
}

#[tokio::test]
async fn one_chat_request_has_one_id_in_both_services_logs() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let (name, value) = bearer(&token("ana"));
    let reply = client
        .post(
            &system.backend.url("/api/v1/chat"),
            &[(name, &value), ("content-type", "application/json")],
            chat_body("how far should I run today?"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert!(
        body["answer"].as_str().is_some_and(|a| !a.is_empty()),
        "the agent's answer comes back: {body}"
    );
    let id = reply.request_id();
    assert!(common::is_valid_request_id(&id));

    // The backend's access line: matched route, method, status, latency, user, service, ID.
    let backend_access = system
        .backend
        .wait_for_line("backend access log", |line| {
            is_access(line) && line["requestId"] == id.as_str()
        })
        .await;
    assert_eq!(backend_access["service"], "backend", "{backend_access}");
    assert_eq!(backend_access["route"], "/api/v1/chat", "{backend_access}");
    assert_eq!(backend_access["method"], "POST", "{backend_access}");
    assert_eq!(backend_access["status"], 200, "{backend_access}");
    assert_eq!(backend_access["userId"], "ana", "{backend_access}");
    assert!(backend_access["latencyMs"].is_number(), "{backend_access}");
    assert!(
        backend_access.get("errorCode").is_none(),
        "{backend_access}"
    );

    // The agent saw the same ID: its access line for its own route carries it.
    let agent_access = system
        .agent
        .wait_for_line("agent access log with the backend's ID", |line| {
            is_access(line) && line["requestId"] == id.as_str()
        })
        .await;
    assert_eq!(agent_access["service"], "agent", "{agent_access}");
    assert_eq!(agent_access["route"], "/v1/chat", "{agent_access}");
    assert_eq!(agent_access["status"], 200, "{agent_access}");

    // One request, one access line per service; every line is a complete JSON event naming
    // its service.
    for server in [&system.backend, &system.agent] {
        let lines = server.log_lines();
        let access: Vec<_> = lines
            .iter()
            .filter(|line| is_access(line) && line["requestId"] == id.as_str())
            .collect();
        assert_eq!(access.len(), 1, "{}: {access:?}", server.name);
        for line in &lines {
            assert!(
                line["timestamp"].is_string() && line["level"].is_string(),
                "{}: {line}",
                server.name
            );
            assert_eq!(line["service"], server.name, "{line}");
        }
    }
}

#[tokio::test]
async fn error_responses_are_logged_once_with_their_code_and_id() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let reply = client
        .post(
            &system.backend.url("/api/v1/chat"),
            &[("content-type", "application/json")],
            chat_body("hi"),
        )
        .await;
    assert_envelope(&reply, 401, Some("AUTH_REQUIRED"));
    let id = reply.request_id();
    let line = system
        .backend
        .wait_for_line("access log for the 401", |line| {
            is_access(line) && line["requestId"] == id.as_str()
        })
        .await;
    assert_eq!(line["status"], 401, "{line}");
    assert_eq!(line["errorCode"], "AUTH_REQUIRED", "{line}");
    assert_eq!(line["route"], "/api/v1/chat", "{line}");
    assert!(
        line.get("userId").is_none(),
        "no user without a token: {line}"
    );
    // The agent was never called.
    assert!(
        system
            .agent
            .log_lines()
            .iter()
            .all(|line| line["requestId"] != id.as_str()),
        "the agent saw an unauthenticated request"
    );
}

#[tokio::test]
async fn the_access_log_names_the_route_template_never_the_raw_path() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let raw_path = "/api/v1/users/4242-marker/secrets";
    let reply = client.get(&system.backend.url(raw_path), &[]).await;
    assert_envelope(&reply, 404, Some("NOT_FOUND"));
    let id = reply.request_id();
    let line = system
        .backend
        .wait_for_line("access log for the 404", |line| {
            is_access(line) && line["requestId"] == id.as_str()
        })
        .await;
    assert_eq!(line["route"], "unmatched", "{line}");
    assert_eq!(line["errorCode"], "NOT_FOUND", "{line}");
    assert!(
        !system.backend.logs.contents().contains("4242-marker"),
        "the raw path reached the logs"
    );
}

#[tokio::test]
async fn a_valid_client_id_is_never_split_across_services() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let (name, value) = bearer(&token("ana"));
    let client_id = "client-chosen-id-0001";
    let reply = client
        .post(
            &system.backend.url("/api/v1/chat"),
            &[
                (name, &value),
                ("content-type", "application/json"),
                ("x-request-id", client_id),
            ],
            chat_body("hello"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Whether the edge accepts or replaces a client's ID is its policy; either way, the ID the
    // response names is the one both services logged.
    let id = reply.request_id();
    for server in [&system.backend, &system.agent] {
        server
            .wait_for_line("access log with the response's ID", |line| {
                is_access(line) && line["requestId"] == id.as_str()
            })
            .await;
    }
    if id != client_id {
        for server in [&system.backend, &system.agent] {
            assert!(
                server
                    .log_lines()
                    .iter()
                    .all(|line| line["requestId"] != client_id),
                "{}: logged the replaced client ID as the request's ID",
                server.name
            );
        }
    }
}

#[tokio::test]
async fn without_an_agent_url_the_backend_alone_is_the_whole_system() {
    let _guard = common::init();
    // What `cargo run -p example-backend` does: no AGENT_URL, so the backend starts the agent
    // in-process on a free loopback port (its lines go to stdout, not to this capture).
    let backend = common::spawn_server("backend", |metrics| {
        let config = example_backend::BackendConfig::from_vars([("APP_ENV", "development")])
            .expect("the backend's example configuration loads")
            .with_shutdown_delay(std::time::Duration::ZERO)
            .with_metrics(metrics);
        assert_eq!(config.agent_url(), None);
        let redactor = config.redactor();
        let serve: common::Serve = Box::new(move |listener, shutdown| {
            Box::pin(example_backend::serve(listener, config, shutdown))
        });
        (redactor, serve)
    });
    let client = Client::new();
    let ready = client.get(&backend.url("/readyz"), &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let (name, value) = bearer(&token("ana"));
    let reply = client
        .post(
            &backend.url("/api/v1/chat"),
            &[(name, &value), ("content-type", "application/json")],
            chat_body("hello"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["answer"].is_string());
}
