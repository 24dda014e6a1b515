//! The access log: one event and one set of metric samples per request.

use std::{
    cell::RefCell,
    collections::HashMap,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, ready},
    time::Instant,
};

use http::{Extensions, Method, Request, Response, StatusCode};
use metrics::Label;
use pin_project_lite::pin_project;
use stanchion_errors::RenderedError;
use tower_layer::Layer;
use tower_service::Service;

use crate::metrics::{
    ERROR_CODE_LABEL, ERROR_TYPE_LABEL, HTTP_REQUEST_DURATION_SECONDS, METHOD_LABEL, ROUTE_LABEL,
    STATUS_CODE_LABEL, method_label,
};

/// The tracing target of the access log event.
pub const ACCESS_TARGET: &str = "stanchion::access";

/// The `route` value of a request no route matched (never the raw path: it is unbounded and
/// attacker-chosen).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Wraps a service in an [`AccessLog`].
///
/// Place it inside the request-ID layer (so its event carries `requestId`) and outside the
/// guard (so it sees the final status and the code of the envelope). [`crate::Stack`] does.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct AccessLogLayer {
    quiet_routes: QuietRoutes,
}

/// The routes of probes and scrapes, for [`AccessLogLayer::with_quiet_routes`]: the paths
/// [`Health::routes`](crate::Health) and `Metrics::route` serve.
pub const PROBE_ROUTES: [&str; 4] = ["/livez", "/readyz", "/health", "/metrics"];

/// Route templates whose successful requests are logged at DEBUG.
#[derive(Clone, Debug, Default)]
struct QuietRoutes(Arc<[Box<str>]>);

impl QuietRoutes {
    fn contains(&self, route: &Route) -> bool {
        !self.0.is_empty() && self.0.iter().any(|quiet| **quiet == *route.as_str())
    }
}

impl AccessLogLayer {
    /// The access log layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Logs the requests to these route templates at DEBUG instead of INFO while they
    /// succeed (status below 400): a probe every few seconds per replica, or a scrape, would
    /// otherwise be most of the access log. A failing one (a 503 from `/readyz`) keeps its
    /// level, and every request is still counted in the metrics. Use [`PROBE_ROUTES`] for
    /// the health and metrics routes. Replaces the routes given before.
    pub fn with_quiet_routes<I>(mut self, routes: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.quiet_routes = QuietRoutes(
            routes
                .into_iter()
                .map(|route| Box::from(route.as_ref()))
                .collect(),
        );
        self
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog {
            inner,
            quiet_routes: self.quiet_routes.clone(),
        }
    }
}

/// The access log service; see [`AccessLogLayer`].
#[derive(Clone, Debug)]
pub struct AccessLog<S> {
    inner: S,
    quiet_routes: QuietRoutes,
}

impl<S> AccessLog<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        AccessLogLayer::new().layer(inner)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// The slot an authentication extractor fills through [`set_user_id`]; shared between the
/// request's extensions and the access log's future.
#[derive(Clone, Default)]
struct UserIdSlot(Arc<Mutex<Option<Box<str>>>>);

impl UserIdSlot {
    fn take(&self) -> Option<Box<str>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Records the authenticated user of the current request, so its access log event carries
/// `userId`.
///
/// An authentication extractor (or middleware) calls it with the request's extensions once it
/// has verified the caller. Without an [`AccessLogLayer`] outside, it does nothing. The last
/// call wins.
///
/// SECURITY: the value is logged as given; pass a stable, non-secret identifier (the token's
/// `sub`), never the token.
pub fn set_user_id(extensions: &Extensions, user_id: impl Into<String>) {
    if let Some(slot) = extensions.get::<UserIdSlot>() {
        *slot.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(user_id.into().into());
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AccessLog<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // PERF: one allocation per request for the user slot; the method and the route are
        // reference-counted or static.
        let user = UserIdSlot::default();
        request.extensions_mut().insert(user.clone());
        let route = matched_route(&request);
        let facts = Facts {
            start: Instant::now(),
            method: request.method().clone(),
            quiet: self.quiet_routes.contains(&route),
            route,
            user,
        };
        ResponseFuture {
            inner: self.inner.call(request),
            facts: Some(facts),
        }
    }
}

/// The route template the router matched, shared (an `Arc<str>` inside axum), or none.
#[derive(Clone)]
enum Route {
    Unmatched,
    #[cfg(feature = "axum")]
    Matched(axum::extract::MatchedPath),
}

impl Route {
    fn as_str(&self) -> &str {
        match self {
            Self::Unmatched => UNMATCHED_ROUTE,
            #[cfg(feature = "axum")]
            Self::Matched(path) => path.as_str(),
        }
    }
}

fn matched_route<B>(request: &Request<B>) -> Route {
    #[cfg(feature = "axum")]
    if let Some(path) = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned()
    {
        return Route::Matched(path);
    }
    let _ = request;
    Route::Unmatched
}

struct Facts {
    start: Instant,
    method: Method,
    route: Route,
    /// A quiet route: DEBUG while it succeeds.
    quiet: bool,
    user: UserIdSlot,
}

pin_project! {
    /// The response future of [`AccessLog`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        facts: Option<Facts>,
    }
}

impl<F: fmt::Debug> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(facts) = this.facts.take() {
            match &result {
                Ok(response) => record(&facts, response),
                // An `Err` has no status; axum's services are infallible, so this is a
                // non-axum stack whose server will drop the connection.
                Err(_) => record_failure(&facts),
            }
        }
        Poll::Ready(result)
    }
}

/// The access event's message.
///
/// PERF: given as the `message` field's `&str` value, first as the macros' trailing literal
/// would be, rather than as that literal (a `format_args!` value): the same field, name and
/// text for every subscriber, but a formatter records it with `record_str` instead of
/// formatting it through `Debug` into a temporary `String` (~600 instructions per request,
/// measured with `benches/benches/instructions.rs`).
const MESSAGE: &str = "request completed";

fn record<B>(facts: &Facts, response: &Response<B>) {
    let elapsed = facts.start.elapsed();
    let latency_ms = millis(elapsed);
    let status = response.status();
    let rendered = response.extensions().get::<RenderedError>();
    let error_code = (!status.is_success())
        .then(|| rendered.map(|r| r.code().name()))
        .flatten();
    let cause = rendered
        .and_then(RenderedError::cause)
        .map(|cause| tracing::field::display(ErrorChain(cause)));
    let user_id = facts.user.take();
    let route = facts.route.as_str();
    let method = facts.method.as_str();
    if status.is_server_error() {
        tracing::warn!(
            target: ACCESS_TARGET,
            message = MESSAGE,
            method,
            route,
            status = status.as_u16(),
            latencyMs = latency_ms,
            errorCode = error_code,
            errorCause = cause,
            userId = user_id.as_deref(),
        );
    } else if facts.quiet && status.as_u16() < 400 {
        tracing::debug!(
            target: ACCESS_TARGET,
            method,
            route,
            status = status.as_u16(),
            latencyMs = latency_ms,
            userId = user_id.as_deref(),
            "request completed"
        );
    } else {
        tracing::info!(
            target: ACCESS_TARGET,
            message = MESSAGE,
            method,
            route,
            status = status.as_u16(),
            latencyMs = latency_ms,
            errorCode = error_code,
            errorCause = cause,
            userId = user_id.as_deref(),
        );
    }

    record_duration(
        route,
        &facts.method,
        status,
        error_code,
        elapsed.as_secs_f64(),
    );
}

/// A histogram handle registered with one of [`crate::Metrics`]' recorders.
struct CachedHistogram {
    recorder: usize,
    method: &'static str,
    status: StatusCode,
    error_code: Option<&'static str>,
    histogram: metrics::Histogram,
}

thread_local! {
    /// This thread's request histograms, by route, then recorder, method, status and code.
    /// Bounded like the labels themselves: route templates, standard methods, statuses and
    /// taxonomy codes.
    static HISTOGRAMS: RefCell<HashMap<Box<str>, Vec<CachedHistogram>>> =
        RefCell::new(HashMap::new());
}

/// Records one request duration in [`HTTP_REQUEST_DURATION_SECONDS`].
///
/// PERF: `metrics::histogram!` with these labels allocates the label vector, the route and
/// status strings, hashes the key, looks it up in the recorder's registry under a lock and
/// clones the key again there, on every request (~3,000 instructions, measured with
/// `benches/benches/instructions.rs`). The handle it returns is the same every time for the
/// same labels and recorder, so it is kept per thread, keyed by the recorder's identity.
/// Only [`crate::Metrics`]' recorders are cached (they are leaked: their identity is never
/// reused, so a handle can never record into the wrong recorder, including the per-thread
/// recorders of `Metrics::for_current_thread`); any other recorder takes the macro's path.
/// The recorder never drops a registered histogram (no idle timeout is configured), so a
/// cached handle stays the one it renders.
fn record_duration(
    route: &str,
    method: &Method,
    status: StatusCode,
    error_code: Option<&'static str>,
    seconds: f64,
) {
    let Some(recorder) = crate::metrics::cacheable_recorder() else {
        return register_duration(route, method, status, error_code).record(seconds);
    };
    let label = method_label(method);
    HISTOGRAMS.with(|cache| {
        let found = cache.borrow().get(route).and_then(|entries| {
            entries
                .iter()
                .find(|entry| {
                    entry.recorder == recorder
                        && entry.method == label
                        && entry.status == status
                        && entry.error_code == error_code
                })
                .map(|entry| entry.histogram.record(seconds))
        });
        if found.is_none() {
            let histogram = register_duration(route, method, status, error_code);
            histogram.record(seconds);
            cache
                .borrow_mut()
                .entry(route.into())
                .or_default()
                .push(CachedHistogram {
                    recorder,
                    method: label,
                    status,
                    error_code,
                    histogram,
                });
        }
    });
}

fn register_duration(
    route: &str,
    method: &Method,
    status: StatusCode,
    error_code: Option<&'static str>,
) -> metrics::Histogram {
    let mut labels = request_labels(route, method);
    labels.push(Label::new(STATUS_CODE_LABEL, status.as_str().to_owned()));
    if let Some(code) = error_code {
        labels.push(Label::new(ERROR_CODE_LABEL, code));
    }
    metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, labels)
}

fn record_failure(facts: &Facts) {
    let elapsed = facts.start.elapsed();
    let route = facts.route.as_str();
    tracing::warn!(
        target: ACCESS_TARGET,
        method = facts.method.as_str(),
        route,
        latencyMs = millis(elapsed),
        userId = facts.user.take().as_deref(),
        "request failed without a response"
    );
    let mut labels = request_labels(route, &facts.method);
    // No status to report: OpenTelemetry's `error.type`, with its catch-all value.
    labels.push(Label::new(ERROR_TYPE_LABEL, "_OTHER"));
    metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, labels).record(elapsed.as_secs_f64());
}

/// The bounded labels of the request metrics.
///
/// PERF: the method and error code are `&'static str` labels (no allocation); the route and
/// the status code are owned copies.
fn request_labels(route: &str, method: &Method) -> Vec<Label> {
    let mut labels = Vec::with_capacity(4);
    labels.push(Label::new(METHOD_LABEL, method_label(method)));
    labels.push(Label::new(ROUTE_LABEL, route.to_owned()));
    labels
}

/// Milliseconds with microsecond resolution: `0.244`, not `0.24444400000000002`.
fn millis(elapsed: std::time::Duration) -> f64 {
    // A u128 of microseconds fits an f64 exactly for any latency under 285 years.
    elapsed.as_micros() as f64 / 1000.0
}

/// Displays an error and its sources, `outer: inner: innermost`.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

/// The longest cause written into an access line: a cause can quote the caller's input (serde's
/// text does), and a log line is no place for a megabyte of it.
const MAX_CAUSE_LEN: usize = 1024;

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Many errors print their source in their own message (axum's rejections do), so a
        // source whose text is already written is skipped instead of repeated.
        let mut text = self.0.to_string();
        let mut source = self.0.source();
        while let Some(error) = source {
            let next = error.to_string();
            if !text.contains(&next) {
                text.push_str(": ");
                text.push_str(&next);
            }
            source = error.source();
        }
        if text.len() > MAX_CAUSE_LEN {
            let mut end = MAX_CAUSE_LEN;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod error_chain_tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "outer: {}", self.0)
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_source_already_in_the_message_is_not_repeated() {
        let error = Outer(std::io::Error::other("inner text"));
        assert_eq!(ErrorChain(&error).to_string(), "outer: inner text");
    }

    #[test]
    fn a_long_cause_is_capped_on_a_char_boundary() {
        let error = std::io::Error::other("é".repeat(MAX_CAUSE_LEN));
        let text = ErrorChain(&error).to_string();
        assert!(text.len() <= MAX_CAUSE_LEN + "…".len(), "{}", text.len());
        assert!(text.ends_with('…'));
    }
}
