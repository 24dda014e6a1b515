//! Shared by the integration tests: the TOML case files and their `{CHARS*N}` templates.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part of this module.

use serde::Deserialize;

/// tokens.toml
#[derive(Debug, Deserialize)]
pub struct TokenFile {
    pub token: Vec<TokenCase>,
}

/// One provider token.
#[derive(Debug, Deserialize)]
pub struct TokenCase {
    pub rule: String,
    pub secret: String,
    #[serde(default)]
    pub public: String,
}

impl TokenCase {
    /// The text as it appears in a log line (public prefix + secret).
    pub fn full(&self) -> String {
        format!("{}{}", expand(&self.public), expand(&self.secret))
    }

    /// The part that must not survive.
    pub fn secret(&self) -> String {
        expand(&self.secret)
    }
}

/// cases.toml
#[derive(Debug, Deserialize)]
pub struct CaseFile {
    pub case: Vec<Case>,
}

/// An exact input/output pair.
#[derive(Debug, Deserialize)]
pub struct Case {
    pub rule: String,
    pub form: String,
    pub input: String,
    pub output: String,
    #[serde(default)]
    pub json: bool,
    #[serde(default)]
    pub pii: bool,
}

/// untouched.toml
#[derive(Debug, Deserialize)]
pub struct UntouchedFile {
    pub untouched: Vec<Untouched>,
}

/// A look-alike that must stay as it is.
#[derive(Debug, Deserialize)]
pub struct Untouched {
    pub rule: String,
    pub input: String,
    #[serde(default)]
    pub json: bool,
    #[serde(default)]
    pub pii: bool,
}

pub fn tokens() -> TokenFile {
    toml::from_str(include_str!("../data/tokens.toml")).expect("tokens.toml parses")
}

pub fn cases() -> CaseFile {
    toml::from_str(include_str!("../data/cases.toml")).expect("cases.toml parses")
}

pub fn untouched() -> UntouchedFile {
    toml::from_str(include_str!("../data/untouched.toml")).expect("untouched.toml parses")
}

/// Expands `{CHARS*N}` into CHARS repeated up to N characters; other text is copied.
/// CHARS has no braces, quotes, `*` or whitespace, so JSON braces are never taken for one.
pub fn expand(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let template = rest[open + 1..].find('}').and_then(|close| {
            let inner = &rest[open + 1..open + 1 + close];
            let (chars, count) = inner.rsplit_once('*')?;
            let count: usize = count.parse().ok()?;
            let plain = !chars.is_empty()
                && !chars.contains(|c: char| "{}*\"'".contains(c) || c.is_whitespace());
            plain.then_some((chars, count, open + 1 + close))
        });
        match template {
            Some((chars, count, close)) => {
                out.push_str(&rest[..open]);
                out.extend(chars.chars().cycle().take(count));
                rest = &rest[close + 1..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// For each named secret, the 6-character windows of it found in `output` (markers removed
/// first). PERF: one aho-corasick scan over all windows of all secrets.
pub fn leaked_windows(secrets: &[(String, String)], output: &str) -> Vec<(String, Vec<String>)> {
    let output = strip_markers(output);
    let mut patterns: Vec<String> = Vec::new();
    let mut owners: Vec<Vec<usize>> = Vec::new();
    let mut positions: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (index, (_, secret)) in secrets.iter().enumerate() {
        let chars: Vec<char> = secret.chars().collect();
        for window in chars.windows(6) {
            let window: String = window.iter().collect();
            match positions.get(&window) {
                Some(&at) => owners[at].push(index),
                None => {
                    positions.insert(window.clone(), patterns.len());
                    patterns.push(window);
                    owners.push(vec![index]);
                }
            }
        }
    }
    let matcher = aho_corasick::AhoCorasick::new(&patterns).expect("windows build an automaton");
    let mut found: Vec<Vec<String>> = vec![Vec::new(); secrets.len()];
    for hit in matcher.find_overlapping_iter(&output) {
        let window = &patterns[hit.pattern().as_usize()];
        for owner in &owners[hit.pattern().as_usize()] {
            if !found[*owner].contains(window) {
                found[*owner].push(window.clone());
            }
        }
    }
    secrets
        .iter()
        .zip(found)
        .filter(|(_, windows)| !windows.is_empty())
        .map(|((name, _), windows)| (name.clone(), windows))
        .collect()
}

fn strip_markers(output: &str) -> String {
    let mut output = output.to_owned();
    let mut from = 0;
    while let Some(start) = output[from..].find("[REDACTED:").map(|s| from + s) {
        let end = output[start..]
            .find(']')
            .map_or(output.len(), |e| start + e + 1);
        output.replace_range(start..end, " ");
        from = start;
    }
    output
}

/// The 6-character windows of `secret` found in `output`.
/// Markers are removed first: a rule id such as `anthropic-admin-key` may share a window with
/// the token it names.
pub fn surviving_windows(secret: &str, output: &str) -> Vec<String> {
    let mut output = output.to_owned();
    while let Some(start) = output.find("[REDACTED:") {
        let end = output[start..]
            .find(']')
            .map_or(output.len(), |e| start + e + 1);
        output.replace_range(start..end, " ");
    }
    let chars: Vec<char> = secret.chars().collect();
    let mut found = Vec::new();
    for window in chars.windows(6) {
        let window: String = window.iter().collect();
        if output.contains(&window) && !found.contains(&window) {
            found.push(window);
        }
    }
    found
}

#[test]
fn templates_expand() {
    assert_eq!(expand("ghp_{Ab*5}!"), "ghp_AbAbA!");
    assert_eq!(expand("{x*2}{y*1}"), "xxy");
    assert_eq!(expand("{\"a\":1}"), "{\"a\":1}");
    assert_eq!(expand("{\"k\": \"{ab*3}\"}"), "{\"k\": \"aba\"}");
}
