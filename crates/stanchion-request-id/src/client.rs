//! The client side: carry the current request's ID to the next hop.

use std::task::{Context, Poll};

use http::{HeaderMap, HeaderName, Request};
use tower_layer::Layer;
use tower_service::Service;

use crate::{RequestId, X_REQUEST_ID};

/// Set `x-request-id` on `headers` from [`RequestId::current`], unless the header is already
/// there. Returns whether it set it. For clients that are not tower services (reqwest, ...):
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// // Outside a request there is nothing to carry.
/// assert!(!stanchion_request_id::fill_headers(&mut headers));
/// ```
pub fn fill_headers(headers: &mut HeaderMap) -> bool {
    fill_headers_named(&X_REQUEST_ID, headers)
}

/// [`fill_headers`] with another header name.
pub fn fill_headers_named(header_name: &HeaderName, headers: &mut HeaderMap) -> bool {
    if headers.contains_key(header_name) {
        return false;
    }
    match RequestId::current() {
        Some(id) => {
            headers.insert(header_name.clone(), id.header_value().clone());
            true
        }
        None => false,
    }
}

/// Client-side layer for outgoing `http::Request`s (a hyper-util client, a tower-based SDK): sets
/// the ID header from [`RequestId::current`] — the ID of the server request being handled.
///
/// Never overwrites an ID header the caller set explicitly; adds nothing outside a request.
/// Not to be confused with tower-http's `PropagateRequestIdLayer`, which copies a server
/// request's ID to its *response* (the server layer of this crate already does that).
#[derive(Clone, Debug)]
#[must_use]
pub struct PropagateRequestIdLayer {
    header_name: HeaderName,
}

impl Default for PropagateRequestIdLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl PropagateRequestIdLayer {
    /// Propagate in `x-request-id`.
    pub fn new() -> Self {
        Self {
            header_name: X_REQUEST_ID,
        }
    }

    /// Propagate in this header instead.
    pub fn with_header_name(mut self, header_name: HeaderName) -> Self {
        self.header_name = header_name;
        self
    }
}

impl<S> Layer<S> for PropagateRequestIdLayer {
    type Service = PropagateRequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateRequestId {
            inner,
            header_name: self.header_name.clone(),
        }
    }
}

/// The service made by [`PropagateRequestIdLayer`]. Its future is the inner service's own.
#[derive(Clone, Debug)]
pub struct PropagateRequestId<S> {
    inner: S,
    header_name: HeaderName,
}

impl<S> PropagateRequestId<S> {
    /// Wrap a client service, propagating in `x-request-id`.
    pub fn new(inner: S) -> Self {
        PropagateRequestIdLayer::new().layer(inner)
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

impl<S, B> Service<Request<B>> for PropagateRequestId<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // Read at call time: `call` runs in the caller's task, inside the server request's
        // scope, even when the client then drives the connection on a task of its own.
        fill_headers_named(&self.header_name, request.headers_mut());
        self.inner.call(request)
    }
}
