//! Security suite: authorization regression for every route of both services.
//!
//! The route table below is the contract: a bearer route refuses every bad credential with a
//! 401 envelope (and never runs its handler: no agent call, no plan lookup); a public route
//! answers the same with or without credentials, and never trusts them. Each bad credential
//! is one a real attacker sends: none, another scheme, malformed, `alg: none`, another
//! algorithm (HS384/HS512 with the right key), the wrong key, expired, not yet valid, a foreign
//! audience, the token in the query string instead of the header, an oversized token.
//!
//! The agent has no credentials of its own: the network policy
//! (`deploy/kubernetes/base/network-policy.yaml`) lets only the backend reach it, which limits
//! who can call it but authenticates no one. It takes the user from the backend's `x-user-id`,
//! checking only its shape (docs/request-id.md, "Trust between services", says what a caller
//! past the policy can still do). Its routes are pinned here as public so that adding
//! authentication to one, or a route that needs it, is a deliberate change of this table.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{Client, Reply, assert_envelope, bearer, chat_body, jwt_secret, start_system, token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug)]
enum Access {
    /// `Authorization: Bearer <HS256 JWT>` required.
    Bearer,
    /// No credentials needed; credentials sent are ignored.
    Public,
}

#[derive(Clone, Copy, Debug)]
enum Service {
    Backend,
    Agent,
}

/// Every route of both services. A route missing here is a route nobody decided on.
const ROUTES: &[(Service, &str, &str, Access)] = &[
    (Service::Backend, "POST", "/api/v1/chat", Access::Bearer),
    (
        Service::Backend,
        "GET",
        "/api/v1/training-plans/active",
        Access::Bearer,
    ),
    (Service::Backend, "GET", "/api/v1/tools", Access::Public),
    (Service::Backend, "GET", "/livez", Access::Public),
    (Service::Backend, "GET", "/readyz", Access::Public),
    (Service::Backend, "GET", "/health", Access::Public),
    (Service::Backend, "GET", "/metrics", Access::Public),
    (Service::Agent, "POST", "/v1/chat", Access::Public),
    (Service::Agent, "GET", "/livez", Access::Public),
    (Service::Agent, "GET", "/readyz", Access::Public),
    (Service::Agent, "GET", "/health", Access::Public),
    (Service::Agent, "GET", "/metrics", Access::Public),
];

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("fits")
}

fn signed(algorithm: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

fn unsigned(claims: &Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(json!({ "alg": "none", "typ": "JWT" }).to_string());
    let payload = b64.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// One bad credential: what it is, the headers and query string that carry it, and the code
/// it must get.
type BadCredential = (
    &'static str,
    Vec<(&'static str, String)>,
    String,
    &'static str,
);

/// Every bad credential.
fn bad_credentials() -> Vec<BadCredential> {
    let secret = jwt_secret();
    let claims = json!({ "sub": "mallory", "iat": now(), "exp": now() + 3600 });
    let valid = token("mallory");
    let with = |extra: Value| {
        let mut claims = claims.clone();
        for (key, value) in extra.as_object().expect("object") {
            claims[key] = value.clone();
        }
        signed(Algorithm::HS256, &secret, &claims)
    };
    let auth = |value: String| vec![("authorization", value)];
    let bearer_of = |token: String| auth(format!("Bearer {token}"));
    vec![
        ("no credentials", vec![], String::new(), "AUTH_REQUIRED"),
        (
            "basic scheme",
            auth("Basic bWFsbG9yeTpzM2NyM3Q=".into()),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "empty bearer",
            auth("Bearer ".into()),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "malformed token",
            bearer_of("not.a.jwt".into()),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "alg none",
            bearer_of(unsigned(&claims)),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "HS384 with the right key",
            bearer_of(signed(Algorithm::HS384, &secret, &claims)),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "HS512 with the right key",
            bearer_of(signed(Algorithm::HS512, &secret, &claims)),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "wrong key",
            bearer_of(signed(
                Algorithm::HS256,
                "another-key-of-at-least-thirty-two-bytes",
                &claims,
            )),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "expired",
            bearer_of(with(json!({ "iat": now() - 7200, "exp": now() - 3600 }))),
            String::new(),
            "AUTH_EXPIRED_TOKEN",
        ),
        (
            "not yet valid",
            bearer_of(with(json!({ "nbf": now() + 3600 }))),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "audience of another service",
            bearer_of(with(json!({ "aud": "billing" }))),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "no exp claim",
            bearer_of(signed(
                Algorithm::HS256,
                &secret,
                &json!({ "sub": "mallory", "iat": now() }),
            )),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
        (
            "token in the query string",
            vec![],
            format!("?access_token={valid}"),
            "AUTH_REQUIRED",
        ),
        (
            // Signed with the right key and otherwise valid: only the size cap refuses it.
            "oversized token",
            bearer_of(with(
                json!({ "pad": "A".repeat(example_backend::MAX_TOKEN_LEN) }),
            )),
            String::new(),
            "AUTH_INVALID_TOKEN",
        ),
    ]
}

async fn send(
    client: &Client,
    base: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let url = format!("{base}{path}{query}");
    if method == "POST" {
        let mut headers = headers.to_vec();
        headers.push(("content-type", "application/json"));
        client.post(&url, &headers, chat_body("hello")).await
    } else {
        client.get(&url, headers).await
    }
}

#[tokio::test]
async fn every_bearer_route_refuses_every_bad_credential_before_its_handler_runs() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let cases = bad_credentials();
    for (service, method, path, access) in ROUTES {
        let (Service::Backend, Access::Bearer) = (service, access) else {
            continue;
        };
        for (what, headers, query, code) in &cases {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let reply = send(
                &client,
                &system.backend.base_url(),
                method,
                path,
                query,
                &headers,
            )
            .await;
            let context = format!("{method} {path} with {what}");
            assert_eq!(reply.status, 401, "{context}: {}", reply.text());
            assert_envelope(&reply, 401, Some(code));
            assert!(
                reply.headers.contains_key("www-authenticate"),
                "{context}: no WWW-Authenticate"
            );
        }
    }
    // The handler never ran: the agent saw no chat request at all.
    let agent_chats = system
        .agent
        .log_lines()
        .iter()
        .filter(|line| line["message"] == "chat answered")
        .count();
    assert_eq!(agent_chats, 0, "a refused request reached the agent");
    // The oversized token was refused for its size (it is signed with the right key), once per
    // bearer route.
    let metrics = client
        .get(&format!("{}/metrics", system.backend.base_url()), &[])
        .await
        .text();
    let oversized = metrics
        .lines()
        .find(|line| {
            line.starts_with(example_backend::AUTH_FAILURES_TOTAL)
                && line.contains(r#"reason="oversized""#)
        })
        .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok());
    assert_eq!(oversized, Some(2.0), "{metrics}");

    // The same routes work with a good token, so the refusals above are about credentials.
    let (name, value) = bearer(&token("ana"));
    for (service, method, path, access) in ROUTES {
        if let (Service::Backend, Access::Bearer) = (service, access) {
            let reply = send(
                &client,
                &system.backend.base_url(),
                method,
                path,
                "",
                &[(name, &value)],
            )
            .await;
            assert_eq!(reply.status, 200, "{method} {path}: {}", reply.text());
        }
    }
}

#[tokio::test]
async fn public_routes_answer_the_same_with_or_without_credentials() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let forged = format!("Bearer {}", unsigned(&json!({ "sub": "admin" })));
    for (service, method, path, access) in ROUTES {
        let Access::Public = access else { continue };
        let base = match service {
            Service::Backend => system.backend.base_url(),
            Service::Agent => system.agent.base_url(),
        };
        let user = [("x-user-id", "ana")];
        let bare = send(&client, &base, method, path, "", &user).await;
        let with_forged = send(
            &client,
            &base,
            method,
            path,
            "",
            &[("x-user-id", "ana"), ("authorization", forged.as_str())],
        )
        .await;
        let context = format!("{service:?} {method} {path}");
        assert!(
            bare.status.as_u16() < 400,
            "{context} without credentials: {}",
            bare.status
        );
        assert_eq!(bare.status, with_forged.status, "{context}");
    }
}

#[tokio::test]
async fn the_public_tools_list_names_no_file_and_no_value() {
    let _guard = common::init();
    // A configuration directory where a tool is off for a reason whose operator message names
    // the file that turned it off.
    let dir = tempfile::tempdir().expect("temp dir");
    let shipped = common::config_dir("backend");
    for file in ["tools.toml", ".env", ".env.development"] {
        std::fs::copy(shipped.join(file), dir.path().join(file)).expect("copy");
    }
    std::fs::write(dir.path().join(".env.local"), "CHAT_DISABLED=true\n").expect("write");
    let dir_text = dir.path().to_str().expect("utf-8 temp path").to_owned();
    let agent = common::start_agent();
    let agent_url = agent.base_url();
    let config_dir = dir_text.clone();
    let backend = common::spawn_server("backend", move |metrics| {
        let config = example_backend::BackendConfig::from_vars([
            ("BACKEND_CONFIG_DIR", config_dir),
            ("AGENT_URL", agent_url),
        ])
        .expect("loads")
        .with_shutdown_delay(std::time::Duration::ZERO)
        .with_metrics(metrics);
        let redactor = config.redactor();
        let serve: common::Serve = Box::new(move |listener, shutdown| {
            Box::pin(example_backend::serve(listener, config, shutdown))
        });
        (redactor, serve)
    });
    let reply = Client::new().get(&backend.url("/api/v1/tools"), &[]).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    let chat = body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|tool| tool["slug"] == "chat")
        .expect("chat is listed");
    assert_eq!(chat["enabled"], false, "{chat}");
    assert_eq!(
        chat["reasons"],
        json!([{ "kind": "KILL_SWITCH", "variable": "CHAT_DISABLED" }])
    );
    let text = reply.text();
    assert!(
        !text.contains(&dir_text) && !text.contains(".env"),
        "{text}"
    );
    assert!(!common::mentions(&text, &jwt_secret()), "{text}");
}

/// The `(method, path)` of every `.route("PATH", METHOD(...))` in `source`, comments skipped.
fn routes_in(source: &str) -> Vec<(String, String)> {
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for piece in code.split(".route(").skip(1) {
        let piece = piece.trim_start();
        let Some(rest) = piece.strip_prefix('"') else {
            continue;
        };
        let (path, rest) = rest.split_once('"').expect("a closed path literal");
        let rest = rest
            .trim_start()
            .strip_prefix(',')
            .expect("a method router");
        let method: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        found.push((method.to_uppercase(), path.to_owned()));
    }
    found
}

#[test]
fn the_route_table_is_every_route_the_routers_declare() {
    let root = common::workspace_root();
    let read = |path: &str| {
        std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    // The library's routers: `Health::routes` then `Metrics::route`, in that order in the file.
    let library = read("crates/stanchion/src/axum.rs");
    let (health, metrics) = library
        .split_once("impl Metrics")
        .expect("crates/stanchion/src/axum.rs has `impl Metrics`");
    let health = routes_in(health);
    let metrics = routes_in(metrics);
    assert_eq!(health.len(), 3, "{health:?}");
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    let mut declared = Vec::new();
    for (service, file) in [
        (Service::Backend, "examples/backend/src/app.rs"),
        (Service::Agent, "examples/agent/src/app.rs"),
    ] {
        let app = read(file);
        let mut routes = routes_in(&app);
        assert!(!routes.is_empty(), "{file}: no .route(...) found");
        if app.contains(".merge(health.routes())") {
            routes.extend(health.iter().cloned());
        }
        if app.contains(".merge(metrics.route())") {
            routes.extend(metrics.iter().cloned());
        }
        assert_eq!(
            app.matches(".merge(").count(),
            2,
            "{file}: a merged router this test does not know"
        );
        assert!(
            !app.contains(".nest("),
            "{file}: a nested router this test does not know"
        );
        declared.extend(
            routes
                .into_iter()
                .map(|(method, path)| (format!("{service:?}"), method, path)),
        );
    }
    let mut table: Vec<_> = ROUTES
        .iter()
        .map(|(service, method, path, _)| {
            (
                format!("{service:?}"),
                (*method).to_owned(),
                (*path).to_owned(),
            )
        })
        .collect();
    declared.sort();
    table.sort();
    assert_eq!(
        declared, table,
        "the routers' routes (left) and ROUTES (right) differ: decide bearer or public for each"
    );
}
