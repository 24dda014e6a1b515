//! `stanchion::Server` over real loopback sockets: slow and idle clients, the connection
//! limit, clients that stop reading, request-head limits answered with envelopes, HTTP/2,
//! graceful shutdown.

#![allow(clippy::unwrap_used)]

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{Router, routing::get};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::Value;
use stanchion::{Health, RequestLimits, Server, ServerError, ShutdownReport, Stack, Telemetry};
use stanchion_test_support::CapturedLogs;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinHandle,
};

/// Any single wait in these tests; a healthy exchange takes milliseconds.
const PATIENCE: Duration = Duration::from_secs(10);

/// One chunk of `/large`; static, so the body costs no allocation per chunk.
static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// `/large`'s chunks: 32 MiB, far more than loopback's socket buffers hold, so a client that
/// does not read blocks the server's writes.
const LARGE_CHUNKS: usize = 512;

/// The gap between `/trickle`'s chunks.
const TRICKLE_GAP: Duration = Duration::from_millis(900);

/// A capturing subscriber for the test's thread (where the server's tasks run too). Every
/// test installs one first: tracing caches a callsite's interest when it is first hit, and a
/// thread without a subscriber must not be the first to hit the server's events.
fn init() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
    let logs = CapturedLogs::new();
    let guard = tracing::subscriber::set_default(Telemetry::new("svc").build(logs.clone()));
    (logs, guard)
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    served: JoinHandle<Result<ShutdownReport, ServerError>>,
}

impl Running {
    async fn shutdown(mut self) -> ShutdownReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, self.served)
            .await
            .expect("the server stops within the drain deadline")
            .expect("the server task does not panic")
            .expect("the server ran")
    }
}

fn app(server: &Server) -> Router {
    Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "finished"
            }),
        )
        .route(
            "/very-slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "too late"
            }),
        )
        .route(
            "/large",
            // Streamed in chunks, like a file or a large export: the body stays with hyper
            // (the request in flight) until its last chunk, unlike a single-buffer body.
            get(|| async {
                let chunks = futures_util::stream::iter(
                    (0..LARGE_CHUNKS).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&CHUNK))),
                );
                axum::body::Body::from_stream(chunks)
            }),
        )
        .route(
            "/large-buffer",
            // One 32 MiB buffer: hyper takes it whole and drops the body, so the request is
            // over while most of the bytes still wait for the socket.
            get(|| async { vec![b'x'; LARGE_CHUNKS * CHUNK.len()] }),
        )
        .route(
            "/trickle",
            // An event stream's shape: a chunk, then the server itself waits.
            get(|| async {
                let chunks = futures_util::stream::unfold(0, |i| async move {
                    if i == 3 {
                        return None;
                    }
                    if i > 0 {
                        tokio::time::sleep(TRICKLE_GAP).await;
                    }
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(format!("part{i};"))),
                        i + 1,
                    ))
                });
                axum::body::Body::from_stream(chunks)
            }),
        )
        .merge(Health::new().with_draining(server.draining()).routes())
        .layer(Stack::new().with_limits(server.limits()))
}

async fn start(server: Server) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(&server);
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        server
            .serve_with_shutdown(listener, router, async {
                let _ = stopped.await;
            })
            .await
    });
    Running {
        addr,
        stop: Some(stop),
        served,
    }
}

/// A status line, headers (lower-case names) and a `Content-Length` body read off a socket.
#[derive(Debug)]
struct RawReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "{} body is not JSON ({error}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Writes `request` on a fresh connection and reads until the server closes it.
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> RawReply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("the server answers and closes")
        .unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> RawReply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawReply {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn get_request(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}\r\n").into_bytes()
}

/// Asserts an envelope with `code` and `status` whose `requestId` is the `x-request-id`.
fn assert_envelope(reply: &RawReply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["statusCode"], status);
    let id = reply.header("x-request-id").expect("x-request-id");
    assert!(!id.is_empty());
    assert_eq!(body["error"]["requestId"], id);
}

/// Whether the server closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(within, stream.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) => panic!("the server sent bytes on a connection that sent no request"),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_slowloris_connection_is_closed_by_the_header_read_timeout() {
    let (_logs, _guard) = init();
    let server = start(
        Server::new()
            .with_header_read_timeout(Duration::from_millis(400))
            .with_idle_timeout(Duration::from_secs(60)),
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = b"GET /livez HTTP/1.1\r\nHost: test\r\nX-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let started = Instant::now();
    let mut closed_after = None;
    // One byte every 50 ms: the connection is never idle, the head is never complete.
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        if closed_within(&mut stream, Duration::from_millis(50)).await {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("the server closed the slowloris connection");
    assert!(
        closed_after >= Duration::from_millis(400) && closed_after < Duration::from_secs(3),
        "closed after {closed_after:?}, the header read timeout is 400 ms"
    );
    // The server still serves others.
    let reply = raw_exchange(server.addr, &get_request("/livez", "")).await;
    assert_eq!(reply.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_connection_is_kept_until_the_idle_timeout_not_the_header_timeout() {
    let (_logs, _guard) = init();
    let server = start(
        Server::new()
            .with_header_read_timeout(Duration::from_millis(200))
            .with_idle_timeout(Duration::from_millis(1200)),
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // A finished request, then silence on the kept-alive connection.
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let read = stream.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    assert!(
        !closed_within(&mut stream, Duration::from_millis(700)).await,
        "an idle keep-alive connection outlives the header read timeout"
    );
    assert!(
        closed_within(&mut stream, PATIENCE).await,
        "and is closed by the idle timeout"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    server.shutdown().await;
}

#[tokio::test]
async fn three_hundred_idle_connections_do_not_stop_livez() {
    let (_logs, _guard) = init();
    let server = start(
        Server::new()
            .with_max_connections(100)
            .with_header_read_timeout(Duration::from_secs(60))
            .with_idle_timeout(Duration::from_secs(60)),
    )
    .await;
    let mut idle = Vec::new();
    for i in 0..300 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 0 {
            // Half of them hold a half-sent head, the other half send nothing.
            stream.write_all(b"GET /livez HTT").await.unwrap();
        }
        idle.push(stream);
    }
    let started = Instant::now();
    let reply = tokio::time::timeout(
        Duration::from_secs(3),
        raw_exchange(server.addr, &get_request("/livez", "")),
    )
    .await
    .expect("/livez answers while 300 idle connections are open");
    assert_eq!(reply.status, 200);
    assert!(started.elapsed() < Duration::from_secs(3));
    // The limit held: the connections idle longest were closed to make room.
    let mut closed = 0;
    for stream in &mut idle {
        if closed_within(stream, Duration::from_millis(20)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= 200,
        "only {closed} of 300 idle connections were closed"
    );
    drop(idle);
    server.shutdown().await;
}

#[tokio::test]
async fn each_head_limit_is_answered_with_its_envelope() {
    let (_logs, _guard) = init();
    let server = start(Server::new()).await;
    let addr = server.addr;

    let many: String = (0..150).map(|i| format!("x-h{i}: v\r\n")).collect();
    let reply = raw_exchange(addr, &get_request("/livez", &many)).await;
    assert_envelope(&reply, 431, "HEADERS_TOO_LARGE");

    let large = format!("x-large: {}\r\n", "a".repeat(20 * 1024));
    let reply = raw_exchange(addr, &get_request("/livez", &large)).await;
    assert_envelope(&reply, 431, "HEADERS_TOO_LARGE");

    let long = format!("/livez?q={}", "a".repeat(10 * 1024));
    let reply = raw_exchange(addr, &get_request(&long, "")).await;
    assert_envelope(&reply, 414, "URI_TOO_LONG");

    let reply = raw_exchange(addr, b"GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_envelope(&reply, 400, "BAD_REQUEST");

    // More than one Host field, or a Host that is not `host[:port]`: 400 as well (RFC 9112
    // §3.2), on HTTP/1.0 too. Without the rule each of these is served (200).
    for bad_host in [
        "Host: a.test\r\nHost: b.test\r\n",
        "Host: a.test\r\nHost: a.test\r\n",
        "Host: exa mple.test\r\n",
        "Host: user@a.test\r\n",
        "Host: a.test:http\r\n",
    ] {
        for version in ["1.1", "1.0"] {
            let request =
                format!("GET /livez HTTP/{version}\r\n{bad_host}Connection: close\r\n\r\n");
            let reply = raw_exchange(addr, request.as_bytes()).await;
            assert_eq!(reply.status, 400, "HTTP/{version} {bad_host:?}: {reply:?}");
            assert_envelope(&reply, 400, "BAD_REQUEST");
        }
    }
    let reply = raw_exchange(
        addr,
        b"GET /livez HTTP/1.1\r\nHost: a.test:8080\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 200, "a host with a port is valid: {reply:?}");

    // HTTP/1.0 has no Host requirement.
    let reply = raw_exchange(addr, b"GET /livez HTTP/1.0\r\n\r\n").await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // Within every limit: served.
    let fine: String = (0..90).map(|i| format!("x-h{i}: v\r\n")).collect();
    let reply = raw_exchange(addr, &get_request("/livez", &fine)).await;
    assert_eq!(reply.status, 200);

    // Beyond hyper's ceiling (twice ours) hyper answers alone: the documented exception.
    let too_many: String = (0..250).map(|i| format!("x-h{i}: v\r\n")).collect();
    let reply = raw_exchange(addr, &get_request("/livez", &too_many)).await;
    assert_eq!(reply.status, 431);
    assert_eq!(reply.header("x-request-id"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served() {
    let (_logs, _guard) = init();
    let server = start(Server::new()).await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Empty<Bytes>>();
    let response = client
        .get(format!("http://{}/livez", server.addr).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"{\"checks\""), "{body:?}");
    drop(client);
    server.shutdown().await;
}

#[tokio::test]
async fn each_head_limit_is_answered_with_its_envelope_over_http2() {
    let (_logs, _guard) = init();
    let server = start(Server::new()).await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Empty<Bytes>>();
    let base = format!("http://{}", server.addr);
    // Each case is under the server's HTTP/2 header-list ceiling (48 KiB), so it reaches the
    // stack; under hyper's default HTTP/2 ceiling (16 KiB) the 20 KiB field would get h2's bare
    // 431 instead.
    let many: Vec<(String, String)> = (0..150).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let large = vec![("x-large".to_owned(), "a".repeat(20 * 1024))];
    let fine: Vec<(String, String)> = (0..90).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let long_uri = format!("{base}/livez?q={}", "a".repeat(10 * 1024));
    let cases = [
        (
            "150 fields",
            format!("{base}/livez"),
            many,
            431,
            Some("HEADERS_TOO_LARGE"),
        ),
        (
            "a 20 KiB field",
            format!("{base}/livez"),
            large,
            431,
            Some("HEADERS_TOO_LARGE"),
        ),
        (
            "a 10 KiB URI",
            long_uri,
            Vec::new(),
            414,
            Some("URI_TOO_LONG"),
        ),
        (
            "within every limit",
            format!("{base}/livez"),
            fine,
            200,
            None,
        ),
    ];
    for (what, uri, headers, status, code) in cases {
        let mut request = http::Request::get(uri);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        let response = client
            .request(request.body(Empty::new()).unwrap())
            .await
            .unwrap_or_else(|error| panic!("{what}: {error}"));
        assert_eq!(response.version(), http::Version::HTTP_2, "{what}");
        assert_eq!(response.status(), status, "{what}");
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        if let Some(code) = code {
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"]["code"], code, "{what}: {body}");
            assert_eq!(body["error"]["requestId"], id, "{what}");
        }
    }
    drop(client);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_fails_readiness_refuses_new_connections_and_finishes_requests_in_flight() {
    let (logs, _guard) = init();
    let server = start(Server::new().with_shutdown_delay(Duration::from_millis(600))).await;
    let addr = server.addr;
    let in_flight = tokio::spawn(raw_exchange(addr, get_request("/slow", "").leak()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Running {
        addr: _,
        mut stop,
        served,
    } = server;
    stop.take().unwrap().send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // During the shutdown delay: not ready, still alive, still accepting.
    let ready = raw_exchange(addr, &get_request("/readyz", "")).await;
    assert_eq!(ready.status, 503, "{ready:?}");
    assert_eq!(ready.json()["checks"]["shutdown"][0]["status"], "fail");
    let live = raw_exchange(addr, &get_request("/livez", "")).await;
    assert_eq!(live.status, 200);

    // After it: the listener is closed.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "new connections are refused once the listener closed"
    );

    // The request in flight finished.
    let slow = in_flight.await.unwrap();
    assert_eq!(slow.status, 200);
    assert_eq!(slow.body, b"finished");
    let report = served.await.unwrap().unwrap();
    assert!(report.drained(), "{report:?}");
    assert_eq!(report.aborted(), 0);
    assert!(report.requests_served() >= 3);

    let lines = logs.json_lines();
    let started = lines
        .iter()
        .find(|l| l["message"] == "server started")
        .expect("a start event");
    assert_eq!(started["target"], "stanchion::server");
    assert_eq!(started["addr"], addr.to_string());
    assert_eq!(started["maxHeaders"], 100);
    let stopped = lines
        .iter()
        .find(|l| l["message"] == "server stopped")
        .expect("a stop event");
    assert_eq!(stopped["outcome"], "drained");
    assert_eq!(stopped["connectionsAborted"], 0);
}

#[tokio::test]
async fn a_request_still_running_at_the_drain_deadline_is_dropped_and_reported() {
    let (logs, _guard) = init();
    let server = start(Server::new().with_drain_timeout(Duration::from_millis(300))).await;
    let addr = server.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&get_request("/very-slow", ""))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = server.shutdown().await;
    assert!(!report.drained());
    assert_eq!(report.aborted(), 1);
    assert!(closed_within(&mut stream, PATIENCE).await);
    let stopped = logs
        .json_lines()
        .into_iter()
        .find(|l| l["message"] == "server stopped")
        .unwrap_or_else(|| panic!("a stop event in {}", logs.contents()));
    assert_eq!(stopped["outcome"], "deadline");
    assert_eq!(stopped["connectionsAborted"], 1);
}

#[tokio::test]
async fn a_setting_that_cannot_work_is_refused_with_the_reason() {
    let (_logs, _guard) = init();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = Server::new()
        .with_max_connections(0)
        .serve_with_shutdown(listener, Router::new(), async {})
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "server setting max_connections: must be at least 1"
    );
    let limits = RequestLimits::new().with_max_uri_bytes(100);
    assert!(limits.unwrap_err().to_string().contains("at least 256"));
}

#[tokio::test]
async fn at_the_limit_a_request_in_flight_is_never_evicted_and_a_newcomer_waits_for_it() {
    let (_logs, _guard) = init();
    let server = start(
        Server::new()
            .with_max_connections(2)
            .with_idle_timeout(Duration::from_secs(60)),
    )
    .await;
    let addr = server.addr;
    let t0 = Instant::now();
    let slow = tokio::spawn(raw_exchange(addr, get_request("/slow", "").leak()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // A third connection: the idle one makes room, the one in flight is untouched.
    let reply = raw_exchange(addr, &get_request("/livez", "")).await;
    assert_eq!(reply.status, 200);
    assert!(closed_within(&mut idle, Duration::from_secs(2)).await);

    // Two requests in flight fill the limit: a newcomer waits until one of them finishes.
    let second = tokio::spawn(raw_exchange(addr, get_request("/slow", "").leak()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !slow.is_finished(),
        "the machine is too slow for this test's timing"
    );
    let reply = raw_exchange(addr, &get_request("/livez", "")).await;
    assert_eq!(reply.status, 200);
    // The first /slow cannot finish before 800 ms after `t0`; the newcomer only after it.
    assert!(
        t0.elapsed() >= Duration::from_millis(800),
        "the newcomer was answered after {:?}, before a request in flight freed a slot",
        t0.elapsed()
    );
    for in_flight in [slow, second] {
        let reply = in_flight.await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, b"finished");
    }
    server.shutdown().await;
}

/// The `server stopped` event's `sendTimeouts` (after `Running::shutdown`).
fn send_timeouts(logs: &CapturedLogs) -> Value {
    logs.json_lines()
        .into_iter()
        .find(|l| l["message"] == "server stopped")
        .unwrap_or_else(|| panic!("a stop event in {}", logs.contents()))["sendTimeouts"]
        .clone()
}

/// A server whose send timeout (300 ms) is the only clock that can close a connection with a
/// request in flight soon: the header and idle timeouts are a minute.
fn send_timeout_server() -> Server {
    Server::new()
        .with_send_timeout(Duration::from_millis(300))
        .with_header_read_timeout(Duration::from_secs(60))
        .with_idle_timeout(Duration::from_secs(60))
}

#[tokio::test]
async fn a_client_that_stops_reading_a_large_response_is_closed_by_the_send_timeout() {
    let (logs, _guard) = init();
    let server = start(send_timeout_server().with_max_connections(1)).await;
    let mut stuck =
        stop_reading_once_answered(server.addr, b"GET /large HTTP/1.1\r\nHost: test\r\n\r\n").await;

    // The only slot is held by a request in flight: the newcomer is served only once the
    // send timeout closed the stuck connection. Without it, it waits forever.
    // Shorter than `raw_exchange`'s own wait, so a failure names this expectation.
    let reply = tokio::time::timeout(
        PATIENCE / 2,
        raw_exchange(server.addr, &get_request("/livez", "")),
    )
    .await
    .expect("/livez answers once the connection that stopped reading is closed");
    assert_eq!(reply.status, 200);

    // The stuck client gets what was already in the buffers, then the close: a cut body.
    assert_body_cut_off(&mut stuck).await;
    server.shutdown().await;
    assert_eq!(send_timeouts(&logs), 1);
}

/// Sends `request` on a new connection and waits until the response has begun (so the request
/// is in flight and cannot be evicted), then reads no more: peeking leaves the bytes in the
/// socket buffer, which stays full from here on.
async fn stop_reading_once_answered(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut stuck = TcpStream::connect(addr).await.unwrap();
    stuck.write_all(request).await.unwrap();
    tokio::time::timeout(PATIENCE, stuck.peek(&mut [0u8; 1]))
        .await
        .expect("the response begins")
        .unwrap();
    stuck
}

/// Reads to the end of a large response the server closed early: fewer bytes than the whole
/// body, or a reset.
async fn assert_body_cut_off(stuck: &mut TcpStream) {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stuck.read_to_end(&mut received))
        .await
        .expect("the server closed the connection");
    let whole = LARGE_CHUNKS * CHUNK.len();
    assert!(
        read.is_err() || received.len() < whole,
        "the body should be cut off, got {} of {whole} bytes",
        received.len()
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_a_buffered_response_is_closed_by_the_send_timeout() {
    let (logs, _guard) = init();
    let server = start(send_timeout_server()).await;
    let mut stuck = stop_reading_once_answered(
        server.addr,
        b"GET /large-buffer HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await;
    // Not reading for many send timeouts. Reading now would let an open connection send the
    // rest (then close: `Connection: close`), so only a connection the server closed yields a
    // cut body.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_body_cut_off(&mut stuck).await;
    server.shutdown().await;
    assert_eq!(send_timeouts(&logs), 1);
}

#[tokio::test]
async fn a_streaming_body_that_waits_longer_than_the_send_timeout_is_not_cut() {
    let (logs, _guard) = init();
    let server = start(Server::new().with_send_timeout(Duration::from_millis(300))).await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(&get_request("/trickle", ""))
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("the stream ends")
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    // Each gap (900 ms) is three send timeouts long: the server was waiting, not the client.
    assert!(started.elapsed() >= 2 * TRICKLE_GAP, "{text:?}");
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    for part in ["part0;", "part1;", "part2;"] {
        assert!(text.contains(part), "{part} missing: {text:?}");
    }
    assert!(
        text.ends_with("\r\n0\r\n\r\n"),
        "the chunked body ended: {text:?}"
    );
    server.shutdown().await;
    assert_eq!(send_timeouts(&logs), 0);
}

#[tokio::test]
async fn an_http2_client_with_a_zero_stream_window_is_closed_by_the_send_timeout() {
    let (logs, _guard) = init();
    let server = start(send_timeout_server().with_max_connections(1)).await;
    // SETTINGS_INITIAL_WINDOW_SIZE = 0: the server may send headers but no body byte, and the
    // client never opens the window.
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .http2_initial_stream_window_size(0)
        .build_http::<Empty<Bytes>>();
    let response = tokio::time::timeout(
        PATIENCE,
        client.get(format!("http://{}/livez", server.addr).parse().unwrap()),
    )
    .await
    .expect("the response head arrives")
    .unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);

    // The h2 connection holds the only slot with its stream in flight.
    let reply = tokio::time::timeout(
        PATIENCE / 2,
        raw_exchange(server.addr, &get_request("/livez", "")),
    )
    .await
    .expect("/livez answers once the stalled HTTP/2 connection is closed");
    assert_eq!(reply.status, 200);
    let body = tokio::time::timeout(PATIENCE, response.into_body().collect())
        .await
        .expect("the stalled body ends with the connection");
    assert!(body.is_err(), "no body byte could be sent: {body:?}");
    drop(client);
    server.shutdown().await;
    assert_eq!(send_timeouts(&logs), 1);
}
