//! One request, one ID: accepted (when valid and trusted) or generated at the edge, carried in
//! a tracing span, echoed in every response and propagated to the next hop.
//!
//! # Example
//!
//! ```
//! # use std::convert::Infallible;
//! use http::{Request, Response};
//! use stanchion_request_id::{RequestId, RequestIdLayer};
//! use tower::{ServiceBuilder, ServiceExt as _, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let service = ServiceBuilder::new()
//!     .layer(RequestIdLayer::new())
//!     .service(service_fn(|request: Request<()>| async move {
//!         // Deep in the call stack, without the request in hand:
//!         let id = RequestId::current().expect("inside the layer");
//!         assert_eq!(request.extensions().get::<RequestId>(), Some(&id));
//!         Ok::<_, Infallible>(Response::new(()))
//!     }));
//!
//! // A forged inbound ID is replaced, never echoed.
//! let request = Request::builder()
//!     .header("x-request-id", "abc\" status=200 user=admin")
//!     .body(())
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! let echoed: RequestId = response.headers()["x-request-id"].to_str().unwrap().parse().unwrap();
//! assert_eq!(echoed.as_str().len(), 36); // a fresh UUID v4
//! # }
//! ```
//!
//! # Feature flags
//!
//! | Name | Description | Default |
//! |---|---|---|
//! | `axum` | `RequestId` (and `Option<RequestId>`) as an axum extractor, through `axum-core` only | no |
//! | `tower-http` | conversions from/to `tower_http::request_id::RequestId` | no |
//!
//! No web framework is a default dependency. Dependencies beyond `http`/`tower`: `tokio` (`rt`
//! only) for the task-local and the spawn helper; `uuid` with `fast-rng`, because the default
//! getrandom path costs one system call per ID.
//!
//! # Behaviour
//!
//! - **Never trusts what it cannot render safely.** Under [`TrustPolicy::AcceptIfValid`] (the
//!   default) an inbound ID is accepted only if it passes the validity rule:
//!   1 to [`DEFAULT_MAX_LEN`] (128, configurable 36..=1024) bytes of `A-Z a-z 0-9 - _ . :`.
//!   That rejects quotes, spaces, tabs, `=`, `;`, `%`, `/`, `\`, `<`, control bytes, non-ASCII
//!   bytes, empty and over-long values, and a header sent twice. [`TrustPolicy::AlwaysGenerate`]
//!   (a public edge) accepts none; [`TrustPolicy::AlwaysAccept`] (only for authenticated
//!   callers, never merely internal ones) skips the charset but keeps a safety floor (visible
//!   ASCII, within the limit).
//! - **Keeps the client's value without logging it raw.** A rejected or untrusted inbound value
//!   is replaced by a generated ID; the span keeps a sanitized copy under `client_request_id`:
//!   its first 64 bytes, every byte outside the ID charset percent-encoded (`"` → `%22`), plus
//!   `client_request_id_len`, the original length. At most 192 bytes, whatever came in.
//! - **One span per request.** An INFO span named `request` (target `stanchion_request_id`) with
//!   `request_id` and, when an inbound value was replaced, `client_request_id` and
//!   `client_request_id_len`. It is entered around the inner `call` and every poll of the
//!   response future, so every event inside carries it. A DEBUG event `request ID assigned`
//!   says where the ID came from (`source`: `accepted`, `generated`, `replaced`, `traceparent`)
//!   and, when replaced, why (`reason`: `untrusted`, `empty`, `too_long`, `non_ascii`,
//!   `forbidden_character`, `repeated`).
//! - **Inner layers see only the final ID.** The request's extensions get the [`RequestId`], and
//!   its ID header is overwritten with it, so a layer that reads only headers never sees a
//!   rejected value.
//! - **Echoes on every response.** The response header is set (overwritten) on every `Ok`
//!   response, including ones made by inner layers: a timeout's 408, a panic catcher's 500, a
//!   fallback 404. An `Err` from the inner service has no response to carry it.
//! - **Current for the whole request future.** [`RequestId::current`] returns the ID inside the
//!   inner `call` and every poll of its future (a task-local). A plain `tokio::spawn` does not
//!   inherit task-locals: use [`spawn`] or [`carry`], which carry the ID and the span.
//! - **Propagates, never overwrites.** [`PropagateRequestIdLayer`] (tower clients such as
//!   hyper-util's) and [`fill_headers`] (reqwest and others) set the header on outgoing requests
//!   from [`RequestId::current`] unless the caller set one.
//!
//! # Generation: v4 by default
//!
//! IDs are hyphenated lowercase UUIDs, encoded on the stack. [`IdFormat::UuidV4`] is the
//! default: with `fast-rng` it is the cheapest (see docs/benchmarks.md, "Request ID", for both
//! measured side by side), takes no lock, and reveals nothing. [`IdFormat::UuidV7`] gives
//! time-ordered IDs (sortable logs) but goes through `uuid`'s process-wide counter mutex, which
//! contends under parallel load, and leaks the request time (RFC 9562 advises v4 wherever an ID
//! may meet security). Pick v7 when sortable IDs matter more than a few tens of nanoseconds.
//!
//! # W3C `traceparent`
//!
//! Off by default. With [`RequestIdLayer::with_traceparent_seed`], when no ID header arrives
//! and a valid `traceparent` does (strict Level 1 grammar; anything invalid is ignored whole),
//! its 32-hex trace-id becomes the request ID (`source = "traceparent"`), so logs
//! and traces share a key. Never under [`TrustPolicy::AlwaysGenerate`]. This crate does not
//! create or forward `traceparent`; that is an OpenTelemetry propagator's job.
//!
//! # Layer order
//!
//! Put [`RequestIdLayer`] outermost, then tower-http's `TraceLayer`, then the rest (guard, catch
//! panic, timeout, handler). Then `TraceLayer`'s span is a child of the request span, so its
//! `on_request`/`on_response`/`on_failure` events carry `request_id`, and its `make_span_with`
//! sees the validated header. The other order works too (events inside the handler still carry
//! `request_id`), but `TraceLayer`'s own events then sit outside the request span and its
//! `make_span_with` sees the raw inbound header. The guide `docs/request-id.md` has the details.
//!
//! # Supported Rust versions
//!
//! The workspace's `rust-version` (1.88) and newer.

mod client;
mod id;
mod server;
mod spawn;
mod traceparent;

#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "tower-http")]
mod tower_http;

#[cfg(feature = "axum")]
#[doc(inline)]
pub use crate::axum::MissingRequestId;
#[doc(inline)]
pub use crate::{
    client::{PropagateRequestId, PropagateRequestIdLayer, fill_headers, fill_headers_named},
    id::{
        DEFAULT_MAX_LEN, IdFormat, InvalidReason, InvalidRequestId, MAX_MAX_LEN, MIN_MAX_LEN,
        RequestId,
    },
    server::{
        ConfigError, ConfigErrorKind, RequestIdLayer, RequestIdService, ResponseFuture, TrustPolicy,
    },
    spawn::{Carried, carry, spawn},
};

/// `x-request-id`, the default header.
pub const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");
