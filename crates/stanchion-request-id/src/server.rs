//! The server layer: accept or generate the ID, open the span, scope the task-local, echo.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower_layer::Layer;
use tower_service::Service;
use tracing::{Instrument as _, instrument::Instrumented};

use crate::{
    IdFormat, InvalidReason, RequestId, X_REQUEST_ID,
    id::{self, DEFAULT_MAX_LEN, MAX_MAX_LEN, MIN_MAX_LEN, check_floor, check_valid, sanitize},
    traceparent,
};

/// The `traceparent` header of W3C Trace Context.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Whether this listener believes the ID its callers send. Pick per listener, not per service:
/// the same binary may have a public listener and an internal one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrustPolicy {
    /// Accept an inbound ID that passes the validity rule; replace anything else. The default:
    /// callers keep their correlation, and nothing unsafe gets in.
    #[default]
    AcceptIfValid,
    /// Generate an ID for every request (a public edge): an inbound value, valid or not, is only
    /// kept as the sanitized `client_request_id` span field, so a client cannot choose or reuse
    /// the server's ID.
    AlwaysGenerate,
    /// Accept the inbound ID even when it fails the validity rule's charset, as long as it
    /// passes the safety floor: 1..=max_len bytes of visible ASCII (`!` to `~`). Whitespace,
    /// control bytes, non-ASCII bytes and over-long values are still replaced; quotes, `<`,
    /// `$`, `{` and `%` are not, and reach headers, envelopes and logs.
    ///
    /// SECURITY: use only on a listener whose every caller is authenticated (mutual TLS, a
    /// signed header checked in front of this layer). Being an internal hop, or reachable
    /// only from a private network, is not authentication: internal services use
    /// [`AcceptIfValid`](Self::AcceptIfValid), which every ID this crate generates passes.
    AlwaysAccept,
}

/// Why a configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// [`RequestIdLayer::with_max_len`] got a limit outside [`MIN_MAX_LEN`]`..=`[`MAX_MAX_LEN`].
    MaxLenOutOfRange,
}

/// A refused configuration, with the reason in its `Display`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    value: usize,
}

impl ConfigError {
    /// What was wrong.
    #[must_use]
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ConfigErrorKind::MaxLenOutOfRange => write!(
                f,
                "request ID max_len {} is out of range: it must be at least {MIN_MAX_LEN} (a \
                 hyphenated UUID, so a hop with the same configuration accepts the IDs this one \
                 generates) and at most {MAX_MAX_LEN} (every log line of a request carries the ID)",
                self.value
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Clone, Debug)]
struct Config {
    header_name: HeaderName,
    policy: TrustPolicy,
    format: IdFormat,
    max_len: usize,
    traceparent: bool,
}

/// Where the final ID came from, as written in the `source` field of the DEBUG event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// The inbound header, accepted.
    Accepted,
    /// No inbound header: generated.
    Generated,
    /// An inbound header that was invalid or untrusted: generated, client value kept sanitized.
    Replaced,
    /// No inbound header, but a valid W3C `traceparent`: its trace-id.
    Traceparent,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Generated => "generated",
            Self::Replaced => "replaced",
            Self::Traceparent => "traceparent",
        }
    }
}

/// A rejected inbound value, reduced to what may be logged.
struct Rejected {
    sanitized: String,
    len: usize,
    /// `None` when the value was not checked because the policy trusts no inbound ID.
    reason: Option<InvalidReason>,
}

struct Decision {
    id: RequestId,
    source: Source,
    rejected: Option<Rejected>,
}

impl Config {
    fn decide(&self, headers: &HeaderMap) -> Decision {
        let mut values = headers.get_all(&self.header_name).iter();
        let Some(first) = values.next() else {
            return self.without_inbound(headers);
        };
        let repeated = values.next().is_some();
        let checked = match self.policy {
            TrustPolicy::AlwaysGenerate => None,
            _ if repeated => Some(Err(InvalidReason::Repeated)),
            TrustPolicy::AcceptIfValid => {
                Some(check_valid(first.as_bytes(), self.max_len).map_err(|e| e.reason()))
            }
            TrustPolicy::AlwaysAccept => {
                Some(check_floor(first.as_bytes(), self.max_len).map_err(|e| e.reason()))
            }
        };
        if let Some(Ok(())) = checked {
            return Decision {
                id: RequestId::from_checked(first.clone()),
                source: Source::Accepted,
                rejected: None,
            };
        }
        Decision {
            id: RequestId::generate(self.format),
            source: Source::Replaced,
            rejected: Some(Rejected {
                sanitized: sanitize(first.as_bytes()),
                len: first.len(),
                reason: checked.and_then(Result::err),
            }),
        }
    }

    fn without_inbound(&self, headers: &HeaderMap) -> Decision {
        // SECURITY: an edge that trusts no inbound ID trusts no inbound trace-id either.
        if self.traceparent && self.policy != TrustPolicy::AlwaysGenerate {
            let mut values = headers.get_all(TRACEPARENT).iter();
            // A repeated `traceparent` is invalid as a whole (W3C: one header).
            if let (Some(value), None) = (values.next(), values.next())
                && let Some(trace_id) = traceparent::trace_id(value.as_bytes())
            {
                let value = HeaderValue::from_bytes(trace_id)
                    .expect("a validated trace-id is lowercase hex");
                return Decision {
                    id: RequestId::from_checked(value),
                    source: Source::Traceparent,
                    rejected: None,
                };
            }
        }
        Decision {
            id: RequestId::generate(self.format),
            source: Source::Generated,
            rejected: None,
        }
    }
}

/// Server-side layer: one ID per request, validated or generated, in the request's extensions,
/// header and span, in [`RequestId::current`], and echoed on every response.
///
/// See the crate docs for the validity rule, the trust policies and the layer order.
#[derive(Clone, Debug)]
#[must_use]
pub struct RequestIdLayer {
    config: Config,
}

impl Default for RequestIdLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestIdLayer {
    /// `x-request-id`, [`TrustPolicy::AcceptIfValid`], UUID v4, limit [`DEFAULT_MAX_LEN`], no
    /// `traceparent` seeding.
    pub fn new() -> Self {
        Self {
            config: Config {
                header_name: X_REQUEST_ID,
                policy: TrustPolicy::AcceptIfValid,
                format: IdFormat::UuidV4,
                max_len: DEFAULT_MAX_LEN,
                traceparent: false,
            },
        }
    }

    /// Read and echo this header instead of `x-request-id`.
    pub fn with_header_name(mut self, header_name: HeaderName) -> Self {
        self.config.header_name = header_name;
        self
    }

    /// Whether inbound IDs are believed (see [`TrustPolicy`]).
    pub fn with_trust_policy(mut self, policy: TrustPolicy) -> Self {
        self.config.policy = policy;
        self
    }

    /// How new IDs are generated.
    pub fn with_format(mut self, format: IdFormat) -> Self {
        self.config.format = format;
        self
    }

    /// The length limit of the validity rule (and of the trusted safety floor), in bytes.
    ///
    /// # Errors
    ///
    /// When `max_len` is below [`MIN_MAX_LEN`] or above [`MAX_MAX_LEN`]; the error says why.
    pub fn with_max_len(mut self, max_len: usize) -> Result<Self, ConfigError> {
        if !(MIN_MAX_LEN..=MAX_MAX_LEN).contains(&max_len) {
            return Err(ConfigError {
                kind: ConfigErrorKind::MaxLenOutOfRange,
                value: max_len,
            });
        }
        self.config.max_len = max_len;
        Ok(self)
    }

    /// When no ID header arrives, use the trace-id of a valid W3C `traceparent` (32 lowercase
    /// hex digits) as the ID, so request logs and traces share one key. Off by default; ignored
    /// under [`TrustPolicy::AlwaysGenerate`].
    pub fn with_traceparent_seed(mut self, enabled: bool) -> Self {
        self.config.traceparent = enabled;
        self
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service made by [`RequestIdLayer`].
#[derive(Clone, Debug)]
pub struct RequestIdService<S> {
    inner: S,
    config: Config,
}

impl<S> RequestIdService<S> {
    /// Wrap `inner` with the default configuration.
    pub fn new(inner: S) -> Self {
        RequestIdLayer::new().layer(inner)
    }

    /// The default layer, for `ServiceBuilder`.
    pub fn layer() -> RequestIdLayer {
        RequestIdLayer::new()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestIdService<S>
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
        let Decision {
            id,
            source,
            rejected,
        } = self.config.decide(request.headers());

        // Inner layers that read only headers see the final ID, never the rejected one; an
        // accepted single value is already there.
        if source != Source::Accepted {
            request
                .headers_mut()
                .insert(self.config.header_name.clone(), id.header_value().clone());
        }
        request.extensions_mut().insert(id.clone());

        // PERF: the span holds only what every log line needs; the JSON formatter pays for each
        // span field on every request. How the ID was chosen goes to one DEBUG event instead,
        // which costs a level check when DEBUG is off.
        let span = match &rejected {
            None => tracing::info_span!(
                target: "stanchion_request_id",
                "request",
                request_id = id.as_str(),
            ),
            Some(rejected) => tracing::info_span!(
                target: "stanchion_request_id",
                "request",
                request_id = id.as_str(),
                client_request_id = rejected.sanitized.as_str(),
                client_request_id_len = rejected.len,
            ),
        };
        // The inner `call` runs inside the span and the task-local too: layers such as
        // tower-http's `TraceLayer` build their span there, and handlers may run code before
        // their first `.await`.
        let future = {
            let _entered = span.enter();
            match &rejected {
                None => tracing::debug!(
                    target: "stanchion_request_id",
                    source = source.as_str(),
                    "request ID assigned"
                ),
                Some(rejected) => tracing::debug!(
                    target: "stanchion_request_id",
                    source = source.as_str(),
                    reason = rejected.reason.map_or("untrusted", InvalidReason::as_str),
                    "request ID assigned"
                ),
            }
            id::sync_scope(Some(id.clone()), || self.inner.call(request))
        };
        let value = id.header_value().clone();
        ResponseFuture {
            inner: id::scope_future(Some(id), future).instrument(span),
            header_name: self.config.header_name.clone(),
            value,
        }
    }
}

pin_project! {
    /// The response future of [`RequestIdService`]: polls the inner future inside the request
    /// span and the task-local scope, then sets the ID header on the response.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<TaskLocalFuture<Option<RequestId>, F>>,
        header_name: HeaderName,
        value: HeaderValue,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("header_name", &self.header_name)
            .field("value", &self.value)
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
        let mut response = ready!(this.inner.poll(cx))?;
        // Overwrite, never append: the response names exactly one ID, the one in the logs, even
        // when an inner proxy copied the next hop's header onto it.
        response
            .headers_mut()
            .insert(this.header_name.clone(), this.value.clone());
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_len_outside_the_range_is_refused_with_a_reason() {
        for bad in [0, MIN_MAX_LEN - 1, MAX_MAX_LEN + 1] {
            let error = RequestIdLayer::new()
                .with_max_len(bad)
                .expect_err("out of range");
            assert_eq!(error.kind(), ConfigErrorKind::MaxLenOutOfRange);
            assert!(error.to_string().contains(&bad.to_string()));
        }
        assert!(RequestIdLayer::new().with_max_len(MIN_MAX_LEN).is_ok());
        assert!(RequestIdLayer::new().with_max_len(MAX_MAX_LEN).is_ok());
    }

    #[test]
    fn repeated_header_is_replaced_even_when_each_value_is_valid() {
        let mut headers = HeaderMap::new();
        headers.append(X_REQUEST_ID, HeaderValue::from_static("one"));
        headers.append(X_REQUEST_ID, HeaderValue::from_static("two"));
        let decision = RequestIdLayer::new().config.decide(&headers);
        assert_eq!(decision.source, Source::Replaced);
        let rejected = decision.rejected.expect("kept");
        assert_eq!(rejected.reason, Some(InvalidReason::Repeated));
        assert_eq!(rejected.sanitized, "one");
    }
}
