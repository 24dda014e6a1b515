//! The [`Redactor`]: the public entry points, tying together the prefilter, the matching
//! engine, the registry of runtime secrets and the counters.

use std::{
    borrow::Cow,
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use arc_swap::ArcSwapOption;
use hmac::Hmac;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::{
    builder::RedactorBuilder,
    counters::{Counters, OVERSIZED_RULE_ID, RuleCount},
    engine::{ActiveRule, Engine},
    keys::is_placeholder_value,
    marker::{self, Method, Renderer},
    neutralize,
    prefilter::{Prefilter, Triggers},
    registry::{RegisterSecretError, Registry},
    rules::RULES,
};

/// The rule id of JSON members and tracing fields redacted because of their name.
pub(crate) const FIELD_RULE_ID: &str = "secret-field";

struct Inner {
    engine: Engine,
    triggers: Triggers,
    /// The prefilter of the rules' keywords, until a secret is registered.
    keywords: Prefilter,
    /// The prefilter of the keywords and the registered secrets, swapped at each registration.
    with_secrets: ArcSwapOption<Prefilter>,
    /// Whether `with_secrets` is set. PERF: one atomic load instead of an `ArcSwap` load (~50
    /// instructions, a fiftieth of a clean line's scan) while no secret is registered.
    registered: AtomicBool,
    registry: Mutex<Registry>,
    max_value_len: usize,
    counters: Counters,
    /// The catalogue index of `secret-field`, whose counter JSON members redacted by key share.
    field_counter: usize,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY: the prefilter holds registered secrets' bytes; only labels are printed.
        f.debug_struct("Redactor")
            .field(
                "rules",
                &self
                    .engine
                    .rules
                    .iter()
                    .map(|rule| rule.def.id)
                    .collect::<Vec<_>>(),
            )
            .field("renderer", &self.engine.renderer)
            .field("max_value_len", &self.max_value_len)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

/// The redaction engine. Cheap to clone: clones share the rules, the registered secrets and
/// the counters.
///
/// ```
/// use stanchion_redact::Redactor;
///
/// let redactor = Redactor::new();
/// let line = "login ok password=hunter22 user=ana";
/// assert_eq!(redactor.redact(line), "login ok password=[REDACTED:secret-field] user=ana");
/// ```
#[derive(Clone, Debug)]
pub struct Redactor {
    inner: Arc<Inner>,
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

impl Redactor {
    /// Every default rule (everything but PII), markers naming the rule, 64 KiB value limit.
    pub fn new() -> Self {
        // The default configuration is valid by construction (tested).
        Self::builder()
            .build()
            .expect("the default redactor configuration is valid")
    }

    /// A builder to choose the method, the PII rules and the size limit.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// A redactor of the given catalogue rules (in catalogue order); the builder has checked
    /// the configuration.
    pub(crate) fn from_parts(
        catalogue_indices: impl Iterator<Item = usize>,
        method: Method,
        hash_key: Option<Hmac<Sha256>>,
        max_value_len: usize,
    ) -> Self {
        let rules: Vec<ActiveRule> = catalogue_indices.map(ActiveRule::new).collect();
        let triggers = Triggers::new(rules.iter().map(|rule| rule.def));
        let keywords = Prefilter::build(&triggers.keywords, &[]);
        Self {
            inner: Arc::new(Inner {
                engine: Engine {
                    rules,
                    renderer: Renderer::new(method, hash_key),
                },
                triggers,
                keywords,
                with_secrets: ArcSwapOption::empty(),
                registered: AtomicBool::new(false),
                registry: Mutex::new(Registry::default()),
                max_value_len,
                counters: Counters::new(),
                field_counter: RULES
                    .iter()
                    .position(|rule| rule.id == FIELD_RULE_ID)
                    .unwrap_or(RULES.len()),
            }),
        }
    }

    /// `input` with every secret replaced. Borrowed, without allocating, when nothing matched.
    ///
    /// A value longer than the size limit is replaced whole by `[REDACTED:oversized]`.
    pub fn redact<'a>(&self, input: &'a str) -> Cow<'a, str> {
        if input.len() > self.inner.max_value_len {
            return Cow::Owned(self.oversized());
        }
        self.with_prefilter(|prefilter| {
            let skipped = if prefilter.literals.as_ref().is_some_and(|l| l.spans_prefix) {
                0
            } else {
                crate::prefilter::text_fixed_prefix(input)
            };
            let (candidates, literal_hit) =
                self.inner.triggers.candidates(prefilter, &input[skipped..]);
            if candidates.is_empty() && !literal_hit {
                return Cow::Borrowed(input);
            }
            let literals = if literal_hit {
                prefilter.literals.as_ref()
            } else {
                None
            };
            self.inner
                .engine
                .run(input, candidates, literals, &self.inner.counters)
        })
    }

    /// Runs `scan` with the current prefilter: the keywords' own, or once a secret is
    /// registered, the swapped one that holds the secrets too.
    fn with_prefilter<R>(&self, scan: impl FnOnce(&Prefilter) -> R) -> R {
        if self.inner.registered.load(Ordering::Acquire)
            && let Some(prefilter) = self.inner.with_secrets.load().as_deref()
        {
            return scan(prefilter);
        }
        scan(&self.inner.keywords)
    }

    /// CR, LF and other control characters made visible (`\n`, `\u{1b}`), so one value cannot
    /// forge or hide log lines (CWE-117), then [`Redactor::redact`].
    ///
    /// Neutralizing first means the rules see the line as it will be written, so redacting the
    /// output again changes nothing; a value ends at the `\` of an escape as it ended at the
    /// control character.
    pub fn redact_log_line<'a>(&self, input: &'a str) -> Cow<'a, str> {
        match neutralize::neutralize_text(input) {
            Cow::Borrowed(text) => self.redact(text),
            Cow::Owned(text) => Cow::Owned(self.redact(&text).into_owned()),
        }
    }

    /// A JSON document (one log line) with every string redacted and every member whose key
    /// names a secret replaced whole; the output is valid JSON with the same members in the
    /// same order. Dangerous characters inside strings are written as `\u` escapes.
    ///
    /// When `line` is not JSON, it is treated as text ([`Redactor::redact_log_line`]).
    pub fn redact_json_line<'a>(&self, line: &'a str) -> Cow<'a, str> {
        if !self.json_needs_rewrite(line) {
            return Cow::Borrowed(line);
        }
        match crate::json::rewrite(self, line) {
            Ok(rewritten) => rewritten,
            Err(crate::json::NotJson) => self.redact_log_line(line),
        }
    }

    /// Registers an exact value to be redacted wherever it appears, as
    /// `[REDACTED:registered-secret:<label>]`. Visible to every clone at once; safe while other
    /// threads redact (the matcher is rebuilt and swapped).
    ///
    /// Values shorter than [`crate::MIN_SECRET_LEN`] bytes, or that would match the markers
    /// themselves, are refused: the label is kept in [`Redactor::refused_secrets`]. Use
    /// [`Redactor::try_register_secret`] to get the reason as an error.
    pub fn register_secret(&self, label: &str, secret: &str) {
        // The refusal is recorded in the registry; callers that want it use `try_`.
        let _refused = self.try_register_secret(label, secret);
    }

    /// [`Redactor::register_secret`], returning why a value was refused.
    pub fn try_register_secret(
        &self,
        label: &str,
        secret: &str,
    ) -> Result<(), RegisterSecretError> {
        let mut registry = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(secrets) = registry.register(label, secret)? {
            // Built while the registry is locked, so concurrent registrations swap in order.
            let prefilter = Prefilter::build(&self.inner.triggers.keywords, &secrets);
            self.inner.with_secrets.store(Some(Arc::new(prefilter)));
            self.inner.registered.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Registers a [`SecretString`] (for example every secret the configuration service
    /// loads); see [`Redactor::register_secret`].
    pub fn register_secret_string(&self, label: &str, secret: &SecretString) {
        self.register_secret(label, secret.expose_secret());
    }

    /// The sanitized labels of registered secrets that were refused.
    pub fn refused_secrets(&self) -> Vec<String> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .refused()
            .to_vec()
    }

    /// How many values each enabled rule has redacted (no values, only counts), plus
    /// [`crate::REGISTERED_RULE_ID`] and [`OVERSIZED_RULE_ID`]. Shared by all clones.
    pub fn counts(&self) -> Vec<RuleCount> {
        self.inner.counters.report(
            self.inner
                .engine
                .rules
                .iter()
                .map(|rule| (rule.def.id, rule.counter)),
        )
    }

    /// The total of [`Redactor::counts`].
    pub fn total_count(&self) -> u64 {
        self.inner.counters.total()
    }

    /// The ids of the enabled rules, in application order.
    pub fn enabled_rules(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.inner.engine.rules.iter().map(|rule| rule.def.id)
    }

    /// The size limit of one value, in bytes.
    pub fn max_value_len(&self) -> usize {
        self.inner.max_value_len
    }

    // --- internals shared with the JSON rewriter ---------------------------------------------

    /// Whether a JSON line can be passed through untouched: no keyword, no dangerous character,
    /// no escape that could hide a keyword (`\/`, `\u`), no value over the limit.
    fn json_needs_rewrite(&self, line: &str) -> bool {
        if line.len() > self.inner.max_value_len || neutralize::may_need_neutralizing(line) {
            return true;
        }
        let bytes = line.as_bytes();
        if memchr::memchr_iter(b'\\', bytes).any(|i| matches!(bytes.get(i + 1), Some(b'/' | b'u')))
        {
            return true;
        }
        let (candidates, literal_hit) = self.with_prefilter(|prefilter| {
            let scanned = if prefilter.literals.as_ref().is_some_and(|l| l.spans_prefix) {
                line
            } else {
                &line[crate::prefilter::json_fixed_prefix(line)..]
            };
            self.inner.triggers.candidates(prefilter, scanned)
        });
        !candidates.is_empty() || literal_hit
    }

    /// Appends the replacement of a JSON member's value redacted because of its key.
    pub(crate) fn render_field(&self, out: &mut String, value: &str) {
        self.inner.counters.add(self.inner.field_counter);
        self.inner
            .engine
            .renderer
            .render(out, FIELD_RULE_ID, None, value);
    }

    pub(crate) fn field_is_redactable(value: &str) -> bool {
        !is_placeholder_value(value)
    }

    /// The replacement of a value over the size limit; its length stays out of the marker too.
    pub(crate) fn oversized(&self) -> String {
        self.inner.counters.add(Counters::OVERSIZED);
        let mut out = String::new();
        marker::push_marker(&mut out, OVERSIZED_RULE_ID, None, None);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_is_scanned_by_simd_searchers() {
        let redactor = Redactor::builder().with_pii(true).build().unwrap();
        assert!(redactor.with_prefilter(Prefilter::uses_packed_searchers));
        redactor.register_secret("K", "a-registered-value");
        assert!(redactor.with_prefilter(|prefilter| {
            prefilter.literals.is_some() && prefilter.uses_packed_searchers()
        }));
    }

    #[test]
    fn a_registered_secret_across_the_end_of_a_text_lines_fixed_prefix_is_found() {
        let redactor = Redactor::new();
        let line = "2026-12-01T20:35:12Z  INFO hunter2-horse-staple rest";
        assert!(crate::prefilter::text_fixed_prefix(line) > 0);
        redactor.register_secret("K", "INFO hunter2-horse-staple");
        let redacted = redactor.redact(line);
        assert!(!redacted.contains("hunter2-horse"), "{redacted}");
    }
}
