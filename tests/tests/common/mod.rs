//! The end-to-end harness: the backend and the agent as separate in-process servers, each on
//! its own OS thread with its own current-thread tokio runtime, its own thread-default tracing
//! subscriber (`stanchion::Telemetry`, writing JSON into a `CapturedLogs`) and its own metrics
//! recorder (`stanchion::Metrics::for_current_thread`), bound to `127.0.0.1:0` and talking real
//! HTTP over loopback. Fake agents (garbage, slow, down) are real HTTP servers too.
//!
//! tracing caches each callsite's interest process-wide when the callsite is first hit. Every
//! thread that runs service code here installs its subscriber before it emits anything, and
//! every test calls [`init`] first so the test thread has one as well; no callsite is then
//! first hit with a thread-less "never" interest while another thread's capture is being set up.

// dead_code: each test binary uses a different subset of the harness. unreachable_pub: the
// module is private to each test crate, but `pub` is what lets every file reach the helpers.
#![allow(dead_code, unreachable_pub)]

pub mod prometheus;

use std::{
    future::Future,
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{Arc, Mutex, PoisonError, mpsc},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::{
    client::legacy::{Client as HyperClient, connect::HttpConnector},
    rt::TokioExecutor,
};
use secrecy::ExposeSecret as _;
use serde_json::Value;
use stanchion::{Metrics, Telemetry, redact::Redactor};
use stanchion_test_support::CapturedLogs;
use tokio::{net::TcpListener, sync::oneshot};
use tracing::subscriber::DefaultGuard;

/// How long any single HTTP exchange in a test may take before the test fails. Generous for a
/// loaded 2-core machine; a healthy exchange takes milliseconds.
pub const EXCHANGE_DEADLINE: Duration = Duration::from_secs(20);

/// The agent timeout the tests give the backend: short, so the slow-agent case is quick.
pub const AGENT_TIMEOUT: Duration = Duration::from_millis(300);

/// How long [`Server::wait_for_line`] polls for a log line before failing.
const LOG_DEADLINE: Duration = Duration::from_secs(5);

/// Install a capturing subscriber on the test thread (output ignored), so every thread of the
/// binary has a subscriber before it emits. Keep the guard alive for the whole test.
pub fn init() -> DefaultGuard {
    let subscriber = Telemetry::new("e2e-test")
        .with_filter("debug")
        .build(CapturedLogs::new());
    tracing::subscriber::set_default(subscriber)
}

/// The workspace root (the parent of this package).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace root")
}

/// An example's configuration directory: `examples/<name>/config`.
pub fn config_dir(example: &str) -> PathBuf {
    workspace_root()
        .join("examples")
        .join(example)
        .join("config")
}

type BoxedServe = Pin<Box<dyn Future<Output = io::Result<()>>>>;
type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
pub type Serve = Box<dyn FnOnce(TcpListener, Shutdown) -> BoxedServe>;

/// One in-process server on its own thread. Dropping it asks it to shut down; the thread is
/// detached (graceful shutdown may wait on idle connections the test runtime still holds).
#[derive(Debug)]
pub struct Server {
    /// The name its telemetry writes as `service`.
    pub name: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Everything its subscriber wrote.
    pub logs: CapturedLogs,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Server {
    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every captured log line, parsed as JSON (a line that is not JSON fails the test).
    pub fn log_lines(&self) -> Vec<Value> {
        self.logs.json_lines()
    }

    /// Poll (bounded) until a captured line satisfies `predicate`, and return it. Log lines
    /// are written on the server's thread, possibly a moment after the client saw the reply.
    pub async fn wait_for_line(&self, what: &str, predicate: impl Fn(&Value) -> bool) -> Value {
        let start = tokio::time::Instant::now();
        loop {
            if let Some(line) = self.log_lines().into_iter().find(|line| predicate(line)) {
                return line;
            }
            assert!(
                start.elapsed() < LOG_DEADLINE,
                "{}: no log line {what} within {LOG_DEADLINE:?}; captured:\n{}",
                self.name,
                self.logs.contents()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already be gone (its thread panicked): nothing left to stop.
            let _ = shutdown.send(());
        }
    }
}

/// Start a server on its own thread. `setup` runs on that thread (before the subscriber, since
/// it produces the redactor the subscriber uses) with the thread's metrics handle, and returns
/// the redactor plus the function that serves on the bound listener until shutdown.
pub fn spawn_server<F>(name: &'static str, setup: F) -> Server
where
    F: FnOnce(Metrics) -> (Redactor, Serve) + Send + 'static,
{
    spawn_server_traced(name, None, setup)
}

/// [`spawn_server`], tracing with `otel` (an OpenTelemetry pipeline the test keeps a clone of,
/// to flush it) when given.
pub fn spawn_server_traced<F>(name: &'static str, otel: Option<stanchion::Otel>, setup: F) -> Server
where
    F: FnOnce(Metrics) -> (Redactor, Serve) + Send + 'static,
{
    let logs = CapturedLogs::new();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<SocketAddr, String>>();
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let thread_logs = logs.clone();
    std::thread::Builder::new()
        .name(format!("e2e-{name}"))
        .spawn(move || {
            let metrics = Metrics::for_current_thread();
            let (redactor, serve) = setup(metrics);
            // DEBUG, whatever RUST_LOG says: the tests see more lines than production's INFO
            // (so a secret at DEBUG is caught too) and do not depend on the caller's env.
            let mut telemetry = Telemetry::new(name)
                .with_filter("debug")
                .with_redactor(redactor);
            if let Some(otel) = otel {
                telemetry = telemetry.with_otel(otel);
            }
            let subscriber = telemetry.build(thread_logs);
            let _subscriber = tracing::subscriber::set_default(subscriber);
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = ready_tx.send(Err(format!("runtime: {error}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => listener,
                    Err(error) => {
                        let _ = ready_tx.send(Err(format!("bind: {error}")));
                        return;
                    }
                };
                let addr = listener
                    .local_addr()
                    .expect("a bound listener has an address");
                let _ = ready_tx.send(Ok(addr));
                let shutdown: Shutdown = Box::pin(async move {
                    // A dropped sender (the test ended) is a shutdown request too.
                    let _ = shutdown_rx.await;
                });
                if let Err(error) = serve(listener, shutdown).await {
                    panic!("{name} stopped with an error: {error}");
                }
            });
        })
        .expect("spawn a server thread");
    let addr = ready_rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|error| panic!("{name} did not start: {error}"))
        .unwrap_or_else(|error| panic!("{name} did not start: {error}"));
    Server {
        name,
        addr,
        logs,
        shutdown: Some(shutdown_tx),
    }
}

/// The real agent (`example_agent::serve`) with the example's own configuration files and
/// `vars` instead of the process environment.
pub fn start_agent_with(vars: Vec<(&'static str, String)>) -> Server {
    start_agent_traced(vars, None)
}

/// [`start_agent_with`], tracing with `otel` when given.
pub fn start_agent_traced(
    vars: Vec<(&'static str, String)>,
    otel: Option<stanchion::Otel>,
) -> Server {
    spawn_server_traced("agent", otel, move |metrics| {
        let config = example_agent::AgentConfig::from_vars(vars)
            .expect("the agent's example configuration loads")
            // Tests stop services often; no load balancer waits on their readiness.
            .with_shutdown_delay(std::time::Duration::ZERO)
            .with_metrics(metrics);
        let redactor = config.redactor();
        let serve: Serve = Box::new(move |listener, shutdown| {
            Box::pin(example_agent::serve(listener, config, shutdown))
        });
        (redactor, serve)
    })
}

/// The real agent with the example's configuration as shipped.
pub fn start_agent() -> Server {
    start_agent_with(Vec::new())
}

/// The real backend (`example_backend::serve`) with the example's own configuration files,
/// using the agent at `agent_url` with an [`AGENT_TIMEOUT`] deadline, both given the way an
/// operator does: `AGENT_URL` and `AGENT_TIMEOUT_MS` (injected instead of the process
/// environment, which tests must not write).
pub fn start_backend(agent_url: String) -> Server {
    start_backend_traced(agent_url, None)
}

/// [`start_backend`], tracing with `otel` when given.
pub fn start_backend_traced(agent_url: String, otel: Option<stanchion::Otel>) -> Server {
    spawn_server_traced("backend", otel, move |metrics| {
        let timeout_ms = AGENT_TIMEOUT.as_millis().to_string();
        let config = example_backend::BackendConfig::from_vars([
            ("AGENT_URL", agent_url),
            ("AGENT_TIMEOUT_MS", timeout_ms),
        ])
        .expect("the backend's example configuration loads")
        // Tests stop services often; no load balancer waits on their readiness.
        .with_shutdown_delay(std::time::Duration::ZERO)
        .with_metrics(metrics);
        assert_eq!(
            config.agent_timeout(),
            AGENT_TIMEOUT,
            "AGENT_TIMEOUT_MS is read"
        );
        let redactor = config.redactor();
        let serve: Serve = Box::new(move |listener, shutdown| {
            Box::pin(example_backend::serve(listener, config, shutdown))
        });
        (redactor, serve)
    })
}

/// Backend and agent, wired together.
#[derive(Debug)]
pub struct System {
    /// The backend (edge service).
    pub backend: Server,
    /// The agent the backend forwards chat requests to.
    pub agent: Server,
}

/// Start the real agent, then the backend pointing at it.
pub fn start_system() -> System {
    let agent = start_agent();
    let backend = start_backend(agent.base_url());
    System { backend, agent }
}

/// An axum router served by `stanchion::Server` on its own thread with its own telemetry, for
/// routers the test builds (a panicking handler under `stanchion::Stack`).
pub fn start_router(name: &'static str, router: axum::Router) -> Server {
    spawn_server(name, move |_metrics| {
        let serve: Serve = Box::new(move |listener, shutdown| {
            Box::pin(async move {
                stanchion::Server::new()
                    .serve_with_shutdown(listener, router, shutdown)
                    .await?;
                Ok(())
            })
        });
        (Redactor::new(), serve)
    })
}

// ---------------------------------------------------------------------------------------------
// Fake agents: real HTTP servers speaking (or failing to speak) the agent's wire contract.
// ---------------------------------------------------------------------------------------------

/// How a fake agent misbehaves on `POST /v1/chat`. `/livez` always answers 200.
#[derive(Clone, Copy, Debug)]
pub enum FakeAgent {
    /// 200 with a `text/plain` body that is not JSON.
    Garbage,
    /// 500 with a body that is not an error envelope (an HTML error page).
    BrokenError,
    /// Answers only after far longer than [`AGENT_TIMEOUT`].
    Slow,
}

/// Start a fake agent on its own thread.
pub fn start_fake_agent(kind: FakeAgent) -> Server {
    use axum::{
        Router,
        response::IntoResponse,
        routing::{get, post},
    };
    let chat = move || async move {
        match kind {
            FakeAgent::Garbage => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain")],
                "\u{1f}not json at all <<<",
            )
                .into_response(),
            FakeAgent::BrokenError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>agent stack trace: /srv/agent/src/main.rs:42</body></html>",
            )
                .into_response(),
            FakeAgent::Slow => {
                tokio::time::sleep(AGENT_TIMEOUT * 100).await;
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"answer":"too late"}"#,
                )
                    .into_response()
            }
        }
    };
    let router = Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/v1/chat", post(chat));
    start_router("fake-agent", router)
}

/// A loopback URL where nothing listens: bind a port, then close it.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    drop(listener);
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// The test client.
// ---------------------------------------------------------------------------------------------

/// A reply, fully read.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// The body parsed as JSON (a body that is not JSON fails the test).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body of a {} is not JSON ({error}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The single `x-request-id` response header.
    pub fn request_id(&self) -> String {
        let mut values = self.headers.get_all("x-request-id").iter();
        let value = values
            .next()
            .unwrap_or_else(|| panic!("a {} carries x-request-id", self.status));
        assert!(values.next().is_none(), "exactly one x-request-id");
        value
            .to_str()
            .expect("the response's x-request-id is visible ASCII")
            .to_owned()
    }

    /// Headers and body as one string, for "this value appears nowhere" checks.
    pub fn everything(&self) -> String {
        let mut all = String::new();
        for (name, value) in &self.headers {
            all.push_str(name.as_str());
            all.push_str(": ");
            all.push_str(&String::from_utf8_lossy(value.as_bytes()));
            all.push('\n');
        }
        all.push_str(&self.text());
        all
    }
}

/// Parse a whole HTTP/1.1 response read off a raw socket (`Content-Length`, chunked, or
/// read-to-close bodies).
pub fn parse_raw_response(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete response head in {:?}",
                String::from_utf8_lossy(raw)
            )
        });
    let head = std::str::from_utf8(&raw[..split]).expect("the response head is ASCII");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad header {line:?}"));
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).expect("a valid header name"),
            HeaderValue::from_str(value.trim()).expect("a valid header value"),
        );
    }
    let rest = &raw[split + 4..];
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    let body = if chunked {
        let mut body = Vec::new();
        let mut rest = rest;
        loop {
            let line_end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("a chunk size line");
            let size_text = std::str::from_utf8(&rest[..line_end]).expect("ASCII chunk size");
            let size =
                usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16)
                    .expect("a hex chunk size");
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        Bytes::from(body)
    } else if let Some(length) = headers.get(header::CONTENT_LENGTH) {
        let length: usize = length
            .to_str()
            .ok()
            .and_then(|l| l.parse().ok())
            .expect("a numeric Content-Length");
        Bytes::copy_from_slice(&rest[..length])
    } else {
        Bytes::copy_from_slice(rest)
    };
    Reply {
        status: StatusCode::from_u16(status).expect("a valid status"),
        headers,
        body,
    }
}

/// A plain HTTP/1 client over loopback (hyper-util's legacy client), no connection reuse, so
/// a server's graceful shutdown never waits on an idle pooled connection.
#[derive(Clone, Debug)]
pub struct Client {
    inner: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A fresh client.
    pub fn new() -> Self {
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http();
        Self { inner }
    }

    /// Send `request` and read the whole reply, within [`EXCHANGE_DEADLINE`].
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Reply {
        let what = format!("{} {}", request.method(), request.uri());
        let exchange = async {
            let response = self
                .inner
                .request(request)
                .await
                .unwrap_or_else(|error| panic!("{what}: {error:?}"));
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .unwrap_or_else(|error| panic!("{what}: reading the body: {error}"))
                .to_bytes();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        };
        tokio::time::timeout(EXCHANGE_DEADLINE, exchange)
            .await
            .unwrap_or_else(|_| panic!("{what}: no reply within {EXCHANGE_DEADLINE:?}"))
    }

    /// `GET url` with the given extra headers.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(build(Method::GET, url, headers, Bytes::new()))
            .await
    }

    /// `POST url` with a body and the given headers.
    pub async fn post(&self, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Reply {
        self.send(build(Method::POST, url, headers, body.into()))
            .await
    }
}

/// A request with the given headers (text values).
pub fn build(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Request<Full<Bytes>> {
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .body(Full::new(body))
        .expect("a well-formed test request")
}

/// A request with one raw header value (for values `&str` cannot hold, like obs-text bytes).
pub fn with_raw_header(
    mut request: Request<Full<Bytes>>,
    name: &'static str,
    value: &[u8],
) -> Request<Full<Bytes>> {
    let value = HeaderValue::from_bytes(value).expect("a byte string hyper can send");
    request.headers_mut().insert(name, value);
    request
}

// ---------------------------------------------------------------------------------------------
// Envelopes and request IDs.
// ---------------------------------------------------------------------------------------------

/// Whether `id` passes the request-ID validity rule (1..=128 bytes of `A-Z a-z 0-9 - _ . :`).
pub fn is_valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Assert `reply` is the error envelope: status as expected, a JSON content type, `error.code`
/// (equal to `code` when given), `error.message`, `error.statusCode` equal to the HTTP status,
/// and `error.requestId` equal to the single, valid `x-request-id` header. Returns the body.
pub fn assert_envelope(reply: &Reply, status: u16, code: Option<&str>) -> Value {
    let context = || format!("{} {}", reply.status, reply.text());
    assert_eq!(reply.status.as_u16(), status, "status: {}", context());
    let content_type = reply
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json")
            || content_type.starts_with("application/problem+json"),
        "content type {content_type:?}: {}",
        context()
    );
    let body = reply.json();
    let error = &body["error"];
    assert!(error.is_object(), "no error object: {}", context());
    let actual_code = error["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {}", context()));
    assert!(
        !actual_code.is_empty()
            && actual_code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
        "code {actual_code:?} is not SCREAMING_SNAKE_CASE"
    );
    if let Some(code) = code {
        assert_eq!(actual_code, code, "code: {}", context());
    }
    assert!(error["message"].is_string(), "no message: {}", context());
    assert_eq!(error["statusCode"], status, "statusCode: {}", context());
    let id = reply.request_id();
    assert!(
        is_valid_request_id(&id),
        "x-request-id {id:?} is not a valid ID"
    );
    assert_eq!(error["requestId"], id.as_str(), "requestId: {}", context());
    if status == 401 {
        assert!(
            reply.headers.contains_key(header::WWW_AUTHENTICATE),
            "a 401 carries WWW-Authenticate"
        );
    }
    body
}

/// The field names of `details.fieldViolations`.
pub fn violated_fields(body: &Value) -> Vec<String> {
    body["error"]["details"]["fieldViolations"]
        .as_array()
        .map(|violations| {
            violations
                .iter()
                .filter_map(|v| v["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Secrets and tokens.
// ---------------------------------------------------------------------------------------------

/// Every secret value an example's configuration loads (through the configuration service's
/// own secret sink, exactly what the service registers with its redactor), by variable name.
pub fn config_secrets(example: &str) -> Vec<(String, String)> {
    let dir = config_dir(example);
    let registry = stanchion_config::Registry::from_toml_file(dir.join("tools.toml"))
        .unwrap_or_else(|error| panic!("{example}'s tools.toml: {error}"));
    let collected = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&collected);
    // As the services load it in the tests: the example's files, no process environment.
    stanchion_config::ConfigLoader::new(registry)
        .with_dir(&dir)
        .with_process_env(Vec::<(String, String)>::new())
        .with_secret_sink(move |label: &str, secret: &secrecy::SecretString| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((label.to_owned(), secret.expose_secret().to_owned()));
        })
        .load()
        .unwrap_or_else(|error| panic!("{example}'s configuration: {error}"));
    collected
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// The backend's `AUTH_JWT_SECRET`, as its configuration loads it.
pub fn jwt_secret() -> String {
    config_secrets("backend")
        .into_iter()
        .find_map(|(label, value)| (label == "AUTH_JWT_SECRET").then_some(value))
        .expect("the backend's registry declares AUTH_JWT_SECRET as a secret and its .env sets it")
}

/// An HS256 token for `sub`, valid from now for `ttl_secs` (negative: already expired),
/// minted with the backend's own library function.
pub fn token_with(secret: &str, sub: &str, ttl_secs: i64) -> String {
    example_backend::mint_token(secret.as_bytes(), sub, ttl_secs).expect("HS256 signing succeeds")
}

/// A valid token for `sub`, signed with the backend's configured secret, valid for an hour.
pub fn token(sub: &str) -> String {
    token_with(&jwt_secret(), sub, 3600)
}

/// `Authorization: Bearer <token>` as a header pair.
pub fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// A JSON chat body.
pub fn chat_body(prompt: &str) -> String {
    serde_json::json!({ "prompt": prompt }).to_string()
}

/// Whether `haystack` contains `needle`, also in its JSON-escaped form.
pub fn mentions(haystack: &str, needle: &str) -> bool {
    let escaped = serde_json::to_string(needle).expect("a string serializes");
    let escaped = &escaped[1..escaped.len() - 1];
    haystack.contains(needle) || haystack.contains(escaped)
}

/// One authenticated chat (200) and one without a token (401) through the backend, so its
/// metrics hold a success and an error series.
pub async fn chat_once_with_and_once_without_a_token(system: &System, client: &Client) {
    let (name, value) = bearer(&token("ana"));
    let json = ("content-type", "application/json");
    let chat = client
        .post(
            &system.backend.url("/api/v1/chat"),
            &[(name, &value), json],
            chat_body("hi"),
        )
        .await;
    assert_eq!(chat.status, 200, "{}", chat.text());
    let unauthenticated = client
        .post(
            &system.backend.url("/api/v1/chat"),
            &[json],
            chat_body("hi"),
        )
        .await;
    assert_eq!(unauthenticated.status, 401);
}
