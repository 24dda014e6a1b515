//! The keyword prefilter: which rules can match a line at all, found by SIMD literal scans
//! before any regex runs, plus the literal matcher of registered secrets.

use std::{collections::BTreeMap, sync::Arc};

use aho_corasick::{AhoCorasick, MatchKind};

use crate::{
    neutralize,
    rule_set::RuleSet,
    rules::{RuleDef, Trigger},
};

/// The most patterns one Teddy searcher gets; see `Prefilter::build`.
const PACKED_GROUP: usize = 64;

/// A prefilter keyword, the rules it always triggers, and the name-keyed rules it triggers
/// when a separator follows.
pub(crate) type Keyword = (&'static str, RuleSet, RuleSet);

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
pub(crate) struct Literals {
    pub(crate) matcher: AhoCorasick,
    pub(crate) labels: Vec<Arc<str>>,
}

/// The scan every line goes through: rule keywords and registered secrets, found by grouped
/// Teddy searchers (or, where Teddy cannot be built, one aho-corasick automaton). Rebuilt and
/// swapped when a secret is registered.
#[derive(Debug)]
pub(crate) struct Prefilter {
    /// Teddy searchers over groups of at most [`PACKED_GROUP`] patterns, each with the global
    /// pattern ids of its group; empty when one could not be built (then `automaton` runs).
    packed: Vec<(aho_corasick::packed::Searcher, Vec<usize>)>,
    automaton: Option<AhoCorasick>,
    kinds: Vec<PatternKind>,
    pub(crate) literals: Option<Literals>,
}

impl Prefilter {
    /// PERF: case-sensitive (casings are listed in the catalogue) and leftmost-longest:
    /// overlapping search, the obvious choice for "which keywords occur", has no packed
    /// (SIMD) searcher at all in aho-corasick.
    pub(crate) fn build(keywords: &[Keyword], secrets: &[(Arc<str>, String)]) -> Self {
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
        // PERF: aho-corasick builds no Teddy searcher over more than 64 patterns (it falls back
        // to an automaton at ~350 MB/s), so the sorted keywords are split into groups of at
        // most 64, one Teddy scan each. On the ~200 keywords of the catalogue, four groups of
        // ~52 cost ~4,500 instructions per clean 200-byte line, six groups of ~35 ~5,400, three
        // groups of ~69 ~9,300 (valgrind instruction counts; docs/benchmarks.md). Each group
        // is one more scan of every line, so the catalogue keeps its keyword count down
        // (shared prefixes such as `EAA`, `FLW`, `sm_`).
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

impl Prefilter {
    /// Whether the SIMD (Teddy) searchers run, rather than the slower automaton fallback.
    #[cfg(test)]
    pub(crate) fn uses_packed_searchers(&self) -> bool {
        !self.packed.is_empty()
    }
}

/// Every way a rule gets to run: keywords (through the swapped [`Prefilter`]), single bytes,
/// two-byte keywords with their own `memmem` scan, and rules that always run.
pub(crate) struct Triggers {
    pub(crate) keywords: Vec<Keyword>,
    bytes: Vec<(u8, RuleSet)>,
    memmem: Vec<(memchr::memmem::Finder<'static>, RuleSet)>,
    always: RuleSet,
    rule_count: usize,
}

impl Triggers {
    /// The triggers of the enabled rules, indexed by their position in `rules`.
    pub(crate) fn new<'r>(rules: impl Iterator<Item = &'r RuleDef>) -> Self {
        let mut keyword_sets: BTreeMap<&'static str, (RuleSet, RuleSet)> = BTreeMap::new();
        let mut bytes: Vec<(u8, RuleSet)> = Vec::new();
        let mut memmem = Vec::new();
        let mut always = RuleSet::default();
        let mut rule_count = 0;
        for (index, rule) in rules.enumerate() {
            rule_count += 1;
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
                Trigger::Byte(byte) => match bytes.iter_mut().find(|(b, _)| *b == byte) {
                    Some((_, set)) => set.insert(index),
                    None => {
                        let mut set = RuleSet::default();
                        set.insert(index);
                        bytes.push((byte, set));
                    }
                },
                Trigger::Memmem => {
                    for keyword in rule.keywords {
                        let mut set = RuleSet::default();
                        set.insert(index);
                        memmem.push((memchr::memmem::Finder::new(keyword), set));
                    }
                }
                Trigger::Always => always.insert(index),
            }
        }
        let keywords = keyword_sets
            .into_iter()
            .map(|(keyword, (rules, named))| (keyword, rules, named))
            .collect();
        Self {
            keywords,
            bytes,
            memmem,
            always,
            rule_count,
        }
    }

    /// The rules whose keywords (or trigger bytes) occur in `text`, and whether a registered
    /// secret may occur.
    pub(crate) fn candidates(&self, prefilter: &Prefilter, text: &str) -> (RuleSet, bool) {
        let mut candidates = self.always;
        let mut literal_hit = false;
        for (byte, set) in &self.bytes {
            if memchr::memchr(*byte, text.as_bytes()).is_some() {
                candidates.union(*set);
            }
        }
        for (finder, set) in &self.memmem {
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
                for index in 0..self.rule_count {
                    candidates.insert(index);
                }
                literal_hit = prefilter.literals.is_some();
            }
        }
        (candidates, literal_hit)
    }
}

/// Whether the name a keyword ends in at `end` is followed by a key-value separator:
/// the rest of the name (`[A-Za-z0-9_.-]`), optional quotes (`"`, `'`, `\"`), a little
/// whitespace, then `=` or `:`. Keywords that end with the separator (`code=`) pass.
///
/// This is a necessary condition of every name-keyed rule's regex (see `kv_sep!` in the
/// catalogue), so skipping the regex when it fails loses no match.
pub(crate) fn separator_follows(text: &[u8], end: usize) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
