//! Request-head limits enforced inside the stack, so an oversize head gets the envelope.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::{Request, Response, StatusCode, Version, header};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The default largest number of header fields in a request (hyper's own default ceiling).
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// The default largest total size of a request's header fields (names, values and the four
/// bytes of `": "` and CRLF per field), 16 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

/// The default longest request target (the URI as sent), 8 KiB.
pub const DEFAULT_MAX_URI_BYTES: usize = 8 * 1024;

/// Limits on a request's head, checked before the handler runs.
///
/// A request over a limit is answered with a bare status that the guard turns into an
/// envelope: too many or too large header fields → 431 `HEADERS_TOO_LARGE`, a URI over the
/// limit → 414 `URI_TOO_LONG`. A request read off a connection by `Server` (feature `server`)
/// with a `Host` problem → 400 `BAD_REQUEST` (RFC 9112 §3.2): no `Host` on HTTP/1.1 (HTTP/1.0
/// may omit it), more than one `Host` field, or a `Host` value that is not `host[:port]`.
/// Requests built in-process (tests calling a router directly) carry no connection and are not
/// held to the `Host` rule.
///
/// `Server` (feature `server`) sets hyper's own ceilings above these, so that a head over these
/// limits but within hyper's reaches the stack; give both the same `RequestLimits`.
///
/// ```
/// use stanchion::RequestLimits;
///
/// let limits = RequestLimits::new().with_max_headers(50)?.with_max_uri_bytes(4096)?;
/// assert_eq!(limits.max_headers(), 50);
/// assert!(RequestLimits::new().with_max_header_bytes(0).is_err());
/// # Ok::<(), stanchion::LimitsError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct RequestLimits {
    max_headers: usize,
    max_header_bytes: usize,
    max_uri_bytes: usize,
}

/// A request limit that cannot work, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{setting} = {value}: {reason}")]
pub struct LimitsError {
    setting: &'static str,
    value: usize,
    reason: &'static str,
}

impl RequestLimits {
    /// [`DEFAULT_MAX_HEADERS`], [`DEFAULT_MAX_HEADER_BYTES`], [`DEFAULT_MAX_URI_BYTES`].
    pub const fn new() -> Self {
        Self {
            max_headers: DEFAULT_MAX_HEADERS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
        }
    }

    /// Sets the largest number of header fields (1 to 10 000).
    ///
    /// # Errors
    ///
    /// Zero (every request has `Host`) or over 10 000 (hyper keeps one slot per allowed field
    /// for every request it parses).
    pub fn with_max_headers(mut self, max: usize) -> Result<Self, LimitsError> {
        check("max_headers", max, 1, 10_000)?;
        self.max_headers = max;
        Ok(self)
    }

    /// Sets the largest total size of the header fields, in bytes (1 KiB to 1 MiB).
    ///
    /// # Errors
    ///
    /// Under 1 KiB (common requests would fail) or over 1 MiB (the head is buffered whole).
    pub fn with_max_header_bytes(mut self, max: usize) -> Result<Self, LimitsError> {
        check("max_header_bytes", max, 1024, 1024 * 1024)?;
        self.max_header_bytes = max;
        Ok(self)
    }

    /// Sets the longest request target, in bytes (256 to 32 KiB).
    ///
    /// # Errors
    ///
    /// Under 256 or over 32 KiB: hyper answers URIs over 64 KiB alone, so a larger limit
    /// could not be ours to enforce.
    pub fn with_max_uri_bytes(mut self, max: usize) -> Result<Self, LimitsError> {
        check("max_uri_bytes", max, 256, 32 * 1024)?;
        self.max_uri_bytes = max;
        Ok(self)
    }

    /// The largest number of header fields.
    pub fn max_headers(&self) -> usize {
        self.max_headers
    }

    /// The largest total size of the header fields, in bytes.
    pub fn max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// The longest request target, in bytes.
    pub fn max_uri_bytes(&self) -> usize {
        self.max_uri_bytes
    }

    /// Which status, if any, `request` is answered with instead of reaching the handler.
    fn violation<B>(&self, request: &Request<B>) -> Option<StatusCode> {
        if uri_len(request.uri()) > self.max_uri_bytes {
            return Some(StatusCode::URI_TOO_LONG);
        }
        let headers = request.headers();
        if headers.len() > self.max_headers {
            return Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        }
        let mut bytes = 0usize;
        for (name, value) in headers {
            bytes += name.as_str().len() + value.len() + 4;
            if bytes > self.max_header_bytes {
                return Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
            }
        }
        let from_a_connection = request
            .extensions()
            .get::<crate::limits::FromConnection>()
            .is_some();
        if from_a_connection {
            // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, and for any request with
            // more than one Host field or an invalid one. Two Hosts let a proxy and this
            // service disagree on which host was asked for (a routing or cache-poisoning
            // lever), so no value is picked.
            let mut hosts = headers.get_all(header::HOST).iter();
            let bad = match (hosts.next(), hosts.next()) {
                (None, _) => request.version() == Version::HTTP_11,
                (Some(_), Some(_)) => true,
                (Some(host), None) => !valid_host(host.as_bytes()),
            };
            if bad {
                return Some(StatusCode::BAD_REQUEST);
            }
        }
        None
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self::new()
    }
}

fn check(setting: &'static str, value: usize, min: usize, max: usize) -> Result<(), LimitsError> {
    let reason = if value < min {
        match setting {
            "max_headers" => "must be at least 1 (every request has Host)",
            "max_header_bytes" => "must be at least 1024, or ordinary requests fail",
            _ => "must be at least 256, or ordinary requests fail",
        }
    } else if value > max {
        match setting {
            "max_headers" => "must be at most 10000 (hyper reserves a slot per allowed field)",
            "max_header_bytes" => "must be at most 1048576 (the head is buffered whole)",
            _ => "must be at most 32768 (hyper answers longer URIs alone)",
        }
    } else {
        return Ok(());
    };
    Err(LimitsError {
        setting,
        value,
        reason,
    })
}

/// Whether `value` is a valid `Host` field value (RFC 9110 §7.2: `uri-host [ ":" port ]`). An
/// empty value is valid: RFC 9112 §3.2 has a client send it when the target has no authority.
/// Userinfo (`user@host`) is not part of `Host`, and the port is digits only.
fn valid_host(value: &[u8]) -> bool {
    if value.is_empty() {
        return true;
    }
    if value.contains(&b'@') {
        return false;
    }
    // The authority grammar (reg-name, IPv4, bracketed IPv6 and the characters allowed in
    // each); it accepts any port text, so the port is checked below.
    let Ok(authority) = http::uri::Authority::try_from(value) else {
        return false;
    };
    match value.get(authority.host().len()..) {
        Some([]) => true,
        Some([b':', port @ ..]) => port.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// The request target's length as sent: scheme, authority, path and query.
fn uri_len(uri: &http::Uri) -> usize {
    let scheme = uri.scheme_str().map_or(0, |s| s.len() + 3);
    let authority = uri.authority().map_or(0, |a| a.as_str().len());
    let path = uri.path_and_query().map_or(0, |p| p.as_str().len());
    scheme + authority + path
}

/// Marks a request as read off a network connection (set by `Server`), so the
/// `Host` rule applies to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FromConnection;

/// Applies [`RequestLimits`] (part of [`Stack`](crate::Stack)).
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct RequestLimitsLayer {
    limits: RequestLimits,
}

impl RequestLimitsLayer {
    /// The layer enforcing `limits`.
    pub fn new(limits: RequestLimits) -> Self {
        Self { limits }
    }
}

impl<S> Layer<S> for RequestLimitsLayer {
    type Service = RequestLimitsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestLimitsService {
            inner,
            limits: self.limits,
        }
    }
}

/// The service of [`RequestLimitsLayer`].
#[derive(Clone, Copy, Debug)]
pub struct RequestLimitsService<S> {
    inner: S,
    limits: RequestLimits,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestLimitsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = LimitsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match self.limits.violation(&request) {
            Some(status) => {
                tracing::debug!(status = status.as_u16(), "request head over a limit");
                LimitsFuture::rejected(status)
            }
            None => LimitsFuture::inner(self.inner.call(request)),
        }
    }
}

pin_project! {
    /// The response future of [`RequestLimitsService`].
    pub struct LimitsFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        // The request is within the limits.
        Inner { #[pin] future: F },
        // The request is answered with a bare status (the guard renders the envelope).
        Rejected { status: Option<StatusCode> },
    }
}

impl<F> LimitsFuture<F> {
    fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    fn rejected(status: StatusCode) -> Self {
        Self {
            kind: Kind::Rejected {
                status: Some(status),
            },
        }
    }
}

impl<F> fmt::Debug for LimitsFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("LimitsFuture::Inner"),
            Kind::Rejected { status } => write!(f, "LimitsFuture::Rejected({status:?})"),
        }
    }
}

impl<F, B, E> Future for LimitsFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Rejected { status } => {
                let mut response = Response::new(B::default());
                *response.status_mut() = status.take().unwrap_or(StatusCode::BAD_REQUEST);
                Poll::Ready(Ok(response))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: usize, value_len: usize) -> Request<()> {
        let mut builder = Request::builder().uri(uri).header("host", "example.test");
        for i in 1..headers {
            builder = builder.header(format!("x-h{i}"), "v".repeat(value_len));
        }
        builder.body(()).unwrap_or_default()
    }

    #[test]
    fn a_request_within_every_limit_passes() {
        assert_eq!(
            RequestLimits::new().violation(&request("/a?b=c", 20, 10)),
            None
        );
    }

    #[test]
    fn each_limit_has_its_status() {
        let limits = RequestLimits::new();
        let long_uri = format!("/{}", "a".repeat(DEFAULT_MAX_URI_BYTES));
        assert_eq!(
            limits.violation(&request(&long_uri, 1, 0)),
            Some(StatusCode::URI_TOO_LONG)
        );
        assert_eq!(
            limits.violation(&request("/", DEFAULT_MAX_HEADERS + 1, 1)),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        assert_eq!(
            limits.violation(&request("/", 3, DEFAULT_MAX_HEADER_BYTES / 2)),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }

    #[test]
    fn host_is_required_only_of_http11_requests_off_a_connection() {
        let limits = RequestLimits::new();
        let mut bare = Request::new(());
        assert_eq!(limits.violation(&bare), None, "built in-process");
        bare.extensions_mut().insert(FromConnection);
        assert_eq!(limits.violation(&bare), Some(StatusCode::BAD_REQUEST));
        *bare.version_mut() = Version::HTTP_10;
        assert_eq!(limits.violation(&bare), None, "HTTP/1.0 may omit Host");
    }

    #[test]
    fn more_than_one_host_or_an_invalid_host_is_refused_off_a_connection() {
        let limits = RequestLimits::new();
        let with_hosts = |version: Version, hosts: &[&[u8]]| {
            let mut builder = Request::builder().version(version).uri("/");
            for host in hosts {
                builder = builder.header(header::HOST, *host);
            }
            let mut request = builder.body(()).unwrap_or_default();
            request.extensions_mut().insert(FromConnection);
            request
        };
        for good in [
            &b"example.test"[..],
            b"example.test:8080",
            b"127.0.0.1:80",
            b"[::1]:8080",
            b"[::1]",
            b"",
        ] {
            let request = with_hosts(Version::HTTP_11, &[good]);
            assert_eq!(limits.violation(&request), None, "{good:?}");
        }
        for bad in [
            &b"exa mple.test"[..],
            b"user@example.test",
            b"example.test:http",
            b"example.test/path",
            b"[::1",
            b"a<b>",
        ] {
            let request = with_hosts(Version::HTTP_11, &[bad]);
            assert_eq!(
                limits.violation(&request),
                Some(StatusCode::BAD_REQUEST),
                "{bad:?}"
            );
        }
        for version in [Version::HTTP_11, Version::HTTP_10] {
            let two = with_hosts(version, &[b"a.test", b"b.test"]);
            assert_eq!(limits.violation(&two), Some(StatusCode::BAD_REQUEST));
            let same_twice = with_hosts(version, &[b"a.test", b"a.test"]);
            assert_eq!(limits.violation(&same_twice), Some(StatusCode::BAD_REQUEST));
        }
        // In-process requests are not held to the rule, as for a missing Host.
        let mut in_process = with_hosts(Version::HTTP_11, &[b"a.test", b"b.test"]);
        in_process.extensions_mut().remove::<FromConnection>();
        assert_eq!(limits.violation(&in_process), None);
    }

    #[test]
    fn out_of_range_settings_say_why() {
        let error = RequestLimits::new()
            .with_max_uri_bytes(1 << 20)
            .unwrap_err();
        assert!(
            error.to_string().contains("hyper answers longer URIs"),
            "{error}"
        );
        assert!(RequestLimits::new().with_max_headers(0).is_err());
        assert!(RequestLimits::new().with_max_header_bytes(512).is_err());
    }
}
