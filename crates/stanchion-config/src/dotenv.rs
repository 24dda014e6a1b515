//! Our dotenv dialect: a parser that keeps line numbers and never echoes content in errors.
//!
//! Why not dotenvy: its errors echo the rest of the offending line (which may hold a secret)
//! and carry neither a file name nor a line number, and its items carry no line either, so
//! provenance ("`.env` line 12") would be lost. The dialect is specified case by case in
//! `docs/dotenv.md`; `tests/data/dotenv.toml` is the executable form of that table.

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap},
    fmt,
};

/// Where `${NAME}` expansion looks a name up; implemented for the usual maps.
pub trait VarLookup {
    /// The value of `name`, if this source has one.
    fn get_var(&self, name: &str) -> Option<&str>;
}

impl VarLookup for HashMap<String, String> {
    fn get_var(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl VarLookup for BTreeMap<String, String> {
    fn get_var(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// Looks nothing up: expansion sees only earlier lines of the same file.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoVars;

impl VarLookup for ParsedDotenv {
    fn get_var(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

impl VarLookup for NoVars {
    fn get_var(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// One `KEY=value` assignment, with the line it starts on.
#[derive(Clone, PartialEq, Eq)]
pub struct DotenvEntry {
    key: String,
    value: String,
    line: usize,
    references: Vec<String>,
}

impl DotenvEntry {
    /// The variable name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The parsed value, after unquoting, unescaping and expansion.
    ///
    /// SECURITY: this is the raw value; the loader wraps secret values in
    /// [`secrecy::SecretString`] before anything else can see them.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The 1-based line on which the assignment starts.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The names that `${NAME}` expansion read while building the value.
    pub fn references(&self) -> &[String] {
        &self.references
    }
}

impl fmt::Debug for DotenvEntry {
    // SECURITY: the value may be a secret; Debug shows its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DotenvEntry")
            .field("key", &self.key)
            .field("value_len", &self.value.len())
            .field("line", &self.line)
            .field("references", &self.references)
            .finish()
    }
}

/// A key assigned more than once in one file: the last assignment wins.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Duplicate {
    /// The variable name.
    pub key: String,
    /// The line of the assignment that lost.
    pub earlier_line: usize,
    /// The line of the assignment that wins (for now).
    pub line: usize,
}

/// The result of parsing one file: every assignment in file order, and the duplicates found.
#[derive(Clone, Debug, Default)]
pub struct ParsedDotenv {
    entries: Vec<DotenvEntry>,
    duplicates: Vec<Duplicate>,
    /// Key → index of its last assignment, how many assignments it has, and the index of its
    /// first.
    index: HashMap<String, (usize, u32, usize)>,
}

impl ParsedDotenv {
    fn with_capacity(lines: usize) -> Self {
        Self {
            entries: Vec::with_capacity(lines),
            duplicates: Vec::new(),
            index: HashMap::with_capacity(lines),
        }
    }

    /// Every assignment in file order, duplicates included.
    pub fn entries(&self) -> &[DotenvEntry] {
        &self.entries
    }

    /// Keys assigned more than once, in the order the repeats were found.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    /// The winning value of `key` (the last assignment), if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.last(key).map(DotenvEntry::value)
    }

    /// The winning assignment of `key` (the last one), if any.
    pub fn last(&self, key: &str) -> Option<&DotenvEntry> {
        self.index
            .get(key)
            .map(|(index, _, _)| &self.entries[*index])
    }

    /// Every assignment of `key`, in file order.
    pub fn all<'s>(&'s self, key: &'s str) -> impl Iterator<Item = &'s DotenvEntry> + 's {
        let found = self.index.get(key);
        let repeated = found.is_some_and(|(_, count, _)| *count > 1);
        let single = found
            .filter(|_| !repeated)
            .map(|(index, _, _)| &self.entries[*index]);
        // PERF: a repeated key is looked for between its first and last assignment only, not
        // in the whole file (the loader asks for every registry variable in every layer).
        let scan = found.filter(|_| repeated).map(|(last, _, first)| {
            self.entries[*first..=*last]
                .iter()
                .filter(move |e| e.key == key)
        });
        single.into_iter().chain(scan.into_iter().flatten())
    }

    /// Every key assigned in the file, once each, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.index.keys()
    }

    /// The winning value of every key, as an owned map.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|entry| (entry.key.clone(), entry.value.clone()))
            .collect()
    }
}

/// Why a dotenv file could not be parsed. The message never contains the file's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A line does not start with a valid variable name (`[A-Za-z_][A-Za-z0-9_.]*`).
    InvalidKey,
    /// A variable name is not followed by `=`.
    MissingEquals,
    /// A quoted value is never closed.
    UnterminatedQuote,
    /// Something other than a comment follows a closing quote.
    TrailingCharacters,
    /// `${` is not followed by a valid name and a closing `}`.
    InvalidExpansion,
    /// The file is not valid UTF-8.
    InvalidUtf8,
}

impl ParseErrorKind {
    /// A stable snake_case name for this kind, for metrics labels and test data.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidKey => "invalid_key",
            Self::MissingEquals => "missing_equals",
            Self::UnterminatedQuote => "unterminated_quote",
            Self::TrailingCharacters => "trailing_characters",
            Self::InvalidExpansion => "invalid_expansion",
            Self::InvalidUtf8 => "invalid_utf8",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::InvalidKey => {
                "expected a variable name (a letter or `_`, then letters, digits, `_` or `.`)"
            }
            Self::MissingEquals => "expected `=` after the variable name",
            Self::UnterminatedQuote => "a quoted value starts here and is never closed",
            Self::TrailingCharacters => "only a `# comment` may follow a closing quote",
            Self::InvalidExpansion => "`${` must be followed by a variable name and `}`",
            Self::InvalidUtf8 => "the file is not valid UTF-8",
        }
    }
}

/// A dotenv syntax error: a kind and the 1-based line, never the line's content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}", kind.describe())]
pub struct ParseError {
    kind: ParseErrorKind,
    line: usize,
}

impl ParseError {
    /// What is wrong.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The 1-based line where the problem starts.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// Parse dotenv bytes (the file is checked for UTF-8 first, reporting the line of a bad byte).
///
/// # Errors
///
/// The first syntax error, by kind and line.
pub fn parse_bytes(
    input: &[u8],
    outer: &dyn VarLookup,
    lower: &dyn VarLookup,
) -> Result<ParsedDotenv, ParseError> {
    match std::str::from_utf8(input) {
        Ok(text) => parse(text, outer, lower),
        Err(error) => {
            let before = &input[..error.valid_up_to()];
            let line = 1 + before.iter().filter(|b| **b == b'\n').count();
            Err(ParseError {
                kind: ParseErrorKind::InvalidUtf8,
                line,
            })
        }
    }
}

/// Parse dotenv text.
///
/// `${NAME}` expansion looks `NAME` up in `outer` first (the process environment, which would
/// override this file anyway), then in earlier lines of this file, then in `lower`
/// (lower-precedence files already loaded); an unknown name expands to the empty string.
///
/// # Errors
///
/// The first syntax error, by kind and line.
///
/// ```
/// use stanchion_config::dotenv::{parse, NoVars};
/// let parsed = parse("export A=1\nB=\"x ${A}\" # note\n", &NoVars, &NoVars).unwrap();
/// assert_eq!(parsed.get("B"), Some("x 1"));
/// assert_eq!(parsed.entries()[1].line(), 2);
/// ```
pub fn parse(
    input: &str,
    outer: &dyn VarLookup,
    lower: &dyn VarLookup,
) -> Result<ParsedDotenv, ParseError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    // PERF: only files with CR pay for the copy; CRLF and lone CR both end a line.
    let text: Cow<'_, str> = if input.contains('\r') {
        Cow::Owned(input.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(input)
    };
    // PERF: an upper bound on assignments, so the entry list and index never regrow.
    let lines = 1 + text.bytes().filter(|byte| *byte == b'\n').count();
    Parser {
        bytes: text.as_bytes(),
        text: &text,
        pos: 0,
        line: 1,
        outer,
        lower,
        parsed: ParsedDotenv::with_capacity(lines),
    }
    .run()
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    line: usize,
    outer: &'a dyn VarLookup,
    lower: &'a dyn VarLookup,
    parsed: ParsedDotenv,
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn is_key_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_key_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.'
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    fn skip_to_line_end(&mut self) {
        while let Some(byte) = self.peek() {
            if byte == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }

    fn error(&self, kind: ParseErrorKind, line: usize) -> ParseError {
        ParseError { kind, line }
    }

    fn run(mut self) -> Result<ParsedDotenv, ParseError> {
        loop {
            self.skip_blanks();
            match self.peek() {
                None => break,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                }
                Some(b'#') => self.skip_to_line_end(),
                Some(_) => self.assignment()?,
            }
        }
        Ok(self.parsed)
    }

    fn key(&mut self) -> Result<&'a str, ParseError> {
        let start = self.pos;
        if !self.peek().is_some_and(is_key_start) {
            return Err(self.error(ParseErrorKind::InvalidKey, self.line));
        }
        while self.peek().is_some_and(is_key_char) {
            self.pos += 1;
        }
        Ok(&self.text[start..self.pos])
    }

    fn assignment(&mut self) -> Result<(), ParseError> {
        let line = self.line;
        let mut key = self.key()?;
        let mut exported = false;
        if key == "export" && self.peek().is_some_and(is_blank) {
            self.skip_blanks();
            if self.peek().is_some_and(is_key_start) {
                exported = true;
                key = self.key()?;
            }
        }
        self.skip_blanks();
        match self.peek() {
            Some(b'=') => self.pos += 1,
            // `export NAME` re-exports a name in shell; every variable is exported here, so it
            // is a no-op rather than an error.
            None | Some(b'\n' | b'#') if exported => {
                self.skip_to_line_end();
                return Ok(());
            }
            Some(byte)
                if !is_blank(byte) && byte != b'\n' && byte != b'#' && !is_key_char(byte) =>
            {
                return Err(self.error(ParseErrorKind::InvalidKey, line));
            }
            _ => return Err(self.error(ParseErrorKind::MissingEquals, line)),
        }
        let blank_before_value = self.peek().is_some_and(is_blank);
        self.skip_blanks();
        let mut references = Vec::new();
        let value = match self.peek() {
            Some(b'\'') => {
                let value = self.single_quoted(line)?;
                self.after_quote(line)?;
                value
            }
            Some(b'"') => {
                let value = self.double_quoted(line, &mut references)?;
                self.after_quote(line)?;
                value
            }
            _ => self.unquoted(line, blank_before_value, &mut references)?,
        };
        self.push(key, value, line, references);
        Ok(())
    }

    fn push(&mut self, key: &str, value: String, line: usize, references: Vec<String>) {
        let index = self.parsed.entries.len();
        if let Some((previous, count, _)) = self.parsed.index.get_mut(key) {
            self.parsed.duplicates.push(Duplicate {
                key: key.to_owned(),
                earlier_line: self.parsed.entries[*previous].line,
                line,
            });
            *previous = index;
            *count += 1;
        } else {
            self.parsed.index.insert(key.to_owned(), (index, 1, index));
        }
        self.parsed.entries.push(DotenvEntry {
            key: key.to_owned(),
            value,
            line,
            references,
        });
    }

    fn single_quoted(&mut self, line: usize) -> Result<String, ParseError> {
        self.pos += 1;
        let start = self.pos;
        let rest = &self.bytes[start..];
        let Some(len) = rest.iter().position(|b| *b == b'\'') else {
            return Err(self.error(ParseErrorKind::UnterminatedQuote, line));
        };
        let value = &self.text[start..start + len];
        self.line += value.bytes().filter(|b| *b == b'\n').count();
        self.pos = start + len + 1;
        Ok(value.to_owned())
    }

    fn double_quoted(
        &mut self,
        line: usize,
        references: &mut Vec<String>,
    ) -> Result<String, ParseError> {
        self.pos += 1;
        let mut value = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error(ParseErrorKind::UnterminatedQuote, line));
            };
            match byte {
                b'"' => {
                    value.push_str(&self.text[run_start..self.pos]);
                    self.pos += 1;
                    return Ok(value);
                }
                b'\\' => {
                    value.push_str(&self.text[run_start..self.pos]);
                    let escaped = match self.bytes.get(self.pos + 1) {
                        Some(b'n') => Some('\n'),
                        Some(b'r') => Some('\r'),
                        Some(b't') => Some('\t'),
                        Some(b'\\') => Some('\\'),
                        Some(b'"') => Some('"'),
                        Some(b'\'') => Some('\''),
                        Some(b'$') => Some('$'),
                        _ => None,
                    };
                    if let Some(ch) = escaped {
                        value.push(ch);
                        self.pos += 2;
                    } else {
                        // An unknown escape keeps its backslash (Windows paths stay intact).
                        value.push('\\');
                        self.pos += 1;
                    }
                    run_start = self.pos;
                }
                b'$' if self.bytes.get(self.pos + 1) == Some(&b'{') => {
                    value.push_str(&self.text[run_start..self.pos]);
                    self.expansion(&mut value, references)?;
                    run_start = self.pos;
                }
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn after_quote(&mut self, line: usize) -> Result<(), ParseError> {
        self.skip_blanks();
        match self.peek() {
            None | Some(b'\n') => Ok(()),
            Some(b'#') => {
                self.skip_to_line_end();
                Ok(())
            }
            Some(_) => Err(self.error(ParseErrorKind::TrailingCharacters, line.max(self.line))),
        }
    }

    fn unquoted(
        &mut self,
        line: usize,
        blank_before: bool,
        references: &mut Vec<String>,
    ) -> Result<String, ParseError> {
        let start = self.pos;
        self.skip_to_line_end();
        let raw = &self.text[start..self.pos];
        // A `#` starts a comment only after a blank, so URL fragments and `a#b` survive.
        let mut end = raw.len();
        let bytes = raw.as_bytes();
        for (index, byte) in bytes.iter().enumerate() {
            if *byte == b'#'
                && (if index == 0 {
                    blank_before
                } else {
                    is_blank(bytes[index - 1])
                })
            {
                end = index;
                break;
            }
        }
        let raw = raw[..end].trim_end_matches([' ', '\t']);
        if !raw.contains("${") {
            return Ok(raw.to_owned());
        }
        let mut value = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(at) = rest.find("${") {
            value.push_str(&rest[..at]);
            let (consumed, ok) = self.expand_inline(&rest[at..], &mut value, references);
            if !ok {
                return Err(self.error(ParseErrorKind::InvalidExpansion, line));
            }
            rest = &rest[at + consumed..];
        }
        value.push_str(rest);
        Ok(value)
    }

    /// Expand `${...}` at `self.pos` inside a double-quoted value.
    fn expansion(
        &mut self,
        value: &mut String,
        references: &mut Vec<String>,
    ) -> Result<(), ParseError> {
        let rest = &self.text[self.pos..];
        let line_end = rest.find(['\n', '"']).unwrap_or(rest.len());
        let (consumed, ok) = self.expand_inline(&rest[..line_end], value, references);
        if !ok {
            return Err(self.error(ParseErrorKind::InvalidExpansion, self.line));
        }
        self.pos += consumed;
        Ok(())
    }

    /// Expand one `${NAME}` or `${NAME:-default}` at the start of `text` into `value`.
    /// Returns the bytes consumed and whether the syntax was valid.
    fn expand_inline(
        &self,
        text: &str,
        value: &mut String,
        references: &mut Vec<String>,
    ) -> (usize, bool) {
        let body = &text[2..];
        let Some(close) = body.find('}') else {
            return (0, false);
        };
        let inner = &body[..close];
        let (name, default) = match inner.find(":-") {
            Some(at) => (&inner[..at], Some(&inner[at + 2..])),
            None => (inner, None),
        };
        let name_ok = name.as_bytes().first().is_some_and(|b| is_key_start(*b))
            && name.bytes().all(is_key_char);
        if !name_ok {
            return (0, false);
        }
        let found = self
            .outer
            .get_var(name)
            .or_else(|| {
                self.parsed
                    .index
                    .get(name)
                    .map(|(index, _, _)| self.parsed.entries[*index].value.as_str())
            })
            .or_else(|| self.lower.get_var(name));
        match (found, default) {
            (Some(""), Some(default)) => value.push_str(default),
            (Some(found), _) => value.push_str(found),
            (None, Some(default)) => value.push_str(default),
            (None, None) => {}
        }
        if !references.iter().any(|known| known == name) {
            references.push(name.to_owned());
        }
        (2 + close + 1, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_across_multi_line_values() {
        let parsed = parse("A='x\ny'\n\nB=\"1\n2\n3\"\nC=z", &NoVars, &NoVars).unwrap();
        let lines: Vec<usize> = parsed.entries().iter().map(DotenvEntry::line).collect();
        assert_eq!(lines, vec![1, 4, 7]);
    }

    #[test]
    fn invalid_utf8_reports_the_line_of_the_bad_byte() {
        let error = parse_bytes(b"A=1\nB=\xff\n", &NoVars, &NoVars).unwrap_err();
        assert_eq!(
            (error.kind(), error.line()),
            (ParseErrorKind::InvalidUtf8, 2)
        );
    }

    #[test]
    fn debug_of_an_entry_hides_the_value() {
        let parsed = parse("TOKEN=hunter2-secret", &NoVars, &NoVars).unwrap();
        let debug = format!("{parsed:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
