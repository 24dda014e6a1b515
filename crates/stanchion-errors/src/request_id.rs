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

/// The request's ID as the guard sees it on the way in: the request-ID layer's extension, the
/// task-local, or (without the layer) the header when it passes the validity rule.
#[cfg_attr(not(feature = "tower"), allow(dead_code))] // Only the guard layer reads requests.
pub(crate) fn from_request<B>(request: &Request<B>, header: &HeaderName) -> Option<String> {
    #[cfg(feature = "request-id")]
    if let Some(id) = request
        .extensions()
        .get::<stanchion_request_id::RequestId>()
    {
        return Some(id.as_str().to_owned());
    }
    current().or_else(|| {
        // SECURITY: without the request-ID layer in front, this header is raw client input;
        // only a value of the documented charset and length is echoed.
        let value = request.headers().get(header)?.to_str().ok()?;
        valid(value).then(|| value.to_owned())
    })
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
