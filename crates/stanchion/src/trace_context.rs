//! W3C trace context (feature `otel`): extracted at the edge, injected on outgoing calls.
//!
//! The two layers only move `traceparent`/`tracestate` between headers and the OpenTelemetry
//! [`Context`]; spans are made by the `tracing` bridge that [`Otel`](crate::Otel) installs. Both
//! are harmless without it: with no OpenTelemetry layer in the subscriber the inbound context
//! is passed on unchanged to the next hop, and no `traceId` is logged.

use std::task::{Context as TaskContext, Poll};

use http::{HeaderMap, HeaderName, Request};
use opentelemetry::{
    Context,
    context::{FutureExt as _, WithContext},
    propagation::TextMapPropagator as _,
    trace::TraceContextExt as _,
};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower_layer::Layer;
use tower_service::Service;

/// The `traceparent` header of W3C Trace Context.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The `tracestate` header of W3C Trace Context.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The OpenTelemetry context an inbound request carries: its `traceparent` (and `tracestate`)
/// as a remote parent, or `None` when the header is missing, repeated or invalid.
///
/// The propagator is the W3C one, named here rather than read from OpenTelemetry's global
/// propagator: two services in one process (the tests) must not depend on process-wide state.
#[must_use]
pub fn extract_trace_context(headers: &HeaderMap) -> Option<Context> {
    // W3C: a repeated `traceparent` is invalid as a whole (the propagator would read one).
    if headers.get_all(TRACEPARENT).iter().nth(1).is_some() {
        return None;
    }
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    context.span().span_context().is_valid().then_some(context)
}

/// Writes `traceparent` (and `tracestate`) for the current OpenTelemetry context into
/// `headers`, unless a `traceparent` is already there. Returns whether it wrote one. For
/// clients that are not tower services; [`PropagateTraceContextLayer`] does this per request.
pub fn inject_trace_context(headers: &mut HeaderMap) -> bool {
    if headers.contains_key(TRACEPARENT) {
        return false;
    }
    let context = Context::current();
    if !context.span().span_context().is_valid() {
        return false;
    }
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
    headers.contains_key(TRACEPARENT)
}

/// Server-side layer: makes the caller's W3C trace context the parent of the request.
///
/// Outermost in [`Stack`](crate::Stack), before the request-ID layer: it attaches the extracted
/// context while the inner `call` runs and while the response future is polled, so the
/// `request` span the request-ID layer opens (and every span below it) joins the caller's
/// trace as a child of the caller's span.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct TraceContextLayer {
    trust_inbound: bool,
}

impl Default for TraceContextLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceContextLayer {
    /// Honours an inbound `traceparent`.
    pub fn new() -> Self {
        Self {
            trust_inbound: true,
        }
    }

    /// Whether the inbound `traceparent` is honoured. A public edge whose callers may not
    /// choose the trace (as [`TrustPolicy::AlwaysGenerate`] for the request ID) passes `false`:
    /// every request then starts a new trace.
    ///
    /// [`TrustPolicy::AlwaysGenerate`]: crate::request_id::TrustPolicy::AlwaysGenerate
    pub fn with_trust_inbound(mut self, trust: bool) -> Self {
        self.trust_inbound = trust;
        self
    }

    /// Whether the inbound `traceparent` is honoured.
    #[must_use]
    pub fn trusts_inbound(&self) -> bool {
        self.trust_inbound
    }
}

impl<S> Layer<S> for TraceContextLayer {
    type Service = TraceContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContext {
            inner,
            trust_inbound: self.trust_inbound,
        }
    }
}

/// The service made by [`TraceContextLayer`].
#[derive(Clone, Debug)]
pub struct TraceContext<S> {
    inner: S,
    trust_inbound: bool,
}

impl<S, B> Service<Request<B>> for TraceContext<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = WithContext<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let context = self
            .trust_inbound
            .then(|| extract_trace_context(request.headers()))
            .flatten()
            // No (trusted) parent: a fresh root, not whatever context the server task had.
            .unwrap_or_default();
        // Spans opened in the inner `call` (the request span) take their parent from the
        // current OpenTelemetry context; the future carries the same context into every poll.
        let future = {
            let _attached = context.clone().attach();
            self.inner.call(request)
        };
        future.with_context(context)
    }
}

/// Client-side layer for outgoing `http::Request`s: writes `traceparent`/`tracestate` for the
/// current span, so the next service's spans join this trace. The trace-context counterpart of
/// [`PropagateRequestIdLayer`](crate::request_id::PropagateRequestIdLayer); stack both.
///
/// Never overwrites a `traceparent` the caller set; adds nothing outside a trace.
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct PropagateTraceContextLayer {
    _private: (),
}

impl PropagateTraceContextLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for PropagateTraceContextLayer {
    type Service = PropagateTraceContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateTraceContext { inner }
    }
}

/// The service made by [`PropagateTraceContextLayer`]. Its future is the inner service's own.
#[derive(Clone, Debug)]
pub struct PropagateTraceContext<S> {
    inner: S,
}

impl<S> PropagateTraceContext<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for PropagateTraceContext<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // Read at call time, in the caller's task, inside the caller's span (as the request ID
        // is): a client that drives its connection on another task has no span there.
        inject_trace_context(request.headers_mut());
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_valid_traceparent_is_a_remote_parent() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, VALID.parse().unwrap());
        headers.insert(TRACESTATE, "vendor=value".parse().unwrap());
        let context = extract_trace_context(&headers).unwrap();
        let span = context.span();
        let parent = span.span_context();
        assert_eq!(
            parent.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(parent.span_id().to_string(), "b7ad6b7169203331");
        assert!(parent.is_remote());
        assert_eq!(parent.trace_state().header(), "vendor=value");

        // Injected again under that context: the same trace, the same state.
        let _attached = context.clone().attach();
        let mut outgoing = HeaderMap::new();
        assert!(inject_trace_context(&mut outgoing));
        assert_eq!(outgoing[TRACEPARENT], VALID);
        assert_eq!(outgoing[TRACESTATE], "vendor=value");
    }

    #[test]
    fn invalid_or_repeated_headers_are_ignored() {
        for bad in [
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "not a traceparent",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(TRACEPARENT, bad.parse().unwrap());
            assert!(extract_trace_context(&headers).is_none(), "{bad}");
        }
        let mut headers = HeaderMap::new();
        headers.append(TRACEPARENT, VALID.parse().unwrap());
        headers.append(TRACEPARENT, VALID.parse().unwrap());
        assert!(extract_trace_context(&headers).is_none());
    }

    #[test]
    fn an_explicit_header_is_kept_and_nothing_is_added_outside_a_trace() {
        let mut headers = HeaderMap::new();
        assert!(!inject_trace_context(&mut headers));
        assert!(headers.is_empty());
        headers.insert(TRACEPARENT, "explicit".parse().unwrap());
        assert!(!inject_trace_context(&mut headers));
        assert_eq!(headers[TRACEPARENT], "explicit");
    }
}
