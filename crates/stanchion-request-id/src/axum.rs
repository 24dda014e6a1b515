//! The axum extractor (feature `axum`), through `axum-core` only.

use std::fmt;

use axum_core::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    response::{IntoResponse, Response},
};
use http::{StatusCode, request::Parts};

use crate::RequestId;

/// Extracting [`RequestId`] reads the request extension set by [`crate::RequestIdLayer`], then
/// falls back to [`RequestId::current`]. `Option<RequestId>` never rejects.
impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = MissingRequestId;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        lookup(parts).ok_or(MissingRequestId { _private: () })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(lookup(parts))
    }
}

fn lookup(parts: &Parts) -> Option<RequestId> {
    parts
        .extensions
        .get::<RequestId>()
        .cloned()
        .or_else(RequestId::current)
}

/// The extractor's rejection: the route is not behind [`crate::RequestIdLayer`]. A wiring
/// mistake, so a 500 with a fixed text.
#[derive(Debug)]
pub struct MissingRequestId {
    _private: (),
}

impl fmt::Display for MissingRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no request ID: the route is not behind RequestIdLayer")
    }
}

impl std::error::Error for MissingRequestId {}

impl IntoResponse for MissingRequestId {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
    }
}
