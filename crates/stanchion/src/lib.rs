//! The Stanchion facade: the production layer stack in one call, telemetry (redacted JSON
//! logs with `service` and `requestId`), Prometheus metrics and health endpoints.
//!
//! # Example
//!
//! ```
//! use stanchion::{Stack, Telemetry};
//! use tower::{ServiceBuilder, ServiceExt as _, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let logs = stanchion_test_support::CapturedLogs::new();
//! let _guard = tracing::subscriber::set_default(Telemetry::new("backend").build(logs.clone()));
//!
//! let service = ServiceBuilder::new()
//!     .layer(Stack::new())
//!     // The body limit hands the service a `Limited` body.
//!     .service(service_fn(|_request: http::Request<tower_http::body::Limited<String>>| async move {
//!         tracing::info!("handling");
//!         Ok::<_, std::convert::Infallible>(
//!             http::Response::builder().status(404).body(String::new()).unwrap(),
//!         )
//!     }));
//! let response = service.oneshot(http::Request::new(String::new())).await.unwrap();
//!
//! // The guard made the 404 an envelope carrying the request ID of the response header ...
//! let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
//! assert_eq!(response.headers()["content-type"], "application/json");
//! // ... and every log line of the request carries the same ID at the top level.
//! let lines = logs.json_lines();
//! assert!(lines.iter().all(|line| line["requestId"] == id.as_str()));
//! let access = lines.iter().find(|l| l["target"] == "stanchion::access").unwrap();
//! assert_eq!(access["status"], 404);
//! assert_eq!(access["errorCode"], "NOT_FOUND");
//! # });
//! ```
//!
//! A service writes about a dozen lines: `Telemetry::from_env(name).with_redactor(r).init()`,
//! `Metrics::install_global()`, `let server = Server::new()`, its routes,
//! `.merge(health.with_draining(server.draining()).routes())`, `.merge(metrics.route())`,
//! `.layer(Stack::new())`, and `server.serve(listener, app)` (feature `server`: timeouts,
//! limits, graceful shutdown). The guides are `docs/observability.md` and `docs/server.md`.
//!
//! # The pieces
//!
//! - [`Stack`]: request ID → access log → guard → head limits → catch-panic → timeout → body limit, as one
//!   tower layer with `with_*` overrides. Each piece stays usable alone.
//! - [`AccessLogLayer`]: one event per request (target [`ACCESS_TARGET`], message
//!   `request completed`) with `method`, `route` (the matched template, never the raw path),
//!   `status`, `latencyMs`, `errorCode` when not 2xx, `userId` once [`set_user_id`] was called;
//!   and the request metrics.
//! - [`Telemetry`]: the subscriber: JSON lines `{"timestamp","level","target","service",
//!   "requestId","message", <fields>}` (or [`LogFormat::Pretty`]), redacted by a
//!   [`redact::Redactor`], filtered in `RUST_LOG` syntax; installed by `init()` or added to a
//!   registry of your own as a `Layer` ([`Telemetry::layer`]).
//! - [`Metrics`]: a Prometheus recorder for the `metrics` facade (global, or per thread for a
//!   service on its own runtime), with the names in [`metrics`]; it collects the
//!   configuration's state, the redactor's counts and the `process_*` families at each render.
//! - [`Health`]: liveness and readiness checks rendered as `application/health+json`.
//! - [`RequestLimits`]: the request-head limits the stack enforces (431 `HEADERS_TOO_LARGE`,
//!   414 `URI_TOO_LONG`, 400 `BAD_REQUEST` for HTTP/1.1 without `Host`, or with more than one
//!   or an invalid one).
//! - `Server` (feature `server`): the production HTTP/1.1 + h2c server on hyper-util:
//!   header-read and idle timeouts, a connection limit that evicts the idlest connection,
//!   hyper's ceilings above the stack's limits, graceful shutdown on SIGTERM/SIGINT with a
//!   drain deadline, JSON `server started` / `server stopped` events. Guide: `docs/server.md`.
//! - `Otel`, `OtelConfig`, `TraceContextLayer`, `PropagateTraceContextLayer` (feature
//!   `otel`): OpenTelemetry traces from the `OTEL_*` variables, W3C trace context in at the
//!   edge and out on calls, `traceId`/`spanId` on every line of a request, OTLP/HTTP export.
//! - The four crates, re-exported: [`errors`], [`request_id`], [`redact`], [`config`].
//!
//! # Feature flags
//!
//! | Name | Description | Default |
//! |---|---|---|
//! | `axum` | the matched route (`MatchedPath`) in the access log and metrics; `Health::routes` and `Metrics::route` routers; the axum integrations of `stanchion-errors` and `stanchion-request-id` | no |
//! | `server` | `Server`, `shutdown_signal`, `Health::with_draining` (hyper, hyper-util, tokio's net/signal) | no |
//! | `otel` | OpenTelemetry traces: `otel::OtelConfig`, `Otel`, the trace-context layers (in `Stack` too), `traceId`/`spanId` in lines | no |
//!
//! Without `axum` the stack works on any tower HTTP service, and `route` is `unmatched`.
//!
//! # Behaviour
//!
//! - **Every error is an envelope with the response's request ID.** Panics become
//!   `INTERNAL_ERROR`, slow handlers `REQUEST_TIMEOUT`, oversize bodies `PAYLOAD_TOO_LARGE`,
//!   each with `requestId` equal to the `x-request-id` header.
//! - **One request, one ID in every line.** Events emitted while a request is handled carry a
//!   top-level `requestId` (the request-ID layer's task-local, else the nearest span's
//!   `request_id`); events outside a request have none.
//! - **No secret reaches a line.** Every line passes the redactor after formatting
//!   (`RedactingMakeWriter`), message and fields alike, and stays valid JSON. Register the
//!   configuration service's secrets with the same redactor.
//! - **Bounded labels.** Metrics are labelled by route template, standard method (others are
//!   `_OTHER`), status class and taxonomy code; never by raw path, user or request ID.
//! - **Liveness checks nothing.** `/livez` passes while the process serves; dependencies are
//!   readiness checks (`/readyz`, 503 on `fail`).
//!
//! # Dependencies
//!
//! tower-http supplies the panic catcher, timeout and body limit; `tracing-subscriber` the
//! subscriber (with a custom `FormatEvent` for the line shape); `metrics-exporter-prometheus`
//! (recorder only, no listener) the exposition format; `futures-util` runs health checks
//! concurrently. With `server`, hyper and hyper-util (`server-auto`, its tokio executor and
//! timer) run the connections: the server adds only what they leave to the caller (timeouts
//! that tell idle from slow, the connection limit, shutdown).
//!
//! With `otel`: `opentelemetry` (the API: `Context`, propagators) and `opentelemetry_sdk` (the
//! tracer provider, the batch span processor with its bounded queue, the W3C
//! `TraceContextPropagator`), one 0.33 release train; `tracing-opentelemetry` 0.34 (built
//! against it) turns `tracing` spans into OpenTelemetry spans, so the services keep writing
//! `tracing`; `opentelemetry-otlp` (`http-proto` only: no gRPC, no tonic) encodes and posts
//! OTLP; `opentelemetry-http` (its `hyper` client: hyper and hyper-util are already the
//! server's stack, so no reqwest) carries it and adapts `http::HeaderMap` for the
//! propagator; `async-trait` because opentelemetry-http's `HttpClient` trait is one (the
//! exporter's client runs on a one-thread tokio runtime of its own).

mod access_log;
#[cfg(feature = "axum")]
mod axum;
pub mod health;
mod json_line;
mod limits;
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
mod panic;
#[cfg(feature = "server")]
mod reload;
#[cfg(feature = "server")]
mod server;
mod stack;
mod telemetry;
#[cfg(feature = "otel")]
mod trace_context;

#[doc(inline)]
pub use crate::{
    access_log::{
        ACCESS_TARGET, AccessLog, AccessLogLayer, PROBE_ROUTES, ResponseFuture, UNMATCHED_ROUTE,
        set_user_id,
    },
    health::{CheckResult, Health, HealthReport},
    limits::{
        DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADERS, DEFAULT_MAX_URI_BYTES, LimitsError,
        LimitsFuture, RequestLimits, RequestLimitsLayer, RequestLimitsService,
    },
    metrics::{Metrics, MetricsError},
    panic::install_panic_hook,
    stack::{
        DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT, PANIC_TARGET, PanicResponse, Stack, StackService,
    },
    telemetry::{
        DEFAULT_FILTER, LOG_FORMAT, LogFormat, ParseLogFormatError, RESERVED_KEYS, RUST_LOG,
        Telemetry, TelemetryError,
    },
};

#[cfg(feature = "otel")]
#[doc(inline)]
pub use crate::{
    otel::{Otel, OtelConfig, OtelError},
    trace_context::{
        PropagateTraceContext, PropagateTraceContextLayer, TRACEPARENT, TRACESTATE, TraceContext,
        TraceContextLayer, extract_trace_context, inject_trace_context,
    },
};

#[cfg(feature = "axum")]
#[doc(inline)]
pub use crate::axum::PROMETHEUS_TEXT;

#[cfg(feature = "server")]
#[doc(inline)]
pub use crate::reload::{ConfigRefresh, RELOAD_TARGET, refresh_on_hangup};

#[cfg(feature = "server")]
#[doc(inline)]
pub use crate::server::{
    ConnectionInfo, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_SEND_TIMEOUT, Draining, SERVER_TARGET, Server, ServerError,
    ShutdownReport, shutdown_signal,
};

/// The error taxonomy, the envelope and the guard layer (`stanchion-errors`).
pub use stanchion_errors as errors;

/// Request IDs: the server layer, propagation to the next hop (`stanchion-request-id`).
pub use stanchion_request_id as request_id;

/// The redaction engine and its tracing integration (`stanchion-redact`).
pub use stanchion_redact as redact;

/// The tool configuration service (`stanchion-config`).
pub use stanchion_config as config;

/// Rollout modes (`off`, `shadow`, `enforced`) and the gate (`stanchion-rollout`).
pub use stanchion_rollout as rollout;
