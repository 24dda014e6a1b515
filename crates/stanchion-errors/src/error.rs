//! `ApiError`: one error response, built from a registered code.

use std::{
    borrow::Cow, collections::BTreeMap, error::Error as StdError, fmt, sync::Arc, time::Duration,
};

use http::{HeaderValue, StatusCode};

use crate::{ErrorCode, codes};

type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// An error response: a registered [`ErrorCode`] plus what may safely go with it.
///
/// What reaches the client is fixed by construction: the code, the code's public message, the
/// HTTP status the taxonomy registers for it (always equal to `statusCode`), the request ID,
/// field violations, typed parameters and a retry hint. The internal cause is kept for logs
/// through [`source`](StdError::source) and the response's [`RenderedError`] extension, and is
/// never serialized.
///
/// ```
/// use stanchion_errors::{ApiError, FieldViolation, codes};
///
/// let error = ApiError::new(codes::VALIDATION_ERROR)
///     .with_violation(FieldViolation::new("prompt", "must not be empty"))
///     .with_request_id("req-1")
///     .with_cause(std::io::Error::other("db password=hunter2 at /srv/app/db.rs"));
///
/// let response = error.to_response();
/// assert_eq!(response.status(), 400);
/// let body = String::from_utf8(response.into_body().to_vec()).unwrap();
/// assert!(body.contains(r#""code":"VALIDATION_ERROR""#));
/// assert!(body.contains(r#""statusCode":400"#));
/// assert!(!body.contains("hunter2") && !body.contains("db.rs"));
/// ```
#[derive(Clone)]
pub struct ApiError(Box<Inner>);

#[derive(Clone)]
pub(crate) struct Inner {
    pub(crate) code: ErrorCode,
    pub(crate) request_id: Option<Cow<'static, str>>,
    pub(crate) violations: Vec<FieldViolation>,
    pub(crate) params: BTreeMap<&'static str, SafeValue>,
    pub(crate) retry_after: Option<u64>,
    pub(crate) allow: Option<HeaderValue>,
    pub(crate) challenge: Option<HeaderValue>,
    pub(crate) cause: Option<Arc<Cause>>,
}

impl ApiError {
    /// An error with `code`, its registered status and its public message. The request ID is
    /// the current request's when the request-ID layer is running (see
    /// [`with_request_id`](Self::with_request_id) to set it explicitly).
    pub fn new(code: ErrorCode) -> Self {
        Self(Box::new(Inner {
            code,
            request_id: crate::request_id::current().map(Cow::Owned),
            violations: Vec::new(),
            params: BTreeMap::new(),
            retry_after: None,
            allow: None,
            challenge: None,
            cause: None,
        }))
    }

    /// An error with `code` and the request ID the caller resolved (the guard's), without
    /// reading the task-local.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))] // Only the guard layer resolves IDs.
    pub(crate) fn with_resolved_id(code: ErrorCode, request_id: Option<String>) -> Self {
        Self(Box::new(Inner {
            code,
            request_id: request_id.map(Cow::Owned),
            violations: Vec::new(),
            params: BTreeMap::new(),
            retry_after: None,
            allow: None,
            challenge: None,
            cause: None,
        }))
    }

    /// An `INTERNAL_ERROR` that keeps `cause` for the logs.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::new(codes::INTERNAL_ERROR).with_cause(cause)
    }

    /// The base code for a bare HTTP error status, as the guard layer maps statuses it finds
    /// without an envelope: 404 → `NOT_FOUND`, 422 → `VALIDATION_ERROR`, and so on. A 4xx
    /// without a code of its own maps to `BAD_REQUEST` (400), a 5xx to `INTERNAL_ERROR` (500),
    /// because a code's status is fixed; the original status goes to the logs.
    pub fn code_for_status(status: StatusCode) -> ErrorCode {
        match status.as_u16() {
            401 => codes::AUTH_REQUIRED,
            403 => codes::AUTH_FORBIDDEN,
            404 | 410 => codes::NOT_FOUND,
            405 => codes::METHOD_NOT_ALLOWED,
            406 => codes::NOT_ACCEPTABLE,
            408 => codes::REQUEST_TIMEOUT,
            409 => codes::CONFLICT,
            411 | 412 | 428 => codes::PRECONDITION_FAILED,
            413 => codes::PAYLOAD_TOO_LARGE,
            414 => codes::URI_TOO_LONG,
            415 => codes::UNSUPPORTED_MEDIA_TYPE,
            422 => codes::VALIDATION_ERROR,
            429 => codes::RATE_LIMITED,
            431 => codes::HEADERS_TOO_LARGE,
            501 => codes::NOT_IMPLEMENTED,
            502 => codes::UPSTREAM_ERROR,
            503 => codes::SERVICE_UNAVAILABLE,
            504 => codes::UPSTREAM_TIMEOUT,
            400..=499 => codes::BAD_REQUEST,
            _ => codes::INTERNAL_ERROR,
        }
    }

    /// Sets the request ID echoed in `requestId` (it must be the `x-request-id` response
    /// header's value; the request-ID layer sets both).
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<Cow<'static, str>>) -> Self {
        self.0.request_id = Some(request_id.into());
        self
    }

    /// Adds a field violation (`details.fieldViolations`). The description is public: say
    /// what is wrong with the field, never repeat its value.
    #[must_use]
    pub fn with_violation(mut self, violation: FieldViolation) -> Self {
        self.0.violations.push(violation);
        self
    }

    /// Adds a typed parameter (`details.params`). Keys are lowerCamelCase with units in the
    /// name (`limitBytes`), as AIP-193's `ErrorInfo.metadata`; values are numbers, booleans or
    /// `'static` strings, so a caller's input cannot slip in.
    #[must_use]
    pub fn with_param(mut self, key: &'static str, value: impl Into<SafeValue>) -> Self {
        self.0.params.insert(key, value.into());
        self
    }

    /// Sets the retry hint: the `Retry-After` header and `details.retryAfterSeconds`.
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        // Retry-After counts whole seconds; rounding up never tells a client to come back early.
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        self.0.retry_after = Some(secs);
        self
    }

    /// Sets the `Allow` header of a 405 (the guard layer keeps the inner service's).
    #[must_use]
    pub fn with_allow(mut self, allow: HeaderValue) -> Self {
        self.0.allow = Some(allow);
        self
    }

    /// Overrides the `WWW-Authenticate` challenge of a 401 (for a realm or scope).
    #[must_use]
    pub fn with_challenge(mut self, challenge: HeaderValue) -> Self {
        self.0.challenge = Some(challenge);
        self
    }

    /// Keeps `cause` for the logs. It is reachable through [`source`](StdError::source) and
    /// [`RenderedError::cause`], and never serialized.
    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<Cause>) -> Self {
        self.0.cause = Some(Arc::new(cause.into()));
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// The HTTP status: always the one the taxonomy registers for the code.
    pub fn status(&self) -> StatusCode {
        self.0.code.status()
    }

    /// The request ID, when known.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The field violations.
    pub fn violations(&self) -> &[FieldViolation] {
        &self.0.violations
    }

    /// The retry hint in seconds, when set.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.0.retry_after
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.0
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY: the cause is shown by type-erased Display only in `source()` chains that
        // the service logs on purpose; Debug names the code and whether a cause exists.
        f.debug_struct("ApiError")
            .field("code", &self.0.code)
            .field("request_id", &self.0.request_id)
            .field("violations", &self.0.violations)
            .field("has_cause", &self.0.cause.is_some())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code.name(), self.0.code.message())
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .cause
            .as_deref()
            .map(|cause| &**cause as &(dyn StdError + 'static))
    }
}

/// A rollout gate's event names a refusal by its code (`AUTH_EXPIRED_TOKEN`), never its cause.
#[cfg(feature = "tower")]
impl stanchion_rollout::DenyReason for ApiError {
    fn reason(&self) -> &str {
        self.code().name()
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

/// One invalid field: its path in the request and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldViolation {
    /// The field's path, e.g. `prompt` or `items[2].name`.
    pub field: Cow<'static, str>,
    /// What is wrong, in words a client developer can act on; never the value itself.
    pub description: Cow<'static, str>,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(
        field: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// A parameter value that cannot carry a caller's input: a number, a boolean or a `'static`
/// string.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum SafeValue {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A boolean.
    Bool(bool),
    /// A string fixed at compile time.
    Static(&'static str),
}

macro_rules! safe_value_from {
    ($($ty:ty => $variant:ident),+) => {
        $(impl From<$ty> for SafeValue {
            fn from(value: $ty) -> Self {
                Self::$variant(value.into())
            }
        })+
    };
}

safe_value_from!(i64 => Int, i32 => Int, u64 => UInt, u32 => UInt, u16 => UInt, bool => Bool, &'static str => Static);

impl From<usize> for SafeValue {
    fn from(value: usize) -> Self {
        Self::UInt(u64::try_from(value).unwrap_or(u64::MAX))
    }
}

/// The error a response was rendered from, found in the response's extensions.
///
/// Logging and metrics layers read it to record the code and the internal cause without
/// parsing the body, and the guard layer uses it to recognise an envelope and to re-render it
/// (for `application/problem+json`, or to fill in a missing request ID).
#[derive(Clone)]
pub struct RenderedError(pub(crate) Arc<ApiError>);

impl RenderedError {
    /// The code of the rendered error.
    pub fn code(&self) -> ErrorCode {
        self.0.code()
    }

    /// The internal cause, for logs only.
    pub fn cause(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.0.inner().cause.as_deref().map(|cause| &**cause)
    }

    /// The error itself.
    pub fn error(&self) -> &ApiError {
        &self.0
    }
}

impl fmt::Debug for RenderedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RenderedError").field(&self.0).finish()
    }
}
