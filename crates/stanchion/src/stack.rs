//! The composed layer stack.

use std::{any::Any, time::Duration};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use stanchion_errors::{ApiError, Gate, Guard, GuardLayer, RolloutMode, codes};
use stanchion_request_id::{RequestId, RequestIdLayer, RequestIdService};
use tower_http::{
    catch_panic::{CatchPanic, CatchPanicLayer, ResponseForPanic},
    limit::{RequestBodyLimit, RequestBodyLimitLayer},
    timeout::{Timeout, TimeoutLayer},
};
use tower_layer::Layer;

use crate::{
    access_log::{AccessLog, AccessLogLayer},
    limits::{RequestLimits, RequestLimitsLayer, RequestLimitsService},
};

/// The tracing target of the event logged when a handler panics.
pub const PANIC_TARGET: &str = "stanchion::panic";

/// The default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default request body limit (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The production layer stack as one tower [`Layer`], outermost first:
///
/// 1. [`RequestIdLayer`]: validates or generates the ID, opens the `request` span, echoes the
///    header on every response;
/// 2. [`AccessLogLayer`]: one event and the request metrics per request;
/// 3. [`GuardLayer`]: every 4xx/5xx below leaves as an envelope carrying the request ID;
/// 4. [`RequestLimitsLayer`]: a head over the [`RequestLimits`] is answered with 431 or 414
///    (and a request off a `Server` (feature `server`) connection with no `Host` on HTTP/1.1, more
///    than one, or an invalid one, with 400), which the guard turns into `HEADERS_TOO_LARGE`, `URI_TOO_LONG`, `BAD_REQUEST`;
/// 5. tower-http's `CatchPanicLayer`: a panic becomes an `INTERNAL_ERROR` envelope (the panic
///    message goes to the log, target [`PANIC_TARGET`], never to the body);
/// 6. tower-http's `TimeoutLayer`: a handler slower than the timeout is answered with 408,
///    which the guard turns into `REQUEST_TIMEOUT`;
/// 7. tower-http's `RequestBodyLimitLayer`: a body over the limit is answered with 413,
///    which the guard turns into `PAYLOAD_TOO_LARGE`.
///
/// On an axum router, add it with `Router::layer`, so it runs after routing and the access
/// log sees the matched route (`router.layer(Stack::new())`).
///
/// ```
/// use std::time::Duration;
/// use stanchion::{Stack, rollout::RolloutMode};
///
/// let stack = Stack::new()
///     .with_timeout(Duration::from_secs(10))
///     .with_body_limit(64 * 1024)
///     .with_guard_mode(RolloutMode::Shadow);
/// assert_eq!(stack.guard_mode(), RolloutMode::Shadow);
/// assert_eq!(stack.timeout(), Duration::from_secs(10));
/// assert_eq!(stack.body_limit(), 64 * 1024);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Stack {
    #[cfg(feature = "otel")]
    trace_context: crate::trace_context::TraceContextLayer,
    request_id: RequestIdLayer,
    access_log: AccessLogLayer,
    guard: GuardLayer,
    timeout: Duration,
    body_limit: usize,
    limits: RequestLimits,
}

impl Stack {
    /// The stack with its defaults: request IDs accepted when valid, the guard enforcing,
    /// a 30 s timeout and a 1 MiB body limit.
    pub fn new() -> Self {
        Self {
            #[cfg(feature = "otel")]
            trace_context: crate::trace_context::TraceContextLayer::new(),
            request_id: RequestIdLayer::new(),
            access_log: AccessLogLayer::new(),
            guard: GuardLayer::new(),
            timeout: DEFAULT_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            limits: RequestLimits::new(),
        }
    }

    /// Replaces the request-ID layer (a trust policy, another header, v7 IDs ...).
    pub fn with_request_id(mut self, layer: RequestIdLayer) -> Self {
        self.request_id = layer;
        self
    }

    /// Replaces the trace-context layer (feature `otel`; outermost): `TraceContextLayer::new()
    /// .with_trust_inbound(false)` on a public edge whose callers may not choose the trace.
    #[cfg(feature = "otel")]
    pub fn with_trace_context(mut self, layer: crate::trace_context::TraceContextLayer) -> Self {
        self.trace_context = layer;
        self
    }

    /// Logs successful requests to these route templates at DEBUG instead of INFO
    /// ([`AccessLogLayer::with_quiet_routes`]; [`PROBE_ROUTES`](crate::PROBE_ROUTES) for the
    /// health and metrics routes).
    pub fn with_quiet_routes<I>(mut self, routes: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.access_log = self.access_log.with_quiet_routes(routes);
        self
    }

    /// Sets a fixed mode for the guard (`off`, `shadow` or `enforced`).
    pub fn with_guard_mode(mut self, mode: RolloutMode) -> Self {
        self.guard = self.guard.with_mode(mode);
        self
    }

    /// Reads the guard's mode from `gate` on every request: a live `GUARD_MODE` flag
    /// (`ConfigService::gate`), switched without a restart.
    pub fn with_guard_gate(mut self, gate: Gate) -> Self {
        self.guard = self.guard.with_gate(gate);
        self
    }

    /// Sets the time a request may take until its response head.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest request body accepted, in bytes.
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// Sets the request-head limits (give the `Server` the same ones).
    pub fn with_limits(mut self, limits: RequestLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The request-head limits.
    pub fn limits(&self) -> RequestLimits {
        self.limits
    }

    /// The guard's mode now.
    pub fn guard_mode(&self) -> RolloutMode {
        self.guard.mode()
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The body limit, in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }
}

impl Default for Stack {
    fn default() -> Self {
        Self::new()
    }
}

/// The service [`Stack`] wraps around `S`.
#[cfg(not(feature = "otel"))]
pub type StackService<S> = RequestIdService<
    AccessLog<Guard<RequestLimitsService<CatchPanic<Timeout<RequestBodyLimit<S>>, PanicResponse>>>>,
>;

/// The service [`Stack`] wraps around `S` (with the trace-context layer outermost).
#[cfg(feature = "otel")]
pub type StackService<S> = crate::trace_context::TraceContext<
    RequestIdService<
        AccessLog<
            Guard<RequestLimitsService<CatchPanic<Timeout<RequestBodyLimit<S>>, PanicResponse>>>,
        >,
    >,
>;

impl<S> Layer<S> for Stack {
    type Service = StackService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let inner = RequestBodyLimitLayer::new(self.body_limit).layer(inner);
        let inner =
            TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, self.timeout).layer(inner);
        let inner = CatchPanicLayer::custom(PanicResponse::default()).layer(inner);
        let inner = RequestLimitsLayer::new(self.limits).layer(inner);
        // The guard reads the ID from the request-ID layer's extension, whatever its header.
        let inner = self.guard.clone().layer(inner);
        let inner = self.access_log.layer(inner);
        let inner = self.request_id.layer(inner);
        // Outside the request-ID layer: the caller's trace context is current when that layer
        // opens the `request` span, which so becomes the caller's span's child.
        #[cfg(feature = "otel")]
        let inner = self.trace_context.layer(inner);
        inner
    }
}

/// Answers a panic with an `INTERNAL_ERROR` envelope and logs the panic message at ERROR
/// (target [`PANIC_TARGET`]), unless the panic hook of [`install_panic_hook`] (installed by
/// [`Telemetry::init`]) has already reported it: one panic, one report.
///
/// [`install_panic_hook`]: crate::install_panic_hook
/// [`Telemetry::init`]: crate::Telemetry::init
///
/// The envelope carries the current request ID; the panic message stays in the log, where the
/// redacting writer removes any secret in it.
#[derive(Clone, Copy, Debug, Default)]
pub struct PanicResponse {
    _private: (),
}

impl ResponseForPanic for PanicResponse {
    type ResponseBody = Full<Bytes>;

    fn response_for_panic(
        &mut self,
        panic: Box<dyn Any + Send + 'static>,
    ) -> Response<Full<Bytes>> {
        // The panic hook, when installed, has already reported this panic (with the request
        // ID, a location and a backtrace); a second event would count one panic twice.
        if !crate::panic::take_reported() {
            let message = panic
                .downcast_ref::<&'static str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or(crate::panic::NON_STRING_PAYLOAD);
            tracing::error!(target: PANIC_TARGET, panic = message, "request handler panicked");
        }
        let mut error = ApiError::new(codes::INTERNAL_ERROR);
        if let Some(id) = RequestId::current() {
            error = error.with_request_id(id.as_str().to_owned());
        }
        error.to_response().map(Full::new)
    }
}
