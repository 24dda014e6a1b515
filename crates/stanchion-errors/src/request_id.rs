//! Where an error finds the current request's ID: through stanchion-request-id's public API
//! (feature `request-id`), never by reading raw client input unchecked.

use http::{HeaderName, Request};

/// The ID of the request being handled, when the request-ID layer runs around this code.
#[cfg(feature = "request-id")]
pub(crate) fn current() -> Option<String> {
    stanchion_request_id::RequestId::current().map(|id| id.as_str().to_owned())
}

/// Without the `request-id` feature there is no task-local to read.
#[cfg(not(feature = "request-id"))]
pub(crate) fn current() -> Option<String> {
    None
}

/// What the guard keeps of a request to find its ID later, on the error path only.
///
/// PERF: capturing clones two reference-counted values and validates nothing, so a 2xx pays
/// two lookups; the ID is resolved only when an error response needs it.
#[cfg_attr(not(feature = "tower"), allow(dead_code))] // Only the guard layer reads requests.
#[derive(Default)]
pub(crate) struct InboundId {
    #[cfg(feature = "request-id")]
    extension: Option<stanchion_request_id::RequestId>,
    header: Option<http::HeaderValue>,
}

#[cfg_attr(not(feature = "tower"), allow(dead_code))] // Only the guard layer reads requests.
impl InboundId {
    pub(crate) fn capture<B>(request: &Request<B>, header: &HeaderName) -> Self {
        Self {
            #[cfg(feature = "request-id")]
            extension: request
                .extensions()
                .get::<stanchion_request_id::RequestId>()
                .cloned(),
            header: request.headers().get(header).cloned(),
        }
    }

    /// The request-ID layer's extension, the task-local, or (without the layer) the header
    /// when it passes the validity rule.
    pub(crate) fn resolve(&self) -> Option<String> {
        #[cfg(feature = "request-id")]
        if let Some(id) = &self.extension {
            return Some(id.as_str().to_owned());
        }
        current().or_else(|| {
            // SECURITY: without the request-ID layer in front, this header is raw client
            // input; only a value of the documented charset and length is echoed.
            let value = self.header.as_ref()?.to_str().ok()?;
            valid(value).then(|| value.to_owned())
        })
    }
}

#[cfg(feature = "request-id")]
fn valid(value: &str) -> bool {
    stanchion_request_id::RequestId::parse(value).is_ok()
}

/// The same rule as stanchion-request-id's: 1 to 128 bytes of `A-Z a-z 0-9 - _ . :`.
#[cfg(not(feature = "request-id"))]
fn valid(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}
