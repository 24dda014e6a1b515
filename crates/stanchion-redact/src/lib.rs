//! One redaction engine for secrets and chosen PII in log lines, tracing output and CLI output.
//!
//! A [`Redactor`] finds provider tokens (AWS, GitHub, GitLab, Slack, Stripe, OpenAI,
//! Anthropic, JWTs, PEM private keys: 112 formats in all), values next to secret-sounding keys
//! (`password=`, `"token":`, `*_KEY:`) or keys naming a provider (`twitter=`, `mailgun:`), `Authorization`/`Cookie`/`Set-Cookie` values, URL
//! passwords and sensitive query parameters, opt-in PII (email, IP, Luhn-checked card numbers,
//! IBAN), and exact values registered at runtime. [`rules()`] lists the catalogue;
//! `docs/redaction.md` explains each choice.
//!
//! # Example
//!
//! ```
//! use std::borrow::Cow;
//! use stanchion_redact::Redactor;
//!
//! let redactor = Redactor::new();
//! let token = format!("ghp_{}", "Ab3xK9mQz7Rt".repeat(3));
//! let line = format!("cloning with {token} as user=ana");
//! assert_eq!(
//!     redactor.redact(&line),
//!     "cloning with [REDACTED:github-pat] as user=ana"
//! );
//!
//! // Placeholders and tokens inside longer identifiers are look-alikes, left as they are.
//! let placeholder = format!("GITHUB_TOKEN example: ghp_{}", "x".repeat(36));
//! assert_eq!(redactor.redact(&placeholder), placeholder);
//!
//! // A clean line is returned as is, without allocating.
//! assert!(matches!(redactor.redact("GET /health 200 in 3 ms"), Cow::Borrowed(_)));
//!
//! // Secrets loaded at runtime are redacted literally, in every clone.
//! redactor.clone().register_secret("DB_PASSWORD", "correct-horse-battery");
//! assert_eq!(
//!     redactor.redact("connect failed: correct-horse-battery rejected"),
//!     "connect failed: [REDACTED:registered-secret:DB_PASSWORD] rejected"
//! );
//! ```
//!
//! # Feature flags
//!
//! | Name | Description | Default |
//! |---|---|---|
//! | `tracing` | module `subscriber`: redacting `MakeWriter`, ready-made JSON and text fmt layers for tracing-subscriber | no |
//!
//! The core depends on neither tower, http nor tracing-subscriber.
//!
//! # Behaviour
//!
//! - **A clean line costs a few SIMD passes and no allocation.** Case-sensitive keyword scans
//!   (aho-corasick's Teddy, and a pass for keywords anchored on a punctuation byte such as
//!   `ghp_`; casings listed, never case-insensitive) gate the regexes: only rules whose keyword
//!   occurred run, and `redact` returns `Cow::Borrowed` when nothing matched. About 1.1 GB/s
//!   on ~200-byte log lines, 50 times a regex-per-rule loop (`docs/benchmarks.md`).
//! - **Markers name the rule.** `[REDACTED:<rule>]` by default; [`Method::Mask`] and the keyed
//!   [`Method::Hash`] (HMAC-SHA-256 with a deployment key) are the alternatives.
//! - **Redaction is idempotent.** Text inside markers is never matched again, and dirty text
//!   is re-scanned until it is stable, so redacting twice gives the same text as once.
//! - **Fail closed on size.** A value longer than the limit (64 KiB by default) is replaced
//!   whole by `[REDACTED:oversized]` instead of being scanned partly.
//! - **JSON stays JSON.** [`Redactor::redact_json_line`] decodes each string, redacts it and
//!   re-encodes it; members whose key names a secret are replaced whole.
//! - **Log injection is neutralized (CWE-117).** [`Redactor::redact_log_line`] and the
//!   tracing integration write CR, LF and other control characters as visible escapes.
//! - **Look-alikes stay.** UUIDs, trace ids, git SHAs, image digests and prose such as
//!   "password reset" or "Authorization header missing" are not redacted (tested).
//! - **Counters, never values.** [`Redactor::counts`] says how many values each rule redacted.
//!
//! # Dependencies
//!
//! `aho-corasick` and `memchr` for the keyword prefilter, and `wide` for its sixteen-byte
//! comparisons in safe code (the workspace forbids `unsafe`); `regex` (linear time, no ReDoS) for
//! the rules; `arc-swap` so registering a secret swaps the matcher while other threads keep
//! redacting without a lock; `hmac` and `sha2` for the keyed hash method; `serde_json` to decode
//! JSON strings exactly (escapes, surrogates) in `redact_json_line`; `secrecy` for the values
//! the registry keeps (zeroized on drop). Feature `tracing` adds `tracing-subscriber` and
//! `tracing-core`.
//!
//! # secrecy
//!
//! [`secrecy::SecretString`] prints `[REDACTED]` in `Debug`; once its value is exposed, only
//! runtime redaction can catch it, so register it: [`Redactor::register_secret_string`].

mod anchored;
mod blocks;
mod builder;
mod check;
mod counters;
mod engine;
mod json;
mod keys;
mod marker;
mod neutralize;
mod prefilter;
mod redactor;
mod registry;
mod rule_info;
mod rule_set;
mod rules;
#[cfg(feature = "tracing")]
pub mod subscriber;

#[doc(inline)]
pub use crate::{
    blocks::{private_key_block_end, private_key_block_start},
    builder::{BuildError, DEFAULT_MAX_VALUE_LEN, RedactorBuilder},
    counters::{OVERSIZED_RULE_ID, REGISTERED_RULE_ID, RuleCount},
    keys::is_sensitive_key,
    marker::{MAX_MARKER_LEN, Method},
    redactor::Redactor,
    registry::{MIN_SECRET_LEN, RegisterSecretError},
    rule_info::{RuleInfo, rules},
    rules::Category,
};
