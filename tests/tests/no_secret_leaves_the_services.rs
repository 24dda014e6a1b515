//! The bearer token, the JWT secret and the tools' secrets appear in no log line (of either
//! service), no response (headers or body) and no metric, across a session of good and bad
//! requests.

mod common;

use common::{Client, Reply, bearer, chat_body, mentions, start_system, token, token_with};

/// Secrets shorter than this could appear by coincidence (a word, a number) and are reported
/// rather than searched for.
const MIN_SEARCHABLE_LEN: usize = 8;

#[tokio::test]
async fn no_token_or_secret_reaches_a_log_a_body_or_a_metric() {
    let _guard = common::init();
    let backend_secrets = common::config_secrets("backend");
    let agent_secrets = common::config_secrets("agent");
    assert!(
        backend_secrets
            .iter()
            .any(|(label, _)| label == "AUTH_JWT_SECRET"),
        "the backend loads AUTH_JWT_SECRET as a secret: {:?}",
        backend_secrets.iter().map(|(l, _)| l).collect::<Vec<_>>()
    );
    assert!(
        agent_secrets
            .iter()
            .any(|(label, _)| label == "MODEL_API_KEY"),
        "the agent loads MODEL_API_KEY as a secret: {:?}",
        agent_secrets.iter().map(|(l, _)| l).collect::<Vec<_>>()
    );

    let system = start_system();
    let client = Client::new();
    let valid = token("ana");
    let expired = token_with(&common::jwt_secret(), "ana", -3600);
    let forged = token_with("an-attackers-own-secret-value-123456", "mallory", 3600);

    let mut replies: Vec<Reply> = Vec::new();
    let json = ("content-type", "application/json");
    for token in [&valid, &expired, &forged] {
        let (name, value) = bearer(token);
        replies.push(
            client
                .post(
                    &system.backend.url("/api/v1/chat"),
                    &[(name, &value), json],
                    chat_body("hello"),
                )
                .await,
        );
        replies.push(
            client
                .get(
                    &system.backend.url("/api/v1/training-plans/active"),
                    &[(name, &value)],
                )
                .await,
        );
        replies.push(
            client
                .get(&system.backend.url("/api/v1/tools"), &[(name, &value)])
                .await,
        );
        // A token where it does not belong: in the request ID header and the query string.
        replies.push(
            client
                .get(
                    &system.backend.url("/api/v1/nope"),
                    &[("x-request-id", token.as_str())],
                )
                .await,
        );
        replies.push(
            client
                .get(
                    &system
                        .backend
                        .url(&format!("/api/v1/tools?access_token={token}")),
                    &[],
                )
                .await,
        );
    }
    // Bad bodies with a valid token, so the auth path logs what it logs.
    let (name, value) = bearer(&valid);
    for body in ["{", "{}", r#"{"prompt": 1}"#] {
        replies.push(
            client
                .post(
                    &system.backend.url("/api/v1/chat"),
                    &[(name, &value), json],
                    body,
                )
                .await,
        );
    }
    for server in [&system.backend, &system.agent] {
        for path in ["/livez", "/readyz", "/metrics"] {
            replies.push(client.get(&server.url(path), &[]).await);
        }
    }
    assert_eq!(
        replies[0].status,
        200,
        "the session includes a served chat: {}",
        replies[0].text()
    );

    // The session was logged (a vacuous pass on empty logs is not a pass).
    let chat_id = replies[0].request_id();
    for server in [&system.backend, &system.agent] {
        server
            .wait_for_line("for the served chat", |line| {
                line["requestId"] == chat_id.as_str()
            })
            .await;
    }
    // Metrics last, so they include the whole session.
    let mut metrics = Vec::new();
    for server in [&system.backend, &system.agent] {
        let reply = client.get(&server.url("/metrics"), &[]).await;
        assert_eq!(reply.status, 200, "{} /metrics", server.name);
        metrics.push((server.name, reply.text()));
    }

    let mut needles: Vec<(String, String)> = Vec::new();
    for (what, token) in [
        ("valid token", &valid),
        ("expired token", &expired),
        ("forged token", &forged),
    ] {
        needles.push((what.to_owned(), token.clone()));
        let signature = token.rsplit('.').next().expect("a JWT has a signature");
        needles.push((format!("{what} signature"), signature.to_owned()));
    }
    let mut too_short = Vec::new();
    for (label, value) in backend_secrets.iter().chain(&agent_secrets) {
        if value.len() >= MIN_SEARCHABLE_LEN {
            needles.push((label.clone(), value.clone()));
        } else {
            too_short.push(label.clone());
        }
    }
    assert!(
        too_short.is_empty(),
        "development secrets too short to search for (make them longer): {too_short:?}"
    );

    let mut places: Vec<(String, String)> = Vec::new();
    for server in [&system.backend, &system.agent] {
        for (index, line) in server.logs.lines().into_iter().enumerate() {
            places.push((format!("{} log line {}", server.name, index + 1), line));
        }
    }
    for (index, reply) in replies.iter().enumerate() {
        places.push((
            format!("reply {index} ({})", reply.status),
            reply.everything(),
        ));
    }
    for (name, text) in metrics {
        places.push((format!("{name} metrics"), text));
    }
    for (what, needle) in &needles {
        for (place, text) in &places {
            assert!(!mentions(text, needle), "{what} found in {place}:\n{text}");
        }
    }
}
