//! What a redacted value becomes: a fixed marker naming the rule, a mask, or a keyed hash.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The longest rule id the catalogue allows (checked by a unit test over the catalogue).
pub(crate) const MAX_RULE_ID_LEN: usize = 40;

/// The longest label a registered secret shows in its marker; longer labels are cut.
pub(crate) const MAX_LABEL_LEN: usize = 32;

/// An upper bound on the length of one replacement, in bytes.
///
/// `[REDACTED:` + rule id + `:` + label + `:` + 8 hex digits + `]`. With [`Method::Mask`] a
/// replacement is never longer than the value it replaces. The property tests check
/// `output.len() <= input.len() + redactions * MAX_MARKER_LEN`.
pub const MAX_MARKER_LEN: usize = 10 + MAX_RULE_ID_LEN + 1 + MAX_LABEL_LEN + 1 + 8 + 1;

/// The start every marker shares; a value that already starts with it is left alone, which is
/// what makes redaction idempotent.
pub(crate) const MARKER_PREFIX: &str = "[REDACTED";

/// How a secret is replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// A fixed marker naming the rule: `[REDACTED:github-pat]`. The default: it reveals
    /// nothing about the value, not even its length.
    #[default]
    Replace,
    /// One `*` per character of the value. Keeps the shape of the line readable; reveals the
    /// length of the value (as relay's mask does), nothing else.
    Mask,
    /// A marker with a short keyed hash of the value: `[REDACTED:github-pat:1a2b3c4d]`
    /// (HMAC-SHA-256 with a deployment key, first 4 bytes in hex). Equal values give equal
    /// tokens, so events can be correlated; without the key the token cannot be checked against
    /// a dictionary. Needs [`crate::RedactorBuilder::with_hash_key`].
    Hash,
}

/// Renders replacements for one redactor.
#[derive(Clone)]
pub(crate) struct Renderer {
    method: Method,
    hash_key: Option<Hmac<Sha256>>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SECURITY: the HMAC state is derived from the deployment key; never print it.
        f.debug_struct("Renderer")
            .field("method", &self.method)
            .field("hash_key", &self.hash_key.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl Renderer {
    pub(crate) fn new(method: Method, hash_key: Option<Hmac<Sha256>>) -> Self {
        Self { method, hash_key }
    }

    /// Appends the replacement of `secret`, found by `rule` (with an optional label for
    /// registered secrets), to `out`.
    pub(crate) fn render(&self, out: &mut String, rule: &str, label: Option<&str>, secret: &str) {
        match self.method {
            Method::Mask => out.extend(std::iter::repeat_n('*', secret.chars().count())),
            Method::Replace => push_marker(out, rule, label, None),
            Method::Hash => {
                let token = self.hash_key.as_ref().map(|key| {
                    let mut mac = key.clone();
                    mac.update(secret.as_bytes());
                    let digest = mac.finalize().into_bytes();
                    let mut hex = String::with_capacity(8);
                    for byte in &digest[..4] {
                        // Writing to a String cannot fail.
                        let _ = write!(hex, "{byte:02x}");
                    }
                    hex
                });
                push_marker(out, rule, label, token.as_deref());
            }
        }
    }
}

/// Appends `[REDACTED:rule(:label)(:hash)]`.
pub(crate) fn push_marker(out: &mut String, rule: &str, label: Option<&str>, hash: Option<&str>) {
    out.push_str(MARKER_PREFIX);
    out.push(':');
    out.push_str(rule);
    if let Some(label) = label {
        out.push(':');
        out.push_str(label);
    }
    if let Some(hash) = hash {
        out.push(':');
        out.push_str(hash);
    }
    out.push(']');
}

/// A label made safe to print inside a marker: letters, digits, `_`, `-`, `.`, at most
/// [`MAX_LABEL_LEN`] bytes. Anything else becomes `_`.
pub(crate) fn sanitize_label(label: &str) -> String {
    let mut clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    clean.truncate(MAX_LABEL_LEN);
    if clean.is_empty() {
        clean.push_str("secret");
    }
    clean
}

/// Whether a value is already a replacement (a marker or a mask), or a placeholder that holds
/// no secret; such values are left alone.
pub(crate) fn is_already_redacted(value: &str) -> bool {
    value.starts_with(MARKER_PREFIX) || (!value.is_empty() && value.bytes().all(|b| b == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_name_the_rule_and_stay_under_the_bound() {
        let renderer = Renderer::new(Method::Replace, None);
        let mut out = String::new();
        renderer.render(&mut out, "github-pat", None, "x");
        assert_eq!(out, "[REDACTED:github-pat]");
        let long_rule = "r".repeat(MAX_RULE_ID_LEN);
        let label = sanitize_label(&"l".repeat(100));
        let key = Hmac::<Sha256>::new_from_slice(&[7; 32]).unwrap();
        let mut out = String::new();
        Renderer::new(Method::Hash, Some(key)).render(&mut out, &long_rule, Some(&label), "x");
        assert_eq!(out.len(), MAX_MARKER_LEN);
    }

    #[test]
    fn hash_tokens_are_stable_and_keyed() {
        let a = Renderer::new(
            Method::Hash,
            Some(Hmac::<Sha256>::new_from_slice(b"key-one-key-one-").unwrap()),
        );
        let b = Renderer::new(
            Method::Hash,
            Some(Hmac::<Sha256>::new_from_slice(b"key-two-key-two-").unwrap()),
        );
        let render = |r: &Renderer, s: &str| {
            let mut out = String::new();
            r.render(&mut out, "jwt", None, s);
            out
        };
        assert_eq!(render(&a, "value"), render(&a, "value"));
        assert_ne!(render(&a, "value"), render(&a, "other"));
        assert_ne!(render(&a, "value"), render(&b, "value"));
        assert!(render(&a, "value").starts_with("[REDACTED:jwt:"));
    }

    #[test]
    fn mask_keeps_the_character_count() {
        let mut out = String::new();
        Renderer::new(Method::Mask, None).render(&mut out, "jwt", None, "héllo");
        assert_eq!(out, "*****");
        assert!(is_already_redacted(&out));
    }

    #[test]
    fn labels_are_sanitized() {
        assert_eq!(sanitize_label("OPENAI_API_KEY"), "OPENAI_API_KEY");
        assert_eq!(sanitize_label("a b]\"c"), "a_b__c");
        assert_eq!(sanitize_label(""), "secret");
    }
}
