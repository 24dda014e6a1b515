//! The code of the README and the guides, compiled as doctests (and run where it asserts):
//! `cargo test -p stanchion-guides --doc`. A published crate cannot include documents from
//! outside its own folder (its `.crate` would not build its doctests), so every guide is
//! compiled here, in an unpublished crate.

/// The README.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct Readme;

/// Adding Stanchion to a service.
#[cfg(doctest)]
#[doc = include_str!("../../docs/adding-stanchion.md")]
pub struct AddingStanchion;

/// Adding a tool.
#[cfg(doctest)]
#[doc = include_str!("../../docs/adding-a-tool.md")]
pub struct AddingATool;

/// The configuration guide.
#[cfg(doctest)]
#[doc = include_str!("../../docs/configuration.md")]
pub struct Configuration;

/// The errors guide.
#[cfg(doctest)]
#[doc = include_str!("../../docs/errors.md")]
pub struct Errors;

/// The redaction guide.
#[cfg(doctest)]
#[doc = include_str!("../../docs/redaction.md")]
pub struct Redaction;

/// The rollout guide.
#[cfg(doctest)]
#[doc = include_str!("../../docs/rollout.md")]
pub struct Rollout;

/// The observability guide.
#[cfg(doctest)]
#[doc = include_str!("../../docs/observability.md")]
pub struct Observability;

/// The server guide.
#[cfg(doctest)]
#[doc = include_str!("../../docs/server.md")]
pub struct ServerGuide;

/// The request-ID guide.
#[cfg(doctest)]
#[doc = include_str!("../../docs/request-id.md")]
pub struct RequestIdGuide;
