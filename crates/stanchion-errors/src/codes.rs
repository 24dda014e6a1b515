//! The base taxonomy: the codes every Stanchion service shares.
//!
//! Statuses follow the HTTP semantics of each condition and Google's canonical mapping
//! (AIP-193): validation is pinned to 400 (not 422) so a client handles one status for "fix
//! your request", and the upstream codes separate "could not reach it" (502) from "it did not
//! answer in time" (504). 5xx messages are fixed texts that say nothing about the cause.
//! The generated table for reviewers is `docs/error-codes.md`; `error-codes.lock` beside this
//! crate's manifest pins names and statuses.

crate::error_codes! {
    @emit base
    /// Every base code, in declaration order.
    pub const BASE;

    /// The request carries no credentials. RFC 6750 §3.1: a challenge without an error code.
    AUTH_REQUIRED = 401, "Authentication is required.",
        challenge("Bearer");

    /// The bearer token is malformed, has a bad signature, or is invalid for any reason other
    /// than expiry.
    AUTH_INVALID_TOKEN = 401, "The access token is invalid.",
        challenge("Bearer error=\"invalid_token\"");

    /// The bearer token was valid but has expired; the client should get a new one. RFC 6750
    /// folds expiry into `invalid_token`, so the challenge is the same as AUTH_INVALID_TOKEN.
    AUTH_EXPIRED_TOKEN = 401, "The access token has expired.",
        challenge("Bearer error=\"invalid_token\"");

    /// The caller is authenticated but not allowed to do this. Checked before existence, so it
    /// does not reveal whether a resource exists.
    AUTH_FORBIDDEN = 403, "You do not have permission to perform this action.";

    /// The request is malformed in a way no single field explains (a third-party layer's or
    /// the HTTP stack's plain 400).
    BAD_REQUEST = 400, "The request is malformed.";

    /// One or more fields are invalid; `details.fieldViolations` says which and why, without
    /// echoing the values.
    VALIDATION_ERROR = 400, "The request has invalid fields.";

    /// No resource at this path.
    NOT_FOUND = 404, "The requested resource was not found.";

    /// The path exists but not for this method; the `Allow` header lists the methods it takes.
    METHOD_NOT_ALLOWED = 405, "This method is not allowed for the requested resource.";

    /// The server cannot produce a representation the `Accept` header allows.
    NOT_ACCEPTABLE = 406, "The requested representation is not available.";

    /// The server gave up waiting for the request to complete (the service's own deadline).
    REQUEST_TIMEOUT = 408, "The request took too long to complete.",
        retryable;

    /// The request conflicts with the current state of the resource.
    CONFLICT = 409, "The request conflicts with the current state of the resource.";

    /// A precondition in the request headers (`If-Match`, ...) does not hold.
    PRECONDITION_FAILED = 412, "A precondition of the request was not met.";

    /// The request body is over the size limit.
    PAYLOAD_TOO_LARGE = 413, "The request body is too large.";

    /// The request target is longer than the server accepts.
    URI_TOO_LONG = 414, "The request URI is too long.";

    /// The request body's `Content-Type` is missing or not one this endpoint accepts.
    UNSUPPORTED_MEDIA_TYPE = 415, "The request content type is not supported.";

    /// Too many requests; `Retry-After` says when to try again when it is known.
    RATE_LIMITED = 429, "Too many requests. Try again later.",
        retryable;

    /// The request's header section is larger than the server accepts.
    HEADERS_TOO_LARGE = 431, "The request headers are too large.";

    /// An unexpected failure inside the service (including a panic). The cause is logged with
    /// the request ID and never sent.
    INTERNAL_ERROR = 500, "An internal error occurred.";

    /// The method or feature is not implemented by this service.
    NOT_IMPLEMENTED = 501, "This operation is not implemented.";

    /// An upstream service could not be reached (connection refused, reset, DNS failure).
    UPSTREAM_UNAVAILABLE = 502, "An upstream service is unavailable.",
        retryable;

    /// An upstream service answered with an error this service does not relay, or with a
    /// response it could not read. The upstream's body is never forwarded.
    UPSTREAM_ERROR = 502, "An upstream service returned an error.";

    /// The service cannot handle requests right now (starting, overloaded, a critical
    /// dependency missing); `Retry-After` says when to try again when it is known.
    SERVICE_UNAVAILABLE = 503, "The service is temporarily unavailable.",
        retryable;

    /// An upstream service did not answer in time.
    UPSTREAM_TIMEOUT = 504, "An upstream service did not respond in time.",
        retryable;
}
