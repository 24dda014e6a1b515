//! JSON-aware redaction of one document: strings are decoded, redacted and re-encoded in
//! place; members whose key names a secret are replaced whole. Everything else (member order,
//! numbers, whitespace) is copied byte for byte, so a clean member costs a scan, and the
//! output is valid JSON by construction.
//!
//! This is a validating scanner, not a tree parser: no `serde_json::Value` is built.

use std::borrow::Cow;

use crate::{Redactor, keys::is_sensitive_key, neutralize};

/// The input is not one JSON document (or nests deeper than [`MAX_DEPTH`]).
#[derive(Debug)]
pub(crate) struct NotJson;

/// Deeper documents are treated as text (fail closed: text redaction still runs).
const MAX_DEPTH: usize = 128;

type Result<T> = std::result::Result<T, NotJson>;

/// Redacts `src`, a JSON document; `Err` when it is not one.
pub(crate) fn rewrite<'a>(redactor: &Redactor, src: &'a str) -> Result<Cow<'a, str>> {
    let mut rewriter = Rewriter {
        redactor,
        src,
        bytes: src.as_bytes(),
        pos: 0,
        edits: Vec::new(),
    };
    rewriter.value(0, false)?;
    rewriter.whitespace();
    if rewriter.pos != rewriter.bytes.len() {
        return Err(NotJson);
    }
    if rewriter.edits.is_empty() {
        return Ok(Cow::Borrowed(src));
    }
    let mut out = String::with_capacity(src.len() + 32 * rewriter.edits.len());
    let mut last = 0;
    for (start, end, replacement) in &rewriter.edits {
        out.push_str(&src[last..*start]);
        out.push_str(replacement);
        last = *end;
    }
    out.push_str(&src[last..]);
    Ok(Cow::Owned(out))
}

struct Rewriter<'r, 'a> {
    redactor: &'r Redactor,
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Replacements of byte ranges of `src`, in order, never overlapping.
    edits: Vec<(usize, usize, String)>,
}

impl<'a> Rewriter<'_, 'a> {
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.bytes.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    /// One value; `sensitive` when its member key names a secret.
    fn value(&mut self, depth: usize, sensitive: bool) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(NotJson);
        }
        self.whitespace();
        let start = self.pos;
        match self.bytes.get(self.pos).ok_or(NotJson)? {
            b'{' | b'[' => {
                let mark = self.edits.len();
                if self.bytes[self.pos] == b'{' {
                    self.object(depth)?;
                } else {
                    self.array(depth)?;
                }
                if sensitive {
                    // SECURITY: a secret-named container goes whole (`"credentials": {...}`).
                    self.edits.truncate(mark);
                    let raw = &self.src[start..self.pos];
                    self.replace_field(start, self.pos, raw);
                }
            }
            b'"' => {
                let (decoded, _) = self.string()?;
                let end = self.pos;
                if sensitive && Redactor::field_is_redactable(&decoded) {
                    self.replace_field(start, end, &decoded);
                } else {
                    self.redact_string(start, end, &decoded);
                }
            }
            b't' => self.literal("true")?,
            b'f' => self.literal("false")?,
            b'n' => self.literal("null")?,
            b'-' | b'0'..=b'9' => {
                self.number()?;
                if sensitive {
                    let raw = &self.src[start..self.pos];
                    self.replace_field(start, self.pos, raw);
                }
            }
            _ => return Err(NotJson),
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<()> {
        self.expect(b'{')?;
        self.whitespace();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.whitespace();
            let key_start = self.pos;
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(NotJson);
            }
            let (key, _) = self.string()?;
            let key_end = self.pos;
            let sensitive = is_sensitive_key(&key);
            // Keys are text too (a token used as a map key would otherwise pass).
            self.redact_string(key_start, key_end, &key);
            self.whitespace();
            self.expect(b':')?;
            self.value(depth + 1, sensitive)?;
            self.whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(NotJson),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<()> {
        self.expect(b'[')?;
        self.whitespace();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.value(depth + 1, false)?;
            self.whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(NotJson),
            }
        }
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    fn number(&mut self) -> Result<()> {
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        // Validate the exact number grammar with serde_json (rare path: numbers are short).
        serde_json::from_str::<serde_json::Number>(&self.src[start..self.pos])
            .map(|_| ())
            .map_err(|_| NotJson)
    }

    /// A string literal at `pos`: its decoded text and whether it had escapes.
    fn string(&mut self) -> Result<(Cow<'a, str>, bool)> {
        let start = self.pos;
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            // PERF: jump to the next quote or backslash.
            let rest = &self.bytes[self.pos..];
            let offset = memchr::memchr2(b'"', b'\\', rest).ok_or(NotJson)?;
            if rest[..offset].iter().any(|b| *b < 0x20) {
                return Err(NotJson);
            }
            self.pos += offset;
            if self.bytes[self.pos] == b'"' {
                self.pos += 1;
                break;
            }
            escaped = true;
            self.pos += 2;
            if self.pos > self.bytes.len() {
                return Err(NotJson);
            }
        }
        let raw = &self.src[start..self.pos];
        if escaped {
            let decoded: String = serde_json::from_str(raw).map_err(|_| NotJson)?;
            Ok((Cow::Owned(decoded), true))
        } else {
            Ok((Cow::Borrowed(&raw[1..raw.len() - 1]), false))
        }
    }

    /// Redacts a decoded string and records an edit when it changed or holds dangerous
    /// characters (or escapes that the fast path cannot see through).
    fn redact_string(&mut self, start: usize, end: usize, decoded: &str) {
        let redacted = self.redactor.redact(decoded);
        let changed = matches!(redacted, Cow::Owned(_));
        if changed || neutralize::may_need_neutralizing(&redacted) {
            let mut encoded = String::with_capacity(redacted.len() + 2);
            neutralize::push_json_string(&mut encoded, &redacted);
            if encoded != self.src[start..end] {
                self.edits.push((start, end, encoded));
            }
        }
    }

    /// Replaces a secret-named member's value with a marker string.
    fn replace_field(&mut self, start: usize, end: usize, value: &str) {
        let mut marker = String::new();
        self.redactor.render_field(&mut marker, value);
        let mut encoded = String::with_capacity(marker.len() + 2);
        neutralize::push_json_string(&mut encoded, &marker);
        self.edits.push((start, end, encoded));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str) -> std::result::Result<String, NotJson> {
        rewrite(&Redactor::new(), src).map(Cow::into_owned)
    }

    #[test]
    fn clean_documents_are_borrowed_and_byte_identical() {
        let src = r#"{ "a": [1, -2.5e3, true, null, {"b": "c\"d"}], "e": {} }"#;
        assert!(matches!(
            rewrite(&Redactor::new(), src),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn secret_members_go_whole_and_order_is_kept() {
        let out = run(r#"{"z":1,"password":"hunter22","pin":1234,"retries":3,"credentials":{"user":"a","pass":"b"},"a":"ok"}"#).unwrap();
        assert_eq!(
            out,
            r#"{"z":1,"password":"[REDACTED:secret-field]","pin":"[REDACTED:secret-field]","retries":3,"credentials":"[REDACTED:secret-field]","a":"ok"}"#
        );
    }

    #[test]
    fn strings_are_redacted_after_decoding() {
        let out =
            run(r#"{"msg":"header Authorization: Bearer abc\u0064efgh and \/ slash"}"#).unwrap();
        assert_eq!(
            out,
            r#"{"msg":"header Authorization: Bearer [REDACTED:authorization] and / slash"}"#
        );
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(value.is_object());
    }

    #[test]
    fn invalid_documents_are_rejected() {
        for src in [
            "",
            "{",
            "{\"a\"}",
            "[1,]",
            "{\"a\":1,}",
            "\"a\nb\"",
            "tru",
            "01x",
            "{} {}",
            "\"\\\"",
        ] {
            assert!(run(src).is_err(), "{src:?} accepted");
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert!(run(&deep).is_err());
    }
}
