//! Rollout modes (`off`, `shadow`, `enforced`) and the gate that runs a check in shadow, counts
//! what enforcing would change, and only then enforces it.
//!
//! A hardening change (verify bearer tokens, refuse plain-file secrets, rewrite non-envelope
//! errors) reaches production one flag at a time: `off` → `shadow` → `enforced`, and back the
//! same way when a signal says so. Every flag of every Stanchion service speaks the same three
//! words, parsed by [`RolloutMode`], and every check behind a flag goes through a [`Gate`].
//!
//! ```
//! use std::sync::{Arc, atomic::{AtomicU8, Ordering}};
//! use stanchion_rollout::{Gate, Outcome, RolloutMode, Verdict};
//!
//! // A live source: the configuration service's snapshot in a service; an atomic here.
//! let lever = Arc::new(AtomicU8::new(1));
//! let source = Arc::clone(&lever);
//! let gate = Gate::new("AUTH_MODE", move || RolloutMode::ALL[source.load(Ordering::Relaxed) as usize]);
//! let expired = || Err::<(), _>("AUTH_EXPIRED_TOKEN");
//!
//! assert_eq!(gate.mode(), RolloutMode::Shadow);
//! assert!(matches!(gate.check(expired), Verdict::Shadow(Err(_)))); // served as before
//! lever.store(2, Ordering::Relaxed);                               // the lever: enforced
//! assert!(matches!(gate.check(expired), Verdict::Enforced(Err(_)))); // now refused
//! lever.store(0, Ordering::Relaxed);                               // rolled back: off
//! assert!(matches!(gate.check(expired), Verdict::Off));             // the check does not run
//! assert_eq!(Outcome::of(RolloutMode::Shadow, true), Some(Outcome::WouldDeny));
//! assert!("enforce".parse::<RolloutMode>().is_err());               // one vocabulary
//! ```
//!
//! # Behaviour
//!
//! - **One vocabulary.** [`RolloutMode::parse`] accepts exactly `off`, `shadow` and
//!   `enforced` (blanks and ASCII case ignored). Anything else, near misses such as
//!   `enforce` or `audit` included, is refused with a message naming the accepted words.
//! - **Shadow computes, enforced acts.** [`Gate::check`] does not run the check in `off`; in
//!   `shadow` it runs it and returns [`Verdict::Shadow`], and the caller takes the old action;
//!   in `enforced` it returns [`Verdict::Enforced`] and the caller acts on it.
//! - **Every decision is counted.** [`metric_names::DECISIONS_TOTAL`] by `flag` and `outcome`
//!   (`allow`, `deny`, `would_allow`, `would_deny`); a `would_deny` is also a WARN event on
//!   [`ROLLOUT_TARGET`] with `flag`, `mode`, `outcome` and `reason`.
//! - **The mode is read at every decision** from the gate's [`ModeSource`], so a flag flipped
//!   in the configuration takes effect on the next request, without a restart. Publishing the
//!   active mode ([`metric_names::MODE`]) and counting switches
//!   ([`metric_names::SWITCHES_TOTAL`]) belong to whatever changes the mode: the configuration
//!   service does both for the flags it resolves.
//!
//! No feature flags. Dependencies: `metrics` and `tracing` facades, `thiserror`.

mod gate;
pub mod metric_names;
mod mode;

pub use crate::{
    gate::{DenyReason, Gate, ModeSource, Outcome, ROLLOUT_TARGET, Verdict, count_decision},
    mode::{ACCEPTED_MODES, ParseModeError, RolloutMode},
};
