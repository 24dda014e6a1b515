//! A reviewed error taxonomy and the one JSON error envelope every non-2xx response carries:
//! `{"error":{"code","message","statusCode","requestId"}}`.
//!
//! ```
//! use stanchion_errors::{ApiError, Taxonomy, codes};
//!
//! stanchion_errors::error_codes! {
//!     /// Codes this service adds to the base taxonomy.
//!     pub const SERVICE_CODES;
//!
//!     /// The caller's plan does not include the requested feature.
//!     SUBSCRIPTION_PLAN_LIMIT = 403, "Your subscription plan does not include this feature.";
//! }
//!
//! // Merging checks for duplicates across sets (a test or startup fails, naming both places).
//! let taxonomy = Taxonomy::builder().extend(SERVICE_CODES).build().unwrap();
//! assert!(taxonomy.get("SUBSCRIPTION_PLAN_LIMIT").is_some());
//!
//! let response = ApiError::new(codes::AUTH_EXPIRED_TOKEN)
//!     .with_request_id("4b1c0de2")
//!     .with_cause(std::io::Error::other("exp 1700000000 < now"))
//!     .to_response();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer error="invalid_token""#);
//! let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
//! assert_eq!(body["error"]["code"], "AUTH_EXPIRED_TOKEN");
//! assert_eq!(body["error"]["statusCode"], 401);
//! assert_eq!(body["error"]["requestId"], "4b1c0de2");
//! assert!(!body.to_string().contains("1700000000"));
//! ```
//!
//! # The pieces
//!
//! - [`codes`]: the base codes every service shares, and [`error_codes!`] to declare a
//!   service's own in one reviewable block (the doc comment of each code is its reviewer
//!   description). [`Taxonomy`] merges them and refuses duplicates.
//! - [`ApiError`]: a code plus what may safely go with it (field violations, typed parameters,
//!   a retry hint, the request ID) and an internal cause that is never serialized.
//! - [`GuardLayer`] (feature `tower`): turns every 4xx/5xx that is not an envelope into one,
//!   with `off` / `shadow` / `enforced` modes as the rollout lever (the `GUARD_MODE` flag).
//! - The `axum` module (feature `axum`): `IntoResponse`, and `Json` / `Query` / `Path`
//!   extractors whose rejections are envelopes.
//! - [`ProxyPolicy`]: what to answer when an upstream sharing the taxonomy failed.
//! - For reviewers: [`Taxonomy::assert_docs_fresh`] keeps a generated table of the codes
//!   (`docs/error-codes.md`) current, and [`Taxonomy::assert_lock_holds`] fails a service's
//!   tests when a code disappears or changes status, unless the lock is regenerated on purpose
//!   with `STANCHION_BLESS=1`.
//!
//! # Feature flags
//!
//! | Feature | Enables | Default |
//! |---|---|---|
//! | `tower` | [`GuardLayer`], counted through the `metrics` facade | no |
//! | `axum` | `IntoResponse` for [`ApiError`]; `axum::{Json, Query, Path}` with envelope rejections | no |
//!
//! Without features the crate builds `http::Response<Bytes>` responses and needs no runtime.
//!
//! # Guarantees
//!
//! - **The status is the code's.** A response's HTTP status, `statusCode` and the taxonomy's
//!   status for `code` are always equal; a code's status is fixed at compile time and must be
//!   4xx or 5xx, so an error with a success status cannot be built.
//! - **Messages are the catalog's.** The `message` is the code's fixed public text. There is
//!   no way to put a formatted string there; specifics go in field violations and typed
//!   parameters.
//! - **Causes stay inside.** A cause is kept for logs ([`std::error::Error::source`],
//!   [`RenderedError::cause`]) and never written to a body; nor are serde's texts, Rust type
//!   names, file paths, panic messages or an upstream's body.
//! - **Obligations travel with codes.** 401 carries `WWW-Authenticate` (RFC 6750), a retry hint
//!   becomes `Retry-After`, the guard keeps a 405's `Allow`.
//! - **2xx is untouched.** The guard never buffers, reads or wraps the bytes of a success body.
//!
//! # Known exceptions
//!
//! hyper answers some malformed requests itself, before any tower layer runs (an unparsable
//! request line or header, headers over its size limit): those responses are empty and cannot
//! carry an envelope. An edge proxy is the place to normalise them.

#[cfg(feature = "axum")]
pub mod axum;
mod code;
pub mod codes;
mod error;
#[cfg(feature = "tower")]
mod guard;
#[cfg(feature = "axum")]
mod objects_only;
mod proxy;
mod render;
mod request_id;
mod taxonomy;

pub use crate::{
    code::{CodeSet, ErrorCode, MAX_CODE_LEN, is_valid_name},
    error::{ApiError, FieldViolation, RenderedError, SafeValue},
    proxy::{ProxyPolicy, UpstreamError},
    render::{APPLICATION_JSON, APPLICATION_PROBLEM_JSON, Format},
    taxonomy::{
        ArtifactError, BLESS_ENV, Checked, LockDiff, LockParseError, Taxonomy, TaxonomyBuilder,
        TaxonomyError,
    },
};

#[cfg(feature = "tower")]
pub use crate::guard::{
    GUARD_FLAG, GUARD_TARGET, Guard, GuardBody, GuardLayer, ResponseFuture, VIOLATIONS_METRIC,
};
/// The guard's modes (`off`, `shadow`, `enforced`) and gate, from `stanchion-rollout`.
#[cfg(feature = "tower")]
pub use stanchion_rollout::{Gate, RolloutMode};

/// Items the macros use; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::code::{CodeSpec, trim_doc};
}
