//! The proxy policy: what a service answers when an upstream it called answered with an error.

use std::fmt;

use http::{HeaderMap, StatusCode, header};

use crate::{ApiError, Taxonomy, codes, render::EnvelopeIn};

/// Upstream bodies larger than this are not parsed: an envelope is a few hundred bytes, and a
/// large body is more likely an HTML error page or an attack than an envelope.
const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// The longest upstream code kept for the logs.
const MAX_LOGGED_CODE: usize = 63;

/// Decides what a service answers when an upstream (another service sharing the taxonomy)
/// answered with an error.
///
/// The upstream's code is forwarded only when the taxonomy knows it, marks it
/// `forwardable`, and the upstream's HTTP status is the one the taxonomy registers for it.
/// Everything else becomes an upstream code (`UPSTREAM_TIMEOUT` for 408/504,
/// `UPSTREAM_ERROR` otherwise). The message is always this service's own text for the code,
/// the request ID is this service's own, and the upstream body is never forwarded: what the
/// upstream said goes into the error's internal cause, for the logs.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use stanchion_errors::{ProxyPolicy, Taxonomy, codes};
///
/// let policy = ProxyPolicy::new(Taxonomy::base());
/// let body = br#"{"error":{"code":"INTERNAL_ERROR","message":"db at 10.0.0.5 down","statusCode":500}}"#;
/// let error = policy.relay(StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new(), body);
/// assert_eq!(error.code(), codes::UPSTREAM_ERROR);
/// assert!(!String::from_utf8_lossy(&error.to_response().into_body()).contains("10.0.0.5"));
/// ```
#[derive(Clone, Debug)]
pub struct ProxyPolicy {
    taxonomy: Taxonomy,
}

impl ProxyPolicy {
    /// A policy that forwards the codes `taxonomy` marks as forwardable.
    pub fn new(taxonomy: Taxonomy) -> Self {
        Self { taxonomy }
    }

    /// The error to answer with, given the upstream's status, headers and body.
    pub fn relay(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
        let upstream_code = parse_code(body);
        let forwarded = upstream_code
            .as_deref()
            .and_then(|name| self.taxonomy.get(name))
            .filter(|code| code.is_forwardable() && code.status() == status);
        let error = match forwarded {
            Some(code) => {
                let mut error = ApiError::new(code);
                if let Some(secs) = retry_after_secs(headers) {
                    error = error.with_retry_after(std::time::Duration::from_secs(secs));
                }
                error
            }
            None if matches!(status.as_u16(), 408 | 504) => ApiError::new(codes::UPSTREAM_TIMEOUT),
            None => ApiError::new(codes::UPSTREAM_ERROR),
        };
        error.with_cause(UpstreamError {
            status,
            code: upstream_code.map(|code| sanitize_code(&code)),
        })
    }
}

fn parse_code(body: &[u8]) -> Option<String> {
    if body.len() > MAX_ENVELOPE_BYTES {
        return None;
    }
    serde_json::from_slice::<EnvelopeIn>(body)
        .ok()
        .map(|envelope| envelope.error.code)
}

fn retry_after_secs(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        // An upstream asking for more than a day is not a hint worth passing on.
        .filter(|secs| *secs <= 86_400)
}

/// SECURITY: an upstream's code is data from another process; only code-like characters are
/// kept, and only so many, before it reaches a log line.
fn sanitize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(MAX_LOGGED_CODE)
        .collect()
}

/// What an upstream answered, kept as the internal cause of a relayed error (logs only).
#[derive(Debug)]
pub struct UpstreamError {
    status: StatusCode,
    code: Option<String>,
}

impl UpstreamError {
    /// The upstream's HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The upstream's code, sanitized, when its body was an envelope.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(
                f,
                "upstream answered {} with code {code}",
                self.status.as_u16()
            ),
            None => write!(
                f,
                "upstream answered {} without an envelope",
                self.status.as_u16()
            ),
        }
    }
}

impl std::error::Error for UpstreamError {}
