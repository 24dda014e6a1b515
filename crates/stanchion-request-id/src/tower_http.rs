//! Conversions from/to tower-http's request ID (feature `tower-http`).

use crate::{InvalidRequestId, RequestId};

impl From<RequestId> for tower_http::request_id::RequestId {
    fn from(id: RequestId) -> Self {
        Self::new(id.into())
    }
}

/// tower-http's ID is any header value, trusted verbatim; this conversion applies the validity
/// rule with [`crate::DEFAULT_MAX_LEN`].
impl TryFrom<tower_http::request_id::RequestId> for RequestId {
    type Error = InvalidRequestId;

    fn try_from(id: tower_http::request_id::RequestId) -> Result<Self, Self::Error> {
        Self::try_from(id.into_header_value())
    }
}
