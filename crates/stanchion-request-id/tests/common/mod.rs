//! Helpers shared by the integration tests: a real JSON subscriber writing into memory, and a
//! trivial inner service that reports what it saw.

// dead_code: each test file uses a different subset of these helpers. unreachable_pub: the
// module is private to each test crate, but `pub` is what lets every file reach the helpers.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;

use http::{Request, Response};
use stanchion_request_id::RequestId;
use stanchion_test_support::CapturedLogs;
use tracing::subscriber::DefaultGuard;

/// Install a real `tracing-subscriber` JSON formatter (DEBUG and above, with the current span
/// and the span list on every event) for this thread, writing into `logs`.
pub fn capture_json(logs: &CapturedLogs) -> DefaultGuard {
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(logs.clone())
        .finish();
    tracing::subscriber::set_default(subscriber)
}

/// Install a capturing subscriber whose output the test ignores.
///
/// tracing caches each callsite's interest when it is first hit. A test binary runs its tests on
/// parallel threads, so a callsite first hit on a thread with no subscriber can cache "never"
/// while another thread's capture is being set up, and that capture then misses events. Every
/// test of a binary that captures logs therefore installs a subscriber before it runs the layer.
pub fn quiet() -> (CapturedLogs, DefaultGuard) {
    let logs = CapturedLogs::new();
    let guard = capture_json(&logs);
    (logs, guard)
}

/// Install the human-readable `fmt` formatter (no ANSI), writing into `logs`.
pub fn capture_text(logs: &CapturedLogs) -> DefaultGuard {
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(logs.clone())
        .finish();
    tracing::subscriber::set_default(subscriber)
}

/// What the inner service saw, returned in the response's extensions.
#[derive(Clone, Debug)]
pub struct Seen {
    pub header: Option<String>,
    pub header_count: usize,
    pub extension: Option<RequestId>,
    pub current: Option<RequestId>,
}

/// An inner service that logs one INFO event and reports what it saw of the ID.
pub async fn report(request: Request<()>) -> Result<Response<()>, Infallible> {
    tracing::info!("handled");
    let seen = Seen {
        header: request
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().expect("ASCII").to_owned()),
        header_count: request.headers().get_all("x-request-id").iter().count(),
        extension: request.extensions().get::<RequestId>().cloned(),
        current: RequestId::current(),
    };
    let mut response = Response::new(());
    response.extensions_mut().insert(seen);
    Ok(response)
}

/// The response's ID header as text.
pub fn echoed(response: &Response<impl Sized>) -> String {
    let mut values = response.headers().get_all("x-request-id").iter();
    let value = values.next().expect("the response carries x-request-id");
    assert!(values.next().is_none(), "exactly one x-request-id");
    value.to_str().expect("ASCII").to_owned()
}

/// Whether `id` is a hyphenated lowercase UUID of the given version.
pub fn is_uuid(id: &str, version: char) -> bool {
    let bytes = id.as_bytes();
    id.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-')
        && id
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && id.chars().nth(14) == Some(version)
}

/// The `request` span of this crate in a JSON line's span list.
pub fn request_span(line: &serde_json::Value) -> Option<&serde_json::Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == "request" && span.get("request_id").is_some())
}
