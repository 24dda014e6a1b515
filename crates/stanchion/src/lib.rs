//! The Stanchion facade: one call that composes the production layer stack (request ID, span,
//! error guard, panic catcher, timeout and body limit), telemetry initialisation, health
//! endpoints and metrics.
//!
//! **Status: skeleton.** Nothing is exported yet; the facade is built once the four crates it
//! composes have landed. Use the crates directly until then: `stanchion-errors`,
//! `stanchion-request-id`, `stanchion-redact` and `stanchion-config`.
