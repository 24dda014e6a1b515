//! The keyword prefilter: which rules can match a line at all, found by SIMD literal scans
//! before any regex runs, plus the literal matcher of registered secrets.

use std::{collections::BTreeMap, sync::Arc};

use aho_corasick::{AhoCorasick, MatchKind};
use wide::u8x16;

use crate::{
    anchored::{Anchored, anchor_of},
    neutralize,
    rule_set::RuleSet,
    rules::{RuleDef, Trigger},
};

/// The most patterns one Teddy searcher gets (aho-corasick's limit is 64; larger groups let
/// more false candidates through, see [`packed_searchers`]).
const PACKED_GROUP: usize = 45;

/// Teddy's longest fingerprint: groups whose patterns all have this many bytes use it.
const LONG_FINGERPRINT: usize = 4;

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
    /// Whether a registered secret holds a raw `"` or whitespace: only such a secret could
    /// match across the end of a line's fixed prefix, so only then is that prefix scanned too
    /// (see [`json_fixed_prefix`] and [`text_fixed_prefix`]).
    pub(crate) spans_prefix: bool,
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
        let packed = packed_searchers(&patterns);
        let literals = if literal_patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&literal_patterns)
                .ok()
                .map(|matcher| Literals {
                    spans_prefix: literal_patterns
                        .iter()
                        .any(|pattern| pattern.contains(|c: char| c == '"' || c.is_whitespace())),
                    matcher,
                    labels,
                })
        };
        Self {
            packed,
            automaton,
            kinds,
            literals,
        }
    }
}

/// Teddy searchers over `patterns`, each with the global pattern ids of its group; empty when
/// one could not be built (then the caller runs its automaton).
///
/// PERF: aho-corasick builds no Teddy searcher over more than 64 patterns (it falls back to an
/// automaton at ~350 MB/s), so the patterns are split into groups, one scan each. Teddy
/// fingerprints the first `min(4, shortest pattern)` bytes of every pattern, and lowercase text
/// matches three-byte fingerprints of lowercase keywords (`key`, `pwd`, `lob`) all the time;
/// every false candidate costs a verification. So the three-byte keywords get a group of their
/// own, every other group is fingerprinted on four bytes, and every group uses fat Teddy's
/// sixteen buckets, filled by [`bucket_order`]. A scan costs ~3 instructions a byte whatever
/// its size up to ~45 patterns, and more above (false candidates: one group of 64 four-byte
/// keywords cost 1.9 times one of 45; three groups of ~60 a fifth more than four of ~45; slim
/// Teddy's eight buckets more again), so the number of groups is the price of the catalogue's
/// size: the keywords that hold a punctuation byte are found without Teddy
/// (`crate::anchored`), which leaves the ~110 others in one three-byte group and two of ~44
/// (valgrind instruction counts, docs/benchmarks.md).
fn packed_searchers(patterns: &[String]) -> Vec<(aho_corasick::packed::Searcher, Vec<usize>)> {
    let (short, long): (Vec<usize>, Vec<usize>) =
        (0..patterns.len()).partition(|&id| patterns[id].len() < LONG_FINGERPRINT);
    let mut packed = Vec::new();
    for class in [short, long] {
        if class.is_empty() {
            continue;
        }
        let group_count = class.len().div_ceil(PACKED_GROUP);
        let group_len = class.len().div_ceil(group_count);
        for group in class.chunks(group_len) {
            let ids = bucket_order(group);
            // Fat Teddy needs AVX2; without it, aho-corasick's own choice.
            let searcher = [Some(true), None].into_iter().find_map(|fat| {
                aho_corasick::packed::Config::new()
                    .match_kind(aho_corasick::packed::MatchKind::LeftmostLongest)
                    .only_teddy_fat(fat)
                    .builder()
                    .extend(ids.iter().map(|&id| &patterns[id]))
                    .build()
            });
            match searcher {
                Some(searcher) => packed.push((searcher, ids)),
                None => return Vec::new(),
            }
        }
    }
    packed
}

/// Fat Teddy's buckets.
const TEDDY_BUCKETS: usize = 16;

/// `group` (sorted) reordered so that each Teddy bucket holds neighbours in sorted order.
///
/// PERF: a bucket's fingerprint is the union of its patterns' nybbles, so patterns that share
/// a prefix (`coin`, `conf`, `cont`) make a tighter one than unrelated patterns. aho-corasick
/// deals the patterns to the buckets in turn by their index (bucket `15 - index % 16`, 1.1;
/// patterns with equal low nybbles share one), so pattern `round * 16 + bucket` of the new
/// order is the `round`-th of that bucket's run. Measured over the bench's clean lines
/// (callgrind): ~10% fewer instructions in the four-byte scans and half the mispredicted
/// branches. Only the speed depends on this; any order finds the same keywords.
fn bucket_order(group: &[usize]) -> Vec<usize> {
    let rounds = group.len().div_ceil(TEDDY_BUCKETS);
    // The first `full` buckets get `rounds` patterns, the others one fewer, so that the
    // missing ones all fall in the last round and the indices stay aligned.
    let full = match group.len() % TEDDY_BUCKETS {
        0 => TEDDY_BUCKETS,
        rest => rest,
    };
    let start = |bucket: usize| bucket * rounds - bucket.saturating_sub(full);
    let mut order = Vec::with_capacity(group.len());
    for round in 0..rounds {
        for bucket in 0..TEDDY_BUCKETS {
            let len = if bucket < full { rounds } else { rounds - 1 };
            if round < len {
                order.push(group[start(bucket) + round]);
            }
        }
    }
    order
}

impl Prefilter {
    /// Whether the SIMD (Teddy) searchers run, rather than the slower automaton fallback.
    #[cfg(test)]
    pub(crate) fn uses_packed_searchers(&self) -> bool {
        !self.packed.is_empty()
    }
}

/// Every way a rule gets to run: keywords (through the swapped [`Prefilter`]), keywords
/// anchored on a punctuation byte ([`Anchored`]), single bytes, and rules that always run.
pub(crate) struct Triggers {
    /// The keywords the Teddy searchers look for.
    pub(crate) keywords: Vec<Keyword>,
    anchored: Anchored,
    bytes: Vec<(u8, RuleSet)>,
    always: RuleSet,
    rule_count: usize,
}

impl Triggers {
    /// The triggers of the enabled rules, indexed by their position in `rules`.
    pub(crate) fn new<'r>(rules: impl Iterator<Item = &'r RuleDef>) -> Self {
        let mut keyword_sets: BTreeMap<&'static str, (RuleSet, RuleSet)> = BTreeMap::new();
        let mut bytes: Vec<(u8, RuleSet)> = Vec::new();
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
                Trigger::Always => always.insert(index),
            }
        }
        let (anchored, keywords): (Vec<Keyword>, Vec<Keyword>) = keyword_sets
            .into_iter()
            .map(|(keyword, (rules, named))| (keyword, rules, named))
            .partition(|(keyword, _, _)| anchor_of(keyword).is_some());
        Self {
            keywords,
            anchored: Anchored::new(anchored),
            bytes,
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
        self.anchored.scan(text.as_bytes(), &mut candidates);
        if !prefilter.packed.is_empty() {
            for (searcher, ids) in &prefilter.packed {
                let mut at = 0;
                while let Some(found) =
                    searcher.find_in(text, aho_corasick::Span::from(at..text.len()))
                {
                    let kind = prefilter.kinds[ids[found.pattern().as_usize()]];
                    add_rules(
                        &mut candidates,
                        kind.rules,
                        kind.named,
                        text.as_bytes(),
                        found.end(),
                    );
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
                    add_rules(
                        &mut candidates,
                        kind.rules,
                        kind.named,
                        text.as_bytes(),
                        found.end(),
                    );
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

/// The length of a JSON log line's fixed prefix, `{"timestamp":"<time>","level":"<LEVEL>",`,
/// when the line starts with one whose values a secret cannot hide in: a time of digits and
/// `-:.+TZ` only, and one of the five level names. 0 otherwise.
///
/// PERF: every JSON line of the telemetry starts this way, and the keyword scans cost about 25
/// instructions a byte on it (~1,400 of the ~7,200 an access line's scans cost, measured with
/// benches/benches/instructions.rs). SECURITY: nothing is lost by not scanning it. No keyword
/// or token can be spelled in those bytes (keywords start with a letter, a digit run is no
/// token, the level names hold no keyword). No keyword holds a `"`, so none can match across
/// the `",` the prefix ends with. Rules that run still run on the whole line. A registered
/// secret with a raw `"` could match the prefix's structure, so the caller scans the whole
/// line when one is registered. The neutralizing and escape checks always see the whole line.
pub(crate) fn json_fixed_prefix(line: &str) -> usize {
    const TIMESTAMP: &str = "{\"timestamp\":\"";
    const LEVEL: &str = "\",\"level\":\"";
    let Some(rest) = line.strip_prefix(TIMESTAMP) else {
        return 0;
    };
    let time_len = time_len(rest.as_bytes());
    let Some(rest) = rest[time_len..].strip_prefix(LEVEL) else {
        return 0;
    };
    for level in ["INFO\",", "WARN\",", "ERROR\",", "DEBUG\",", "TRACE\","] {
        if rest.starts_with(level) {
            return TIMESTAMP.len() + time_len + LEVEL.len() + level.len();
        }
    }
    0
}

/// The length of the time at the start of `bytes`: digits and `-:.+TZ`.
///
/// PERF: sixteen bytes at a time (~15 instructions), where a loop over the bytes with a table
/// lookup cost ~6 instructions a byte.
fn time_len(bytes: &[u8]) -> usize {
    let time = |chunk: [u8; 16]| {
        let chunk = u8x16::new(chunk);
        let mut time = chunk
            .max(u8x16::splat(b'0'))
            .min(u8x16::splat(b'9'))
            .simd_eq(chunk);
        for byte in *b"-:.+TZ" {
            time |= chunk.simd_eq(u8x16::splat(byte));
        }
        (!time.to_bitmask()).trailing_zeros() as usize
    };
    let (chunks, tail) = bytes.as_chunks::<16>();
    for (index, chunk) in chunks.iter().enumerate() {
        let run = time(*chunk);
        if run < 16 {
            return index * 16 + run;
        }
    }
    // Zero is no time byte, so the run ends in the padding.
    let mut last = [0_u8; 16];
    last[..tail.len()].copy_from_slice(tail);
    chunks.len() * 16 + time(last)
}

/// The length of a text log line's fixed prefix, `<time> <LEVEL> ` as tracing-subscriber's
/// text formats write it (`2026-12-01T20:35:12.123456Z  INFO `, the level right-aligned in
/// five columns), when the line starts with one; 0 otherwise.
///
/// PERF and SECURITY as for [`json_fixed_prefix`]: the keyword scans cost about 12
/// instructions a byte, and these ~30 bytes cannot hold a keyword or a token (a time of
/// digits and `-:.+TZ`, one of the five level names, spaces); no keyword holds a space, so
/// none can start inside the prefix (the catalogue test checks both). A registered secret with
/// whitespace could run across the prefix's end, so the caller scans the whole line when one
/// is registered. Rules that run still run on the whole line.
pub(crate) fn text_fixed_prefix(line: &str) -> usize {
    let bytes = line.as_bytes();
    let time = time_len(bytes);
    let (spaces, level) = match &bytes[time..] {
        [b' ', b' ', rest @ ..] => (2, rest),
        [b' ', rest @ ..] => (1, rest),
        rest => (0, rest),
    };
    let level_len = match level {
        [b'I', b'N', b'F', b'O', b' ', ..] | [b'W', b'A', b'R', b'N', b' ', ..] => 5,
        [b'E', b'R', b'R', b'O', b'R', b' ', ..]
        | [b'D', b'E', b'B', b'U', b'G', b' ', ..]
        | [b'T', b'R', b'A', b'C', b'E', b' ', ..] => 6,
        _ => return 0,
    };
    if time + spaces == 0 {
        return 0;
    }
    time + spaces + level_len
}

/// Adds a found keyword's rules to `candidates`: `rules` always, the name-keyed `named` when
/// a separator follows the name the keyword ends in at `end` ([`separator_follows`]).
pub(crate) fn add_rules(
    candidates: &mut RuleSet,
    rules: RuleSet,
    named: RuleSet,
    text: &[u8],
    end: usize,
) {
    candidates.union(rules);
    if !named.is_empty() && separator_follows(text, end) {
        candidates.union(named);
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
    fn a_json_lines_fixed_prefix_is_skipped_only_when_its_values_are_a_time_and_a_level() {
        let line = r#"{"timestamp":"2026-12-01T20:35:12.123456Z","level":"INFO","target":"x"}"#;
        let prefix = json_fixed_prefix(line);
        assert_eq!(&line[prefix..], r#""target":"x"}"#);
        for other in [
            r#"{"timestamp":"2026-12-01T20:35:12Z","level":"TOKEN","target":"x"}"#,
            r#"{"timestamp":"ghp_abc","level":"INFO","target":"x"}"#,
            r#"{"level":"INFO","timestamp":"2026-12-01T20:35:12Z"}"#,
            r#"{"timestamp":"2026-12-01T20:35:12Z","level":"INFO"}"#,
            "timestamp=2026-12-01 level=INFO",
        ] {
            assert_eq!(json_fixed_prefix(other), 0, "{other}");
        }
    }

    #[test]
    fn a_text_lines_fixed_prefix_is_skipped_only_when_it_is_a_time_and_a_level() {
        let line = "2026-12-01T20:35:12.123456Z  INFO app::auth: token verified";
        assert_eq!(
            &line[text_fixed_prefix(line)..],
            "app::auth: token verified"
        );
        let line = "2026-12-01T20:35:12.123456Z ERROR app: failed";
        assert_eq!(&line[text_fixed_prefix(line)..], "app: failed");
        let line = "2026-12-01T20:35:12.123456789+00:00 DEBUG app: a time of 35 bytes";
        assert_eq!(&line[text_fixed_prefix(line)..], "app: a time of 35 bytes");
        let line = " WARN app: slow";
        assert_eq!(&line[text_fixed_prefix(line)..], "app: slow");
        for other in [
            "INFO app: no time and no space before the level",
            "2026-12-01T20:35:12Z   INFO three spaces",
            "2026-12-01T20:35:12Z INFOtoken=x",
            "ghp_abc INFO x",
            "2026-12-01 token=x",
            "2026-12-01T20:35:12.123456789+00:00",
            "",
        ] {
            assert_eq!(text_fixed_prefix(other), 0, "{other}");
        }
    }

    #[test]
    fn each_teddy_bucket_gets_a_run_of_neighbours() {
        for len in [1, 15, 16, 17, 23, 44, 45, 64] {
            let group: Vec<usize> = (0..len).collect();
            let order = bucket_order(&group);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, group, "{len}: a permutation");
            // Index `i` lands in bucket `i % 16`: each bucket's patterns are consecutive.
            for bucket in 0..TEDDY_BUCKETS {
                let run: Vec<usize> = order.iter().copied().skip(bucket).step_by(16).collect();
                assert!(run.windows(2).all(|w| w[1] == w[0] + 1), "{len}: {run:?}");
            }
        }
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
}
