//! The guard layer: every 4xx/5xx leaves the service as an envelope, including the ones the
//! service did not write (router 404/405, extractor rejections, timeouts, panics, third-party
//! layers).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use stanchion_rollout::{Gate, RolloutMode, count_decision};

use crate::{ApiError, Format, RenderedError, request_id::InboundId};

/// The tracing target of the guard's events, so operators can filter them.
pub const GUARD_TARGET: &str = "stanchion_errors::guard";

/// The counter of error responses that were not envelopes, labelled by `mode` and `status`.
pub const VIOLATIONS_METRIC: &str = "stanchion_guard_violations_total";

/// The guard's rollout flag: the name its mode is read and counted under.
pub const GUARD_FLAG: &str = "GUARD_MODE";

/// Wraps a service in a [`Guard`].
///
/// Place it inside the request-ID layer (so it can read the validated ID) and outside
/// everything that can produce an error response: the panic catcher, the timeout, the body
/// limit, the router.
///
/// ```
/// use axum::{Router, routing::get};
/// use stanchion_errors::GuardLayer;
/// use tower::ServiceExt;
///
/// # tokio_test_block_on(async {
/// let app = Router::new().route("/", get(|| async { "hi" })).layer(GuardLayer::new());
/// let response = app
///     .oneshot(http::Request::get("/nope").body(axum::body::Body::empty()).unwrap())
///     .await
///     .unwrap();
/// assert_eq!(response.status(), 404);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
///
/// # Modes
///
/// The guard's mode is the rollout flag [`GUARD_FLAG`] (`GUARD_MODE`), read once per request
/// from its [`Gate`]: `enforced` (the default) rewrites every error response without an
/// envelope; `shadow` passes it through unchanged but logs it (INFO) and counts it; `off`
/// reads nothing from the request and touches nothing. Each error response it inspects is a
/// decision in `stanchion_rollout_decisions_total{flag="GUARD_MODE"}`: an envelope is
/// `allow` (`would_allow`), a body without one `deny` (`would_deny`); a violation also counts
/// in [`VIOLATIONS_METRIC`] by mode and status.
#[derive(Clone, Debug)]
#[must_use]
pub struct GuardLayer {
    gate: Gate,
    request_id_header: HeaderName,
}

impl GuardLayer {
    /// A guard in `enforced` mode that reads the request ID from `x-request-id`.
    pub fn new() -> Self {
        Self {
            gate: Gate::new(GUARD_FLAG, RolloutMode::Enforced),
            request_id_header: HeaderName::from_static("x-request-id"),
        }
    }

    /// Sets a fixed mode.
    pub fn with_mode(mut self, mode: RolloutMode) -> Self {
        self.gate = Gate::new(GUARD_FLAG, mode);
        self
    }

    /// Reads the mode from `gate` on every request (a live flag: the configuration service's
    /// `GUARD_MODE`), so the guard can be switched without a restart. The gate's flag name is
    /// the one decisions are counted under.
    pub fn with_gate(mut self, gate: Gate) -> Self {
        self.gate = gate;
        self
    }

    /// Sets the header the request ID is read from (it must match the request-ID layer's).
    pub fn with_request_id_header(mut self, header: HeaderName) -> Self {
        self.request_id_header = header;
        self
    }

    /// The mode in effect now.
    pub fn mode(&self) -> RolloutMode {
        self.gate.mode()
    }
}

impl Default for GuardLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            layer: self.clone(),
        }
    }
}

/// The guard service; see [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct Guard<S> {
    inner: S,
    layer: GuardLayer,
}

impl<S> Guard<S> {
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Guard<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<GuardBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // PERF: in `off` mode nothing is read from the request; otherwise only two headers.
        let mode = self.layer.gate.mode();
        let state = (mode != RolloutMode::Off).then(|| RequestFacts {
            flag: self.layer.gate.flag(),
            mode,
            accept: request.headers().get(header::ACCEPT).cloned(),
            inbound_id: InboundId::capture(&request, &self.layer.request_id_header),
        });
        ResponseFuture {
            inner: self.inner.call(request),
            state,
        }
    }
}

/// What the guard keeps of the request; resolved into [`ErrorFacts`] on the error path only.
struct RequestFacts {
    flag: &'static str,
    mode: RolloutMode,
    accept: Option<HeaderValue>,
    inbound_id: InboundId,
}

struct ErrorFacts {
    flag: &'static str,
    mode: RolloutMode,
    format: Format,
    request_id: Option<String>,
}

impl RequestFacts {
    fn resolve(self) -> ErrorFacts {
        ErrorFacts {
            flag: self.flag,
            mode: self.mode,
            format: Format::from_accept(self.accept.iter()),
            request_id: self.inbound_id.resolve(),
        }
    }
}

pin_project! {
    /// The response future of [`Guard`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        state: Option<RequestFacts>,
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
    B: Body<Data = Bytes>,
{
    type Output = Result<Response<GuardBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let passthrough = |response: Response<B>| response.map(GuardBody::inner);
        let Some(facts) = this.state.take() else {
            return Poll::Ready(Ok(passthrough(response)));
        };
        let status = response.status();
        // SECURITY: only 4xx and 5xx are errors. 1xx and 3xx are not, and a 304 must not
        // carry a body at all, so they pass untouched like every 2xx (whose body is never
        // buffered or read).
        if !(status.is_client_error() || status.is_server_error()) {
            return Poll::Ready(Ok(passthrough(response)));
        }
        let facts = facts.resolve();
        if let Some(rendered) = response.extensions().get::<RenderedError>().cloned() {
            count_decision(facts.flag, facts.mode, false);
            return Poll::Ready(Ok(rerender_if_needed(response, &rendered, &facts)));
        }
        count_decision(facts.flag, facts.mode, true);
        record_violation(&facts, &response);
        if facts.mode == RolloutMode::Shadow {
            return Poll::Ready(Ok(passthrough(response)));
        }
        Poll::Ready(Ok(envelope_for(response, facts)))
    }
}

/// An envelope the service rendered itself passes through, unless the client asked for
/// problem details, the envelope lacks the request ID the guard knows, or a layer changed
/// the status after rendering.
fn rerender_if_needed<B>(
    response: Response<B>,
    rendered: &RenderedError,
    facts: &ErrorFacts,
) -> Response<GuardBody<B>> {
    let error = rendered.error();
    let missing_id = error.request_id().is_none() && facts.request_id.is_some();
    let status_drift = error.status() != response.status();
    if facts.mode != RolloutMode::Enforced
        || !(facts.format == Format::Problem || missing_id || status_drift)
    {
        return response.map(GuardBody::inner);
    }
    let mut error = error.clone();
    if missing_id {
        error = error.with_request_id(facts.request_id.clone().unwrap_or_default());
    }
    let (parts, _) = response.into_parts();
    build(parts, error, facts.format)
}

fn envelope_for<B>(response: Response<B>, facts: ErrorFacts) -> Response<GuardBody<B>> {
    let (parts, _dropped_body) = response.into_parts();
    // PERF: `ApiError::new` would read the task-local ID (an allocation) only for it to be
    // replaced; `facts.request_id` already is that ID when there is one (`resolve` tried the
    // extension, then the task-local, then the header), so it is moved in, not copied.
    let mut error =
        ApiError::with_resolved_id(ApiError::code_for_status(parts.status), facts.request_id);
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        error = error.with_allow(allow.clone());
    }
    if let Some(challenge) = parts.headers.get(header::WWW_AUTHENTICATE)
        && error.status() == StatusCode::UNAUTHORIZED
    {
        error = error.with_challenge(challenge.clone());
    }
    if let Some(secs) = parts
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        error = error.with_retry_after(std::time::Duration::from_secs(secs));
    }
    build(parts, error, facts.format)
}

/// Replaces the body of `parts` with `error`'s, keeping every header that does not describe the
/// old body (CORS, caching, cookies, the request ID ...).
fn build<B>(
    mut parts: http::response::Parts,
    error: ApiError,
    format: Format,
) -> Response<GuardBody<B>> {
    strip_body_headers(&mut parts.headers);
    let body = error.body(format);
    error.write_headers(&mut parts.headers, format);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    parts.status = error.status();
    parts
        .extensions
        .insert(RenderedError(std::sync::Arc::new(error)));
    Response::from_parts(parts, GuardBody::envelope(body))
}

/// The headers that describe a body, removed with the body they described.
static BODY_HEADERS: [HeaderName; 9] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_RANGE,
    header::CONTENT_DISPOSITION,
    header::TRANSFER_ENCODING,
    header::ETAG,
    header::LAST_MODIFIED,
];

fn strip_body_headers(headers: &mut HeaderMap) {
    // PERF: an error response has a handful of headers (often none); walking them is cheaper
    // than hashing nine names to remove ones that are mostly absent.
    if !headers.keys().any(|name| BODY_HEADERS.contains(name)) {
        return;
    }
    for name in &BODY_HEADERS {
        headers.remove(name);
    }
}

fn record_violation<B>(facts: &ErrorFacts, response: &Response<B>) {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("none");
    match facts.mode {
        RolloutMode::Shadow => tracing::info!(
            target: GUARD_TARGET,
            status = status.as_u16(),
            content_type,
            mode = "shadow",
            "error response without an envelope (passed through in shadow mode)"
        ),
        _ => tracing::debug!(
            target: GUARD_TARGET,
            status = status.as_u16(),
            content_type,
            mode = "enforced",
            "error response without an envelope rewritten"
        ),
    }
    // PERF: a static key for the statuses the guard meets (no label allocated, no key hashed or
    // copied per error response); any other status takes the macro's path. Same counter, same
    // labels either way.
    match violation_key(facts.mode, status) {
        Some(key) => {
            metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA))
                .increment(1);
        }
        None => metrics::counter!(
            VIOLATIONS_METRIC,
            "mode" => facts.mode.as_str(),
            "status" => status.as_str().to_owned()
        )
        .increment(1),
    }
}

/// What `metrics::counter!` passes for a counter of this module.
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

macro_rules! violation_keys {
    ($($status:literal),+ $(,)?) => {
        /// The `'static` key of [`VIOLATIONS_METRIC`] for `mode` (`shadow` or `enforced`; the
        /// guard counts nothing in `off`) and a common error status.
        fn violation_key(mode: RolloutMode, status: StatusCode) -> Option<&'static metrics::Key> {
            let shadow = match mode {
                RolloutMode::Shadow => true,
                RolloutMode::Enforced => false,
                RolloutMode::Off => return None,
            };
            match status.as_str() {
                $($status => {
                    static SHADOW: [metrics::Label; 2] = [
                        metrics::Label::from_static_parts("mode", "shadow"),
                        metrics::Label::from_static_parts("status", $status),
                    ];
                    static ENFORCED: [metrics::Label; 2] = [
                        metrics::Label::from_static_parts("mode", "enforced"),
                        metrics::Label::from_static_parts("status", $status),
                    ];
                    static KEYS: [metrics::Key; 2] = [
                        metrics::Key::from_static_parts(VIOLATIONS_METRIC, &SHADOW),
                        metrics::Key::from_static_parts(VIOLATIONS_METRIC, &ENFORCED),
                    ];
                    Some(&KEYS[usize::from(!shadow)])
                })+
                _ => None,
            }
        }
    };
}

violation_keys!(
    "400", "401", "403", "404", "405", "406", "408", "409", "410", "411", "412", "413", "414",
    "415", "416", "421", "422", "423", "424", "425", "426", "428", "429", "431", "451", "500",
    "501", "502", "503", "504", "505", "506", "507", "508", "510", "511",
);

pin_project! {
    /// The body of a guarded response: the inner body untouched, or an envelope.
    pub struct GuardBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Envelope { bytes: Option<Bytes> },
    }
}

impl<B> GuardBody<B> {
    fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    fn envelope(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Envelope { bytes: Some(bytes) },
        }
    }
}

impl<B> fmt::Debug for GuardBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("GuardBody::Inner"),
            Kind::Envelope { .. } => f.write_str("GuardBody::Envelope"),
        }
    }
}

impl<B: Body<Data = Bytes>> Body for GuardBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Envelope { bytes } => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Envelope { bytes } => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Envelope { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}
