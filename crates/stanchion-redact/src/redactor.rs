//! The engine: a keyword prefilter gating the catalogue's regexes, plus runtime-registered
//! literal secrets.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    fmt,
    sync::{
        Arc, LazyLock, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use aho_corasick::{AhoCorasick, MatchKind};
use arc_swap::ArcSwap;
use hmac::{Hmac, Mac};
use regex::Regex;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::{
    check,
    keys::{is_header_owned_key, is_placeholder_value, is_sensitive_key_with},
    marker::{self, MARKER_PREFIX, Method, Renderer},
    neutralize,
    rules::{Category, Extract, RULES, RuleDef, Trigger},
};

/// The rule id of values found through [`Redactor::register_secret`].
pub const REGISTERED_RULE_ID: &str = "registered-secret";
/// The rule id of values longer than the size limit, redacted whole.
pub const OVERSIZED_RULE_ID: &str = "oversized";
/// The rule id of JSON members and tracing fields redacted because of their name.
pub(crate) const FIELD_RULE_ID: &str = "secret-field";

/// Registered secrets shorter than this (in bytes) are refused: a short value such as `admin`
/// would redact every occurrence of a common word. Short secrets are still covered by the
/// key-name rules (`password=...`).
pub const MIN_SECRET_LEN: usize = 8;

/// The default size limit of one value (64 KiB). Longer values are redacted whole.
pub const DEFAULT_MAX_VALUE_LEN: usize = 64 * 1024;

/// Rounds over a dirty text at most (a round after the first runs only the rules that have
/// not seen the latest change; three rounds settled every generated case).
const MAX_PASSES: usize = 8;

/// The most patterns one Teddy searcher gets; see `Prefilter::build`.
const PACKED_GROUP: usize = 40;

/// Every catalogue regex, compiled once per process and shared by all redactors.
///
/// PERF: `Regex` clones share the compiled program; each clone keeps its own cache pool.
static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|rule| {
            // The catalogue is a constant; `rules::tests` compiles every pattern.
            Regex::new(rule.pattern).expect("catalogue patterns compile (checked by a unit test)")
        })
        .collect()
});

/// A set of enabled rules, by position among the enabled rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RuleSet(u128);

impl RuleSet {
    fn insert(&mut self, index: usize) {
        self.0 |= 1 << index;
    }
    fn remove(&mut self, index: usize) {
        self.0 &= !(1 << index);
    }
    fn contains(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }
    fn union(&mut self, other: Self) {
        self.0 |= other.0;
    }
    fn is_empty(self) -> bool {
        self.0 == 0
    }
    fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let index = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(index)
        })
    }
}

/// What one rule of the catalogue is, for `--help`, docs and metrics.
#[derive(Clone, Copy)]
pub struct RuleInfo {
    def: &'static RuleDef,
}

impl fmt::Debug for RuleInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleInfo")
            .field("id", &self.def.id)
            .field("category", &self.def.category)
            .field("default_enabled", &self.def.default_enabled)
            .finish()
    }
}

impl RuleInfo {
    /// The stable id, as printed in markers (`[REDACTED:<id>]`) and counters.
    pub fn id(&self) -> &'static str {
        self.def.id
    }
    /// One line saying what the rule finds.
    pub fn description(&self) -> &'static str {
        self.def.description
    }
    /// The kind of secret.
    pub fn category(&self) -> Category {
        self.def.category
    }
    /// Whether [`Redactor::new`] enables the rule (PII rules are opt-in).
    pub fn default_enabled(&self) -> bool {
        self.def.default_enabled
    }
    /// The regex (syntax of the `regex` crate).
    pub fn pattern(&self) -> &'static str {
        self.def.pattern
    }
    /// The case-sensitive literals, one of which must occur before the regex runs; empty for
    /// rules gated by a single byte or run on every line.
    pub fn keywords(&self) -> &'static [&'static str] {
        self.def.keywords
    }
}

/// Every rule of the catalogue, in the order the engine applies them.
pub fn rules() -> impl ExactSizeIterator<Item = RuleInfo> {
    RULES.iter().map(|def| RuleInfo { def })
}

/// How many values one rule has redacted since the redactor was built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleCount {
    /// The rule id (a catalogue id, [`REGISTERED_RULE_ID`] or [`OVERSIZED_RULE_ID`]).
    pub rule: &'static str,
    /// Redacted values so far.
    pub count: u64,
}

/// Why a registered secret was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterSecretError {
    /// The value is shorter than [`MIN_SECRET_LEN`] bytes.
    TooShort {
        /// The sanitized label the caller gave.
        label: String,
        /// The value's length in bytes (not the value).
        len: usize,
    },
    /// The value would match the redactor's own markers or masks.
    LooksLikeAMarker {
        /// The sanitized label the caller gave.
        label: String,
    },
}

impl fmt::Display for RegisterSecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { label, len } => write!(
                f,
                "secret {label:?} was not registered for literal redaction: it is {len} bytes \
                 long and the minimum is {MIN_SECRET_LEN} (short values would redact common \
                 words); key-name rules still cover it"
            ),
            Self::LooksLikeAMarker { label } => write!(
                f,
                "secret {label:?} was not registered for literal redaction: it would match the \
                 redaction markers themselves"
            ),
        }
    }
}

impl std::error::Error for RegisterSecretError {}

/// Why a [`RedactorBuilder`] could not build.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A rule id given to `with_rule` is not in the catalogue.
    UnknownRule(String),
    /// [`Method::Hash`] was chosen without a key.
    HashWithoutKey,
    /// The hash key is shorter than 16 bytes.
    HashKeyTooShort(usize),
    /// The size limit is below 64 bytes, which would redact ordinary log lines whole.
    MaxValueLenTooSmall(usize),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownRule(id) => write!(
                f,
                "unknown redaction rule {id:?}; `stanchion_redact::rules()` lists the ids"
            ),
            Self::HashWithoutKey => f.write_str(
                "the keyed hash method needs a deployment key: call `with_hash_key` (16 bytes \
                 or more)",
            ),
            Self::HashKeyTooShort(len) => write!(
                f,
                "the hash key is {len} bytes; at least 16 are needed so tokens cannot be \
                 brute-forced"
            ),
            Self::MaxValueLenTooSmall(len) => write!(
                f,
                "a size limit of {len} bytes would redact ordinary log lines whole; use 64 or \
                 more"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// Configuration of a [`Redactor`]; builder-lite, checked by [`RedactorBuilder::build`].
#[derive(Clone)]
#[must_use]
pub struct RedactorBuilder {
    method: Method,
    hash_key: Option<Vec<u8>>,
    overrides: Vec<(String, bool)>,
    pii: bool,
    max_value_len: usize,
}

impl fmt::Debug for RedactorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactorBuilder")
            .field("method", &self.method)
            .field("hash_key", &self.hash_key.as_ref().map(|_| "[REDACTED]"))
            .field("overrides", &self.overrides)
            .field("pii", &self.pii)
            .field("max_value_len", &self.max_value_len)
            .finish()
    }
}

impl Default for RedactorBuilder {
    fn default() -> Self {
        Self {
            method: Method::Replace,
            hash_key: None,
            overrides: Vec::new(),
            pii: false,
            max_value_len: DEFAULT_MAX_VALUE_LEN,
        }
    }
}

impl RedactorBuilder {
    /// How secrets are replaced. Default: [`Method::Replace`].
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// The deployment key of [`Method::Hash`] (16 bytes or more). Default: none.
    pub fn with_hash_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.hash_key = Some(key.as_ref().to_vec());
        self
    }

    /// Turns every opt-in PII rule (email, IP addresses, card numbers, IBAN) on or off.
    /// Default: off.
    pub fn with_pii(mut self, enabled: bool) -> Self {
        self.pii = enabled;
        self
    }

    /// Turns one rule on or off by id; applied after [`RedactorBuilder::with_pii`].
    pub fn with_rule(mut self, id: &str, enabled: bool) -> Self {
        self.overrides.push((id.to_owned(), enabled));
        self
    }

    /// The longest value scanned, in bytes; a longer value is replaced whole by
    /// `[REDACTED:oversized]` (fail closed). Default: [`DEFAULT_MAX_VALUE_LEN`].
    pub fn with_max_value_len(mut self, max: usize) -> Self {
        self.max_value_len = max;
        self
    }

    /// Checks the configuration and builds the redactor.
    pub fn build(self) -> Result<Redactor, BuildError> {
        let mut enabled: Vec<bool> = RULES
            .iter()
            .map(|rule| rule.default_enabled || (self.pii && rule.category == Category::Pii))
            .collect();
        for (id, on) in &self.overrides {
            let index = RULES
                .iter()
                .position(|rule| rule.id == id)
                .ok_or_else(|| BuildError::UnknownRule(id.clone()))?;
            enabled[index] = *on;
        }
        if self.max_value_len < 64 {
            return Err(BuildError::MaxValueLenTooSmall(self.max_value_len));
        }
        let hash_key = match (&self.method, &self.hash_key) {
            (Method::Hash, None) => return Err(BuildError::HashWithoutKey),
            (_, Some(key)) if key.len() < 16 => {
                return Err(BuildError::HashKeyTooShort(key.len()));
            }
            (_, Some(key)) => Some(
                Hmac::<Sha256>::new_from_slice(key)
                    .map_err(|_| BuildError::HashKeyTooShort(key.len()))?,
            ),
            (_, None) => None,
        };

        let mut active = Vec::new();
        let mut keyword_sets: BTreeMap<&'static str, (RuleSet, RuleSet)> = BTreeMap::new();
        let mut byte_triggers: Vec<(u8, RuleSet)> = Vec::new();
        let mut memmem_triggers: Vec<(memchr::memmem::Finder<'static>, RuleSet)> = Vec::new();
        let mut always = RuleSet::default();
        for (catalogue_index, rule) in RULES.iter().enumerate() {
            if !enabled[catalogue_index] {
                continue;
            }
            let index = active.len();
            active.push(ActiveRule {
                def: rule,
                regex: COMPILED[catalogue_index].clone(),
                counter: catalogue_index,
            });
            match rule.trigger {
                Trigger::Keywords => {
                    for keyword in rule.keywords {
                        let (rules, named) = keyword_sets.entry(keyword).or_default();
                        if rule.named {
                            named.insert(index);
                        } else {
                            rules.insert(index);
                        }
                    }
                }
                Trigger::Byte(byte) => match byte_triggers.iter_mut().find(|(b, _)| *b == byte) {
                    Some((_, set)) => set.insert(index),
                    None => {
                        let mut set = RuleSet::default();
                        set.insert(index);
                        byte_triggers.push((byte, set));
                    }
                },
                Trigger::Memmem => {
                    for keyword in rule.keywords {
                        let mut set = RuleSet::default();
                        set.insert(index);
                        memmem_triggers.push((memchr::memmem::Finder::new(keyword), set));
                    }
                }
                Trigger::Always => always.insert(index),
            }
        }
        let keywords: Vec<Keyword> = keyword_sets
            .into_iter()
            .map(|(keyword, (rules, named))| (keyword, rules, named))
            .collect();
        let prefilter = Prefilter::build(&keywords, &[]);
        let counters = (0..RULES.len() + 2).map(|_| AtomicU64::new(0)).collect();
        Ok(Redactor {
            inner: Arc::new(Inner {
                rules: active,
                keywords,
                byte_triggers,
                memmem_triggers,
                always,
                prefilter: ArcSwap::from_pointee(prefilter),
                registry: Mutex::new(Registry::default()),
                renderer: Renderer::new(self.method, hash_key),
                max_value_len: self.max_value_len,
                counters,
                field_counter: RULES
                    .iter()
                    .position(|rule| rule.id == FIELD_RULE_ID)
                    .unwrap_or(RULES.len()),
            }),
        })
    }
}

/// A prefilter keyword, the rules it always triggers, and the name-keyed rules it triggers
/// when a separator follows.
type Keyword = (&'static str, RuleSet, RuleSet);

#[derive(Debug)]
struct ActiveRule {
    def: &'static RuleDef,
    regex: Regex,
    counter: usize,
}

/// What a prefilter match means: the rules to run and whether a registered secret may occur.
///
/// Each pattern's entry is the union over every pattern it contains (itself included), because
/// a leftmost-longest match hides the shorter keywords inside it.
#[derive(Clone, Copy, Debug, Default)]
struct PatternKind {
    /// Rules that run whenever the keyword occurs.
    rules: RuleSet,
    /// Rules keyed on a name (`password=`, `Authorization:`): they run only when the name the
    /// keyword sits in is followed by a separator, so prose ("passed", "tokenizer") costs no
    /// regex.
    named: RuleSet,
    literal: bool,
}

/// The literal matcher of registered secrets (leftmost-longest, so the whole value goes).
#[derive(Debug)]
struct Literals {
    matcher: AhoCorasick,
    labels: Vec<Arc<str>>,
}

/// The scan every line goes through: rule keywords and registered secrets, found by grouped
/// Teddy searchers (or, where Teddy cannot be built, one aho-corasick automaton).
#[derive(Debug)]
struct Prefilter {
    /// Teddy searchers over groups of at most [`PACKED_GROUP`] patterns, each with the global
    /// pattern ids of its group; empty when one could not be built (then `automaton` runs).
    packed: Vec<(aho_corasick::packed::Searcher, Vec<usize>)>,
    automaton: Option<AhoCorasick>,
    kinds: Vec<PatternKind>,
    literals: Option<Literals>,
}

impl Prefilter {
    /// PERF: case-sensitive (casings are listed in the catalogue) and leftmost-longest:
    /// overlapping search, the obvious choice for "which keywords occur", has no packed
    /// (SIMD) searcher at all in aho-corasick.
    fn build(keywords: &[Keyword], secrets: &[(Arc<str>, String)]) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        let mut own = Vec::new();
        for (keyword, rules, named) in keywords {
            patterns.push((*keyword).to_owned());
            own.push(PatternKind {
                rules: *rules,
                named: *named,
                literal: false,
            });
        }
        let mut literal_patterns: Vec<String> = Vec::new();
        let mut labels = Vec::new();
        for (label, secret) in secrets {
            // A secret with quotes, backslashes or control characters appears JSON-escaped in
            // a JSON line; match that spelling too.
            let mut escaped = String::new();
            neutralize::push_json_string(&mut escaped, secret);
            let escaped = escaped[1..escaped.len() - 1].to_owned();
            for spelling in [secret.clone(), escaped] {
                if !literal_patterns.contains(&spelling) {
                    literal_patterns.push(spelling.clone());
                    labels.push(Arc::clone(label));
                    patterns.push(spelling);
                    own.push(PatternKind {
                        literal: true,
                        ..PatternKind::default()
                    });
                }
            }
        }
        let kinds = patterns
            .iter()
            .map(|outer| {
                let mut kind = PatternKind::default();
                for (inner, inner_kind) in patterns.iter().zip(&own) {
                    if outer.contains(inner.as_str()) {
                        kind.rules.union(inner_kind.rules);
                        kind.named.union(inner_kind.named);
                        kind.literal |= inner_kind.literal;
                    }
                }
                kind
            })
            .collect();
        // The fallback automaton. Building cannot fail for literal patterns this small (limits
        // are in the millions of states); if it ever did, `None` makes every rule run on every
        // line (fail closed).
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok();
        // PERF: Teddy's nibble fingerprints saturate beyond a few dozen patterns (aho-corasick
        // then skips Teddy: our ~110 keywords ran the automaton at ~350 MB/s). Three Teddy
        // scans over groups of at most 40 sorted keywords measured ~4x faster than one scan
        // over all of them on ~200-byte lines (docs/benchmarks.md).
        let group_count = patterns.len().div_ceil(PACKED_GROUP).max(1);
        let group_len = patterns.len().div_ceil(group_count).max(1);
        let mut packed = Vec::new();
        for (group, chunk) in patterns.chunks(group_len).enumerate() {
            let searcher = aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostLongest)
                .builder()
                .extend(chunk)
                .build();
            match searcher {
                Some(searcher) => {
                    let ids = (group * group_len..group * group_len + chunk.len()).collect();
                    packed.push((searcher, ids));
                }
                None => {
                    packed.clear();
                    break;
                }
            }
        }
        let literals = if literal_patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&literal_patterns)
                .ok()
                .map(|matcher| Literals { matcher, labels })
        };
        Self {
            packed,
            automaton,
            kinds,
            literals,
        }
    }
}

#[derive(Default)]
struct Registry {
    secrets: Vec<(Arc<str>, SecretString)>,
    refused: Vec<String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY: labels only, never values.
        f.debug_struct("Registry")
            .field(
                "labels",
                &self.secrets.iter().map(|(l, _)| l).collect::<Vec<_>>(),
            )
            .field("refused", &self.refused)
            .finish()
    }
}

struct Inner {
    rules: Vec<ActiveRule>,
    keywords: Vec<Keyword>,
    byte_triggers: Vec<(u8, RuleSet)>,
    memmem_triggers: Vec<(memchr::memmem::Finder<'static>, RuleSet)>,
    always: RuleSet,
    prefilter: ArcSwap<Prefilter>,
    registry: Mutex<Registry>,
    renderer: Renderer,
    max_value_len: usize,
    /// One counter per catalogue rule, then registered secrets, then oversized values.
    counters: Box<[AtomicU64]>,
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
                    .rules
                    .iter()
                    .map(|rule| rule.def.id)
                    .collect::<Vec<_>>(),
            )
            .field("renderer", &self.renderer)
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

    /// `input` with every secret replaced. Borrowed, without allocating, when nothing matched.
    ///
    /// A value longer than the size limit is replaced whole by `[REDACTED:oversized]`.
    pub fn redact<'a>(&self, input: &'a str) -> Cow<'a, str> {
        if input.len() > self.inner.max_value_len {
            return Cow::Owned(self.oversized());
        }
        let prefilter = self.inner.prefilter.load();
        let (candidates, literal_hit) = self.candidates(&prefilter, input);
        if candidates.is_empty() && !literal_hit {
            return Cow::Borrowed(input);
        }
        let mut text = Cow::Borrowed(input);
        if literal_hit && let Some(replaced) = self.apply_literals(&prefilter, &text) {
            text = Cow::Owned(replaced);
        }
        // A replacement can complete another rule's match (a token glued to the next one only
        // ends at a word boundary once its neighbour became a marker). So every rule that has
        // not seen the latest text runs again, until a fixpoint: fail closed, and idempotent
        // by construction. It terminates: each change turns non-marker text into markers,
        // which no rule touches again. PERF: rules after the change in the same round have
        // seen it already; a line with one token costs that rule a second run.
        let mut stale = candidates;
        for _round in 0..MAX_PASSES {
            if stale.is_empty() {
                break;
            }
            for index in stale.iter() {
                if !stale.contains(index) {
                    continue;
                }
                stale.remove(index);
                if let Some(replaced) = self.apply_rule(&self.inner.rules[index], &text) {
                    text = Cow::Owned(replaced);
                    // The rule itself too: its own marker can end a value differently.
                    stale = candidates;
                }
            }
        }
        text
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
    /// Values shorter than [`MIN_SECRET_LEN`] bytes, or that would match the markers
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
        let label = marker::sanitize_label(label);
        let mut registry = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let refusal = if secret.len() < MIN_SECRET_LEN {
            Some(RegisterSecretError::TooShort {
                label: label.clone(),
                len: secret.len(),
            })
        } else if secret.contains(MARKER_PREFIX)
            || MARKER_PREFIX.contains(secret)
            || marker::is_already_redacted(secret)
        {
            Some(RegisterSecretError::LooksLikeAMarker {
                label: label.clone(),
            })
        } else {
            None
        };
        if let Some(error) = refusal {
            registry.refused.push(label);
            return Err(error);
        }
        if registry
            .secrets
            .iter()
            .any(|(_, known)| known.expose_secret() == secret)
        {
            return Ok(());
        }
        registry
            .secrets
            .push((Arc::from(label.as_str()), SecretString::from(secret)));
        // Longest first, so a secret that contains another is redacted whole.
        let mut plain: Vec<(Arc<str>, String)> = registry
            .secrets
            .iter()
            .map(|(label, secret)| (Arc::clone(label), secret.expose_secret().to_owned()))
            .collect();
        plain.sort_by_key(|(_, secret)| std::cmp::Reverse(secret.len()));
        let prefilter = Prefilter::build(&self.inner.keywords, &plain);
        self.inner.prefilter.store(Arc::new(prefilter));
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
            .refused
            .clone()
    }

    /// How many values each enabled rule has redacted (no values, only counts), plus
    /// [`REGISTERED_RULE_ID`] and [`OVERSIZED_RULE_ID`]. Shared by all clones.
    pub fn counts(&self) -> Vec<RuleCount> {
        let mut counts: Vec<RuleCount> = self
            .inner
            .rules
            .iter()
            .map(|rule| RuleCount {
                rule: rule.def.id,
                count: self.inner.counters[rule.counter].load(Ordering::Relaxed),
            })
            .collect();
        counts.push(RuleCount {
            rule: REGISTERED_RULE_ID,
            count: self.inner.counters[RULES.len()].load(Ordering::Relaxed),
        });
        counts.push(RuleCount {
            rule: OVERSIZED_RULE_ID,
            count: self.inner.counters[RULES.len() + 1].load(Ordering::Relaxed),
        });
        counts
    }

    /// The total of [`Redactor::counts`].
    pub fn total_count(&self) -> u64 {
        self.inner
            .counters
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// The ids of the enabled rules, in application order.
    pub fn enabled_rules(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.inner.rules.iter().map(|rule| rule.def.id)
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
        let prefilter = self.inner.prefilter.load();
        let (candidates, literal_hit) = self.candidates(&prefilter, line);
        !candidates.is_empty() || literal_hit
    }

    /// Appends the replacement of a JSON member's value redacted because of its key.
    pub(crate) fn render_field(&self, out: &mut String, value: &str) {
        self.count(self.inner.field_counter);
        self.inner.renderer.render(out, FIELD_RULE_ID, None, value);
    }

    pub(crate) fn field_is_redactable(value: &str) -> bool {
        !is_placeholder_value(value)
    }

    /// The replacement of a value over the size limit; its length stays out of the marker too.
    pub(crate) fn oversized(&self) -> String {
        self.count(RULES.len() + 1);
        let mut out = String::new();
        marker::push_marker(&mut out, OVERSIZED_RULE_ID, None, None);
        out
    }

    fn count(&self, counter: usize) {
        if let Some(counter) = self.inner.counters.get(counter) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The rules whose keywords (or trigger bytes) occur in `text`, and whether a registered
    /// secret may occur.
    fn candidates(&self, prefilter: &Prefilter, text: &str) -> (RuleSet, bool) {
        let mut candidates = self.inner.always;
        let mut literal_hit = false;
        for (byte, set) in &self.inner.byte_triggers {
            if memchr::memchr(*byte, text.as_bytes()).is_some() {
                candidates.union(*set);
            }
        }
        for (finder, set) in &self.inner.memmem_triggers {
            if finder.find(text.as_bytes()).is_some() {
                candidates.union(*set);
            }
        }
        if !prefilter.packed.is_empty() {
            for (searcher, ids) in &prefilter.packed {
                let mut at = 0;
                while let Some(found) =
                    searcher.find_in(text, aho_corasick::Span::from(at..text.len()))
                {
                    let kind = prefilter.kinds[ids[found.pattern().as_usize()]];
                    candidates.union(kind.rules);
                    if !kind.named.is_empty() && separator_follows(text.as_bytes(), found.end()) {
                        candidates.union(kind.named);
                    }
                    literal_hit |= kind.literal;
                    at = found.start() + 1;
                }
            }
            return (candidates, literal_hit);
        }
        match &prefilter.automaton {
            Some(automaton) => {
                // PERF: one prefiltered scan; a clean line ends at the first `find`. After a
                // match the search resumes one byte after its start, not at its end, so a
                // keyword that starts inside another one is still seen; keywords contained in
                // a match are covered by the union in `PatternKind`.
                let mut at = 0;
                while let Some(found) =
                    automaton.find(aho_corasick::Input::new(text).span(at..text.len()))
                {
                    let kind = prefilter.kinds[found.pattern().as_usize()];
                    candidates.union(kind.rules);
                    if !kind.named.is_empty() && separator_follows(text.as_bytes(), found.end()) {
                        candidates.union(kind.named);
                    }
                    literal_hit |= kind.literal;
                    at = found.start() + 1;
                }
            }
            None => {
                // SECURITY: no automaton (cannot happen in practice): run everything.
                for index in 0..self.inner.rules.len() {
                    candidates.insert(index);
                }
                literal_hit = prefilter.literals.is_some();
            }
        }
        (candidates, literal_hit)
    }

    fn apply_literals(&self, prefilter: &Prefilter, text: &str) -> Option<String> {
        let literals = prefilter.literals.as_ref()?;
        let mut out = String::new();
        let mut last = 0;
        for found in literals.matcher.find_iter(text) {
            out.push_str(&text[last..found.start()]);
            let label = &literals.labels[found.pattern().as_usize()];
            self.count(RULES.len());
            self.inner.renderer.render(
                &mut out,
                REGISTERED_RULE_ID,
                Some(label),
                &text[found.start()..found.end()],
            );
            last = found.end();
        }
        if last == 0 && out.is_empty() {
            return None;
        }
        out.push_str(&text[last..]);
        Some(out)
    }

    fn apply_rule(&self, rule: &ActiveRule, text: &str) -> Option<String> {
        // Markers of earlier rules (`[REDACTED:registered-secret:DB_KEY]`) look like text to
        // later rules; nothing inside one is ever redacted again (idempotence).
        let markers = marker_spans(text);
        let inside_marker =
            |start: usize, end: usize| markers.iter().any(|(s, e)| start < *e && *s < end);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let simple = rule.def.extract == Extract::Group && rule.regex.captures_len() == 1;
        if simple {
            // PERF: no capture group, so the faster `find` engines suffice.
            for found in rule.regex.find_iter(text) {
                push_outside_markers(&mut spans, text, &markers, found.start(), found.end());
            }
        }
        let captures = (!simple).then(|| rule.regex.captures_iter(text));
        for caps in captures.into_iter().flatten() {
            let Some(whole) = caps.get(0) else { continue };
            match rule.def.extract {
                Extract::Group => {
                    let found = caps.name("s").or_else(|| caps.name("s2")).unwrap_or(whole);
                    push_outside_markers(&mut spans, text, &markers, found.start(), found.end());
                }
                Extract::KeyValue => {
                    let (Some(key), Some(value)) = (caps.name("k"), caps.name("s")) else {
                        continue;
                    };
                    let query = rule.def.category == Category::Url;
                    if !is_sensitive_key_with(key.as_str(), query)
                        || (!query && is_header_owned_key(key.as_str()))
                        || inside_marker(key.start(), key.end())
                    {
                        continue;
                    }
                    let (start, end) = unquote(text, value.start(), value.end());
                    if !is_placeholder_value(&text[start..end]) {
                        push_outside_markers(&mut spans, text, &markers, start, end);
                    }
                }
                Extract::CookieList | Extract::SetCookie => {
                    let Some(list) = caps.name("s") else { continue };
                    let mut offset = list.start();
                    for part in list.as_str().split(';') {
                        let (start, end) = (offset, offset + part.len());
                        offset = end + 1;
                        let (start, end) = match part.find('=') {
                            Some(eq) => (start + eq + 1, end),
                            None => (start, end),
                        };
                        let (start, end) = trim_span(text, start, end);
                        if !is_placeholder_value(&text[start..end]) {
                            push_outside_markers(&mut spans, text, &markers, start, end);
                        }
                        if rule.def.extract == Extract::SetCookie {
                            break;
                        }
                    }
                }
                Extract::Luhn | Extract::Iban | Extract::Ip => {
                    let ok = match rule.def.extract {
                        Extract::Luhn => check::luhn(whole.as_str()),
                        Extract::Iban => check::iban(whole.as_str()),
                        _ => check::ip(whole.as_str()),
                    };
                    if ok {
                        push_outside_markers(
                            &mut spans,
                            text,
                            &markers,
                            whole.start(),
                            whole.end(),
                        );
                    }
                }
            }
        }
        if spans.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len() + spans.len() * 24);
        let mut last = 0;
        for (start, end) in spans {
            out.push_str(&text[last..start]);
            self.count(rule.counter);
            self.inner
                .renderer
                .render(&mut out, rule.def.id, None, &text[start..end]);
            last = end;
        }
        out.push_str(&text[last..]);
        // A mask over a mask changes nothing: report no change, so the fixpoint is reached.
        (out != text).then_some(out)
    }
}

/// Whether the name a keyword ends in at `end` is followed by a key-value separator:
/// the rest of the name (`[A-Za-z0-9_.-]`), optional quotes (`"`, `'`, `\"`), a little
/// whitespace, then `=` or `:`. Keywords that end with the separator (`code=`) pass.
///
/// This is a necessary condition of every name-keyed rule's regex (see `kv_sep!` in the
/// catalogue), so skipping the regex when it fails loses no match.
fn separator_follows(text: &[u8], end: usize) -> bool {
    if end > 0 && matches!(text[end - 1], b'=' | b':') {
        return true;
    }
    let mut at = end;
    while at < text.len()
        && (text[at].is_ascii_alphanumeric() || matches!(text[at], b'_' | b'.' | b'-'))
    {
        at += 1;
    }
    let mut skipped = 0;
    while at < text.len() && skipped < 3 && matches!(text[at], b'"' | b'\'' | b'\\') {
        at += 1;
        skipped += 1;
    }
    let mut spaces = 0;
    while at < text.len() && spaces < 3 && text[at].is_ascii_whitespace() {
        at += 1;
        spaces += 1;
    }
    at < text.len() && matches!(text[at], b'=' | b':')
}

/// The byte ranges of the markers in `text` (`[REDACTED` up to the next `]`).
fn marker_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    for start in memchr::memmem::find_iter(text.as_bytes(), MARKER_PREFIX) {
        let end = text[start..]
            .find(']')
            .map_or(text.len(), |e| start + e + 1);
        spans.push((start, end));
    }
    spans
}

/// Records the parts of a secret span that lie outside markers: a marker inside a value
/// stays as it is, and the text around it is still redacted (fail closed, idempotent).
fn push_outside_markers(
    spans: &mut Vec<(usize, usize)>,
    text: &str,
    markers: &[(usize, usize)],
    start: usize,
    end: usize,
) {
    let mut from = start;
    for &(marker_start, marker_end) in markers {
        if marker_end <= from || marker_start >= end {
            continue;
        }
        if marker_start > from {
            push_span(spans, text, from, marker_start);
        }
        from = from.max(marker_end);
    }
    if from < end {
        push_span(spans, text, from, end);
    }
}

/// Records a secret span unless it is empty or already a marker or mask.
fn push_span(spans: &mut Vec<(usize, usize)>, text: &str, start: usize, end: usize) {
    if start < end && !marker::is_already_redacted(&text[start..end]) {
        spans.push((start, end));
    }
}

/// The inside of a quoted value (`"v"`, `'v'`, `\"v\"`), or the value itself.
fn unquote(text: &str, start: usize, end: usize) -> (usize, usize) {
    let value = &text[start..end];
    if value.len() >= 4 && value.starts_with("\\\"") && value.ends_with("\\\"") {
        (start + 2, end - 2)
    } else if value.len() >= 2
        && (value.starts_with('"') && value.ends_with('"')
            || value.starts_with('\'') && value.ends_with('\''))
    {
        (start + 1, end - 1)
    } else {
        (start, end)
    }
}

fn trim_span(text: &str, start: usize, end: usize) -> (usize, usize) {
    let part = &text[start..end];
    let leading = part.len() - part.trim_start().len();
    let trailing = part.len() - part.trim_end().len();
    if leading + trailing >= part.len() {
        (start, start)
    } else {
        (start + leading, end - trailing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_builds() {
        assert!(Redactor::builder().build().is_ok());
        assert!(Redactor::builder().with_pii(true).build().is_ok());
    }

    #[test]
    fn invalid_configurations_say_why() {
        let unknown = Redactor::builder()
            .with_rule("nope", true)
            .build()
            .unwrap_err();
        assert!(unknown.to_string().contains("nope"));
        assert_eq!(
            Redactor::builder()
                .with_method(Method::Hash)
                .build()
                .unwrap_err(),
            BuildError::HashWithoutKey
        );
        assert_eq!(
            Redactor::builder()
                .with_hash_key("short")
                .build()
                .unwrap_err(),
            BuildError::HashKeyTooShort(5)
        );
        assert_eq!(
            Redactor::builder()
                .with_max_value_len(10)
                .build()
                .unwrap_err(),
            BuildError::MaxValueLenTooSmall(10)
        );
    }

    #[test]
    fn keywords_fit_the_simd_prefilter_with_room_for_registered_secrets() {
        let redactor = Redactor::builder().with_pii(true).build().unwrap();
        let count = redactor.inner.keywords.len();
        assert!(
            count <= 112,
            "{count} keywords leave too little room under Teddy's 128"
        );
    }

    #[test]
    fn separators_are_found_after_the_name() {
        let yes = |text: &str, keyword: &str| {
            let end = text.find(keyword).unwrap() + keyword.len();
            separator_follows(text.as_bytes(), end)
        };
        assert!(yes("password=x", "pass"));
        assert!(yes("db_password_v2 : x", "pass"));
        assert!(yes(r#"{"password": "x"}"#, "pass"));
        assert!(yes(r#"{\"password\":\"x\"}"#, "pass"));
        assert!(yes("?code=abc", "code="));
        assert!(!yes("check passed in 3 ms", "pass"));
        assert!(!yes("password reset", "pass"));
        assert!(!yes("tokenizer ready", "token"));
    }

    #[test]
    fn rule_sets_iterate_in_order() {
        let mut set = RuleSet::default();
        for i in [3, 0, 127, 64] {
            set.insert(i);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 3, 64, 127]);
    }

    #[test]
    fn spans_unquote_and_trim() {
        let text = r#"a="b" c='d' e=\"f\""#;
        assert_eq!(unquote(text, 2, 5), (3, 4));
        assert_eq!(unquote(text, 8, 11), (9, 10));
        assert_eq!(unquote(text, 14, 19), (16, 17));
        assert_eq!(trim_span("  x ", 0, 4), (2, 3));
        assert_eq!(trim_span("   ", 0, 3), (0, 0));
    }
}
