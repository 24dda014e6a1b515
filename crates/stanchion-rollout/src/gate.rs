//! The rollout gate: a check that is evaluated, counted and logged in `shadow` and acted upon
//! only in `enforced`.

use std::{fmt, sync::Arc};

use crate::{RolloutMode, metric_names::DECISIONS_TOTAL};

/// The tracing target of the gates' events, so operators can filter them.
pub const ROLLOUT_TARGET: &str = "stanchion::rollout";

/// Where a gate reads its mode, at every decision: a fixed [`RolloutMode`], or a closure over a
/// live source (the configuration service's current snapshot), so the mode can change without
/// a restart. It is called once per decision: keep it cheap and lock-free.
pub trait ModeSource: Send + Sync + 'static {
    /// The mode in effect now.
    fn mode(&self) -> RolloutMode;
}

impl ModeSource for RolloutMode {
    fn mode(&self) -> RolloutMode {
        *self
    }
}

impl<F> ModeSource for F
where
    F: Fn() -> RolloutMode + Send + Sync + 'static,
{
    fn mode(&self) -> RolloutMode {
        self()
    }
}

/// Why a check denied, for the structured event: a short, bounded name such as an error code
/// (`AUTH_EXPIRED_TOKEN`), never a value from the request.
pub trait DenyReason {
    /// The reason's name.
    fn reason(&self) -> &str;
}

impl DenyReason for &str {
    fn reason(&self) -> &str {
        self
    }
}

impl DenyReason for String {
    fn reason(&self) -> &str {
        self
    }
}

/// What a gate decided, as counted in [`DECISIONS_TOTAL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// `enforced`: the check passed.
    Allow,
    /// `enforced`: the check failed and the gate acted on it.
    Deny,
    /// `shadow`: the check passed (enforcing would have changed nothing).
    WouldAllow,
    /// `shadow`: the check failed; enforcing would have denied, the old action was taken.
    WouldDeny,
}

impl Outcome {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::WouldAllow => "would_allow",
            Self::WouldDeny => "would_deny",
        }
    }

    /// The outcome of a check that `denied` (or not) in `mode`; `None` in `off`, where no
    /// check runs.
    pub const fn of(mode: RolloutMode, denied: bool) -> Option<Self> {
        match (mode, denied) {
            (RolloutMode::Off, _) => None,
            (RolloutMode::Shadow, false) => Some(Self::WouldAllow),
            (RolloutMode::Shadow, true) => Some(Self::WouldDeny),
            (RolloutMode::Enforced, false) => Some(Self::Allow),
            (RolloutMode::Enforced, true) => Some(Self::Deny),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of [`Gate::check`]: what the caller does depends on the mode.
#[derive(Debug)]
#[must_use = "a gate decides nothing unless the caller acts on the verdict"]
pub enum Verdict<T, E> {
    /// `off`: the check did not run; take the old action.
    Off,
    /// `shadow`: the check ran and was counted; take the old action (the result is there for
    /// what the old action can use, such as claims that did verify).
    Shadow(Result<T, E>),
    /// `enforced`: act on the result.
    Enforced(Result<T, E>),
}

impl<T, E> Verdict<T, E> {
    /// The mode the check met.
    pub fn mode(&self) -> RolloutMode {
        match self {
            Self::Off => RolloutMode::Off,
            Self::Shadow(_) => RolloutMode::Shadow,
            Self::Enforced(_) => RolloutMode::Enforced,
        }
    }
}

/// A rollout gate for one flag: reads the flag's mode from its [`ModeSource`] at every
/// decision, runs the check unless the mode is `off`, counts the decision in
/// [`DECISIONS_TOTAL`] (`flag`, `outcome`), and in `shadow` logs every `would_deny` as a WARN
/// event on [`ROLLOUT_TARGET`] (flag, mode, outcome, reason). Cheap to clone.
///
/// ```
/// use stanchion_rollout::{Gate, RolloutMode, Verdict};
///
/// let gate = Gate::new("AUTH_MODE", RolloutMode::Shadow);
/// let verify = |token: &str| if token == "good" { Ok("ana") } else { Err("AUTH_INVALID_TOKEN") };
/// match gate.check(|| verify("forged")) {
///     // Shadow: counted as would_deny and logged; the request is served as before.
///     Verdict::Shadow(result) => assert_eq!(result, Err("AUTH_INVALID_TOKEN")),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Clone)]
pub struct Gate {
    flag: &'static str,
    source: Arc<dyn ModeSource>,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("flag", &self.flag)
            .field("mode", &self.mode())
            .finish()
    }
}

impl Gate {
    /// A gate for `flag` (the variable's name, e.g. `AUTH_MODE`) reading its mode from
    /// `source`.
    pub fn new(flag: &'static str, source: impl ModeSource) -> Self {
        Self {
            flag,
            source: Arc::new(source),
        }
    }

    /// The flag's name.
    pub fn flag(&self) -> &'static str {
        self.flag
    }

    /// The mode in effect now.
    pub fn mode(&self) -> RolloutMode {
        self.source.mode()
    }

    /// Reads the mode, runs `check` unless it is `off`, counts the decision and, for a
    /// `would_deny`, logs it.
    pub fn check<T, E: DenyReason>(&self, check: impl FnOnce() -> Result<T, E>) -> Verdict<T, E> {
        let mode = self.mode();
        if mode == RolloutMode::Off {
            return Verdict::Off;
        }
        let result = check();
        let reason = result.as_ref().err().map(DenyReason::reason);
        self.record(mode, reason);
        if mode == RolloutMode::Shadow {
            Verdict::Shadow(result)
        } else {
            Verdict::Enforced(result)
        }
    }

    /// Counts a decision taken elsewhere in `mode` (read earlier with [`mode`](Self::mode)):
    /// `denied` is the reason when the check failed. Logs a `would_deny`; other outcomes are
    /// counted only (the caller's own events, such as the access log, show them).
    pub fn record(&self, mode: RolloutMode, denied: Option<&str>) -> Option<Outcome> {
        let outcome = count_decision(self.flag, mode, denied.is_some())?;
        if outcome == Outcome::WouldDeny {
            tracing::warn!(
                target: ROLLOUT_TARGET,
                flag = self.flag,
                mode = mode.as_str(),
                outcome = outcome.as_str(),
                reason = denied.unwrap_or_default(),
                "rollout check would deny (shadow mode: the old action was taken)"
            );
        }
        Some(outcome)
    }

    /// Counts a decision without logging it (for a caller that logs its own, richer event).
    pub fn count(&self, mode: RolloutMode, denied: bool) -> Option<Outcome> {
        count_decision(self.flag, mode, denied)
    }
}

/// [`Gate::count`] for a caller that kept only the flag's name and the mode it read (a
/// response future, which should not hold a clone of the gate per request).
pub fn count_decision(flag: &'static str, mode: RolloutMode, denied: bool) -> Option<Outcome> {
    let outcome = Outcome::of(mode, denied)?;
    // PERF: the same counter `metrics::counter!(DECISIONS_TOTAL, "flag" => flag, "outcome" =>
    // outcome)` registers, through a `'static` key made once per flag: the macro builds a key
    // with a fresh label vector and hashes it on every call, and the recorder clones it again
    // (`Key::to_retained`); a static key carries its hash and clones without allocating. On
    // the guard's error path (one decision per error response) this measured ~1,000 fewer
    // instructions per request (`benches/benches/instructions.rs`).
    let key = decision_key(flag, outcome);
    metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA)).increment(1);
    Some(outcome)
}

/// What `metrics::counter!` passes for a counter of this module.
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The four keys of one flag, by [`Outcome`] (`allow`, `deny`, `would_allow`, `would_deny`).
type DecisionKeys = [metrics::Key; 4];

/// Keys made so far, by flag: flags are `'static` names from code, so the list is as small as
/// the set of gates, and each entry is made (and leaked) once per process.
static DECISION_KEYS: std::sync::Mutex<Vec<(&'static str, &'static DecisionKeys)>> =
    std::sync::Mutex::new(Vec::new());

thread_local! {
    /// This thread's copy of the entries it used, so a decision takes no lock.
    static LOCAL_DECISION_KEYS: std::cell::RefCell<Vec<(&'static str, &'static DecisionKeys)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn decision_key(flag: &'static str, outcome: Outcome) -> &'static metrics::Key {
    let index = match outcome {
        Outcome::Allow => 0,
        Outcome::Deny => 1,
        Outcome::WouldAllow => 2,
        Outcome::WouldDeny => 3,
    };
    let keys = LOCAL_DECISION_KEYS.with(|local| {
        if let Some((_, keys)) = local.borrow().iter().find(|(name, _)| *name == flag) {
            return *keys;
        }
        let keys = shared_decision_keys(flag);
        local.borrow_mut().push((flag, keys));
        keys
    });
    &keys[index]
}

fn shared_decision_keys(flag: &'static str) -> &'static DecisionKeys {
    let mut shared = DECISION_KEYS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, keys)) = shared.iter().find(|(name, _)| *name == flag) {
        return keys;
    }
    let key = |outcome: Outcome| {
        let labels: &'static [metrics::Label] = Box::leak(Box::new([
            metrics::Label::from_static_parts("flag", flag),
            metrics::Label::from_static_parts("outcome", outcome.as_str()),
        ]));
        metrics::Key::from_static_parts(DECISIONS_TOTAL, labels)
    };
    let keys: &'static DecisionKeys = Box::leak(Box::new([
        key(Outcome::Allow),
        key(Outcome::Deny),
        key(Outcome::WouldAllow),
        key(Outcome::WouldDeny),
    ]));
    shared.push((flag, keys));
    keys
}
