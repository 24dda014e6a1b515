//! The matching engine: runs the candidate rules' regexes over a line until it is stable,
//! and the registered secrets' literal matcher, writing markers through the renderer.

use std::{borrow::Cow, sync::LazyLock};

use regex::Regex;

use crate::{
    check,
    counters::{Counters, REGISTERED_RULE_ID},
    keys::{is_header_owned_key, is_placeholder_value, is_sensitive_key_with, names_provider},
    marker::{self, MARKER_PREFIX, Renderer},
    prefilter::Literals,
    rule_set::RuleSet,
    rules::{Category, Extract, PROVIDER_NAMES, RULES, RuleDef},
};

/// Rounds over a dirty text at most (a round after the first runs only the rules that have
/// not seen the latest change; three rounds settled every generated case).
const MAX_PASSES: usize = 8;

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

/// An enabled rule with its compiled regex.
#[derive(Debug)]
pub(crate) struct ActiveRule {
    pub(crate) def: &'static RuleDef,
    regex: Regex,
    /// The catalogue index: the rule's counter.
    pub(crate) counter: usize,
}

impl ActiveRule {
    pub(crate) fn new(catalogue_index: usize) -> Self {
        Self {
            def: &RULES[catalogue_index],
            regex: COMPILED[catalogue_index].clone(),
            counter: catalogue_index,
        }
    }
}

/// The enabled rules, in application order, and how a secret is replaced.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) rules: Vec<ActiveRule>,
    pub(crate) renderer: Renderer,
}

impl Engine {
    /// `input` with registered secrets (when `literals` is given) and every candidate rule's
    /// matches replaced.
    pub(crate) fn run<'a>(
        &self,
        input: &'a str,
        candidates: RuleSet,
        literals: Option<&Literals>,
        counters: &Counters,
    ) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(input);
        if let Some(literals) = literals
            && let Some(replaced) = self.apply_literals(literals, &text, counters)
        {
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
                if let Some(replaced) = self.apply_rule(&self.rules[index], &text, counters) {
                    text = Cow::Owned(replaced);
                    // The rule itself too: its own marker can end a value differently.
                    stale = candidates;
                }
            }
        }
        text
    }

    fn apply_literals(
        &self,
        literals: &Literals,
        text: &str,
        counters: &Counters,
    ) -> Option<String> {
        let mut out = String::new();
        let mut last = 0;
        for found in literals.matcher.find_iter(text) {
            out.push_str(&text[last..found.start()]);
            let label = &literals.labels[found.pattern().as_usize()];
            counters.add(Counters::REGISTERED);
            self.renderer.render(
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

    fn apply_rule(&self, rule: &ActiveRule, text: &str, counters: &Counters) -> Option<String> {
        // Markers of earlier rules (`[REDACTED:registered-secret:DB_KEY]`) look like text to
        // later rules; nothing inside one is ever redacted again (idempotence).
        let markers = marker_spans(text);
        let inside_marker =
            |start: usize, end: usize| markers.iter().any(|(s, e)| start < *e && *s < end);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let simple = matches!(
            rule.def.extract,
            Extract::Group | Extract::Token | Extract::RandomToken
        ) && rule.regex.captures_len() == 1;
        if simple {
            // PERF: no capture group, so the faster `find` engines suffice.
            for found in rule.regex.find_iter(text) {
                if matches!(rule.def.extract, Extract::Token | Extract::RandomToken)
                    && !is_real_token(rule.def, text, found.start(), found.end())
                {
                    continue;
                }
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
                Extract::Token | Extract::RandomToken => {
                    let found = caps.name("s").unwrap_or(whole);
                    if is_real_token(rule.def, text, found.start(), found.end()) {
                        push_outside_markers(
                            &mut spans,
                            text,
                            &markers,
                            found.start(),
                            found.end(),
                        );
                    }
                }
                Extract::UserInfo => {
                    let Some(userinfo) = caps.name("s") else {
                        continue;
                    };
                    // `user:password` keeps the user visible; `:password` and a user-only
                    // userinfo (often a token) are redacted whole after the colon or entirely.
                    let start = match userinfo.as_str().find(':') {
                        Some(colon) => userinfo.start() + colon + 1,
                        // A plain name (`git@`, `deploy@`) is a user, not a token.
                        None if userinfo.as_str().bytes().all(|b| b.is_ascii_alphabetic()) => {
                            continue;
                        }
                        None => userinfo.start(),
                    };
                    push_outside_markers(&mut spans, text, &markers, start, userinfo.end());
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
                    if is_target_then_prose(text, key.start(), key.end(), value.as_str()) {
                        continue;
                    }
                    let (start, mut end) = unquote(text, value.start(), value.end());
                    if in_query(text, key.start()) {
                        // A query parameter's value ends at the next parameter.
                        end = text[start..end].find(['&', '#']).map_or(end, |i| start + i);
                    }
                    if !is_placeholder_value(&text[start..end]) {
                        push_outside_markers(&mut spans, text, &markers, start, end);
                    }
                }
                Extract::ProviderKeyValue => {
                    let (Some(key), Some(value)) = (caps.name("k"), caps.name("s")) else {
                        continue;
                    };
                    if is_target_then_prose(text, key.start(), key.end(), value.as_str()) {
                        continue;
                    }
                    let (start, end) = unquote(text, value.start(), value.end());
                    if names_provider(key.as_str(), PROVIDER_NAMES)
                        && !inside_marker(key.start(), key.end())
                        && !is_placeholder_value(&text[start..end])
                        && check::credential_shaped(&text[start..end], rule.def.min_entropy)
                    {
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
            counters.add(rule.counter);
            self.renderer
                .render(&mut out, rule.def.id, None, &text[start..end]);
            last = end;
        }
        out.push_str(&text[last..]);
        // A mask over a mask changes nothing: report no change, so the fixpoint is reached.
        (out != text).then_some(out)
    }
}

/// Whether a `key: value` match is a text log's target followed by its message: the "key" is
/// a logger target or the last segment of a module path (`INFO auth: token verified`,
/// `app::auth::session: user 42 logged in`), the separator a colon, and the "value" a plain
/// word of prose. A secret value (digits, symbols) after a target is still redacted.
fn is_target_then_prose(text: &str, key_start: usize, key_end: usize, value: &str) -> bool {
    let bytes = text.as_bytes();
    let separator = &bytes[key_end..];
    if separator.starts_with(b"::") {
        // A module path segment (`app::auth::session`), not a key.
        return true;
    }
    let colon = separator
        .iter()
        .take_while(|b| matches!(b, b':' | b' ' | b'\t'))
        .any(|b| *b == b':');
    if !colon || value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let before = &text[..key_start];
    if before.ends_with("::") || before.trim_end().is_empty() {
        return true;
    }
    let Some(previous) = before.strip_suffix(' ') else {
        return false;
    };
    let previous = previous.trim_end();
    let word = previous
        .rsplit(|c: char| c.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    previous.ends_with("}:")
        || ["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"]
            .iter()
            .any(|level| word.eq_ignore_ascii_case(level))
}

/// Whether the key starting at `key_start` is a URL query parameter (after `?` or `&`).
fn in_query(text: &str, key_start: usize) -> bool {
    key_start
        .checked_sub(1)
        .is_some_and(|i| matches!(text.as_bytes()[i], b'?' | b'&'))
}

/// Whether a provider-token match is a token: it stands alone and is not a placeholder.
fn is_real_token(rule: &RuleDef, text: &str, start: usize, end: usize) -> bool {
    check::stands_alone(text, start, end)
        && check::shannon_entropy(&text[start..end]) >= rule.min_entropy
        && (rule.extract != Extract::RandomToken || check::looks_random(&text[start..end]))
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
    fn targets_followed_by_prose_are_recognised() {
        let target = |text: &str, key: &str, value: &str| {
            let start = text.find(key).unwrap();
            is_target_then_prose(text, start, start + key.len(), value)
        };
        assert!(target("INFO auth: token verified", "auth", "token"));
        assert!(target("app::auth::session: user 42", "session", "user"));
        assert!(target("auth: token verified", "auth", "token"));
        assert!(target("req{id=1}: auth: token ok", "auth", "token"));
        assert!(target("app::auth::session: user", "auth", "::session:"));
        assert!(!target("INFO auth: s3cr3t-value", "auth", "s3cr3t-value"));
        assert!(!target("INFO login password: hunter", "password", "hunter"));
        assert!(!target("INFO password=hunter", "password", "hunter"));
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
