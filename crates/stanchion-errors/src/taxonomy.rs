//! The merged taxonomy of a service: base codes plus its extensions, checked for conflicts,
//! and the two artifacts reviewers rely on (the generated table and the lockfile).

use std::{
    collections::BTreeMap,
    fmt::{self, Write as _},
    fs, io,
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::{CodeSet, ErrorCode, codes};

/// The environment variable that turns the freshness checks into regeneration, on purpose.
pub const BLESS_ENV: &str = "STANCHION_BLESS";

/// Every code a service may send: the base codes plus the service's extensions.
///
/// ```
/// use stanchion_errors::Taxonomy;
///
/// stanchion_errors::error_codes! {
///     /// Example codes.
///     pub const MINE;
///     /// The widget is locked by another editor.
///     WIDGET_LOCKED = 409, "The widget is locked.";
/// }
///
/// let taxonomy = Taxonomy::builder().extend(MINE).build().unwrap();
/// assert_eq!(taxonomy.get("WIDGET_LOCKED"), Some(WIDGET_LOCKED));
/// assert!(taxonomy.get("NOT_FOUND").is_some());
/// ```
#[derive(Clone, Debug)]
pub struct Taxonomy {
    codes: Arc<BTreeMap<&'static str, ErrorCode>>,
}

impl Taxonomy {
    /// The base codes alone.
    pub fn base() -> Self {
        Self::builder()
            .build()
            .unwrap_or_else(|_| unreachable_base_conflict())
    }

    /// A builder that starts from the base codes.
    pub fn builder() -> TaxonomyBuilder {
        TaxonomyBuilder {
            sets: vec![codes::BASE],
        }
    }

    /// The code named `name`.
    pub fn get(&self, name: &str) -> Option<ErrorCode> {
        self.codes.get(name).copied()
    }

    /// Every code, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = ErrorCode> + '_ {
        self.codes.values().copied()
    }

    /// How many codes there are.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are none (never true: the base codes are always there).
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The reviewer table in Markdown: code, status, retryable, forwardable, public message and
    /// description, sorted by status then name. Deterministic, so it can be checked in.
    pub fn to_markdown(&self, title: &str) -> String {
        let mut sorted: Vec<ErrorCode> = self.iter().collect();
        sorted.sort_by_key(|code| (code.status_u16(), code.name()));
        let mut out = String::new();
        let _ = writeln!(out, "# {title}\n");
        let _ = writeln!(
            out,
            "<!-- Generated from the taxonomy by stanchion-errors; do not edit by hand. \
             Regenerate with `{BLESS_ENV}=1 cargo test`. -->\n"
        );
        let _ = writeln!(
            out,
            "Every error response carries one of these codes in `error.code`, with `statusCode` \
             equal to the HTTP status listed here. Messages are the exact public texts.\n"
        );
        out.push_str("| Code | Status | Retryable | Forwardable | Message | Description |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for code in sorted {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                code.name(),
                code.status_u16(),
                yes_no(code.is_retryable()),
                yes_no(code.is_forwardable()),
                table_cell(code.message()),
                table_cell(code.description()),
            );
        }
        out
    }

    /// The lockfile text: one line per code, `NAME STATUS retryable|final
    /// forwardable|internal`, sorted by name. `forwardable` is locked because turning it off
    /// changes what a proxy's callers receive (a relayed 429 becomes a 502).
    pub fn to_lock(&self) -> String {
        let mut out = format!(
            "# Error-code lock: every code this service has shipped, with its status, retry\n\
             # class and whether a proxy forwards it. A removed code or a changed status, retry\n\
             # class or forwarding fails the lock check. Regenerate on purpose with\n\
             # `{BLESS_ENV}=1 cargo test` and let reviewers see the diff.\n"
        );
        for code in self.iter() {
            let _ = writeln!(
                out,
                "{} {} {} {}",
                code.name(),
                code.status_u16(),
                retry_word(code.is_retryable()),
                forward_word(code.is_forwardable())
            );
        }
        out
    }

    /// Compares this taxonomy with a lockfile's text. Removed codes and changed statuses or
    /// retry classes are breaking; new codes only mean the lock is behind.
    pub fn diff_lock(&self, lock: &str) -> Result<LockDiff, LockParseError> {
        LockDiff::between(lock, &self.to_lock())
    }

    /// Checks that the reviewer table at `path` is what [`to_markdown`](Self::to_markdown)
    /// makes now. With `bless`, writes it instead.
    pub fn check_docs(
        &self,
        path: &Path,
        title: &str,
        bless: bool,
    ) -> Result<Checked, ArtifactError> {
        let expected = self.to_markdown(title);
        check_artifact(path, &expected, bless, |current| {
            (current != expected).then(|| {
                format!(
                    "{} is stale: it does not match the taxonomy. Regenerate it with \
                     `{BLESS_ENV}=1 cargo test` and commit the result. The difference:\n{}",
                    path.display(),
                    line_difference(current, &expected)
                )
            })
        })
    }

    /// Checks the lockfile at `path`: fails when a locked code disappeared or changed status
    /// or retry class (breaking), or when new codes are not locked yet. With `bless`, writes
    /// the current lock instead.
    pub fn check_lock(&self, path: &Path, bless: bool) -> Result<Checked, ArtifactError> {
        let expected = self.to_lock();
        check_artifact(path, &expected, bless, |current| {
            let diff = match self.diff_lock(current) {
                Ok(diff) => diff,
                Err(error) => return Some(format!("{}: {error}", path.display())),
            };
            (!diff.is_empty()).then(|| format!("{}: {diff}", path.display()))
        })
    }

    /// [`check_docs`](Self::check_docs) for a service's own tests: regenerates when
    /// `STANCHION_BLESS=1` is set, panics with the reason otherwise.
    #[track_caller]
    pub fn assert_docs_fresh(&self, path: impl AsRef<Path>, title: &str) {
        if let Err(error) = self.check_docs(path.as_ref(), title, bless_requested()) {
            panic!("{error}");
        }
    }

    /// [`check_lock`](Self::check_lock) for a service's own tests: regenerates when
    /// `STANCHION_BLESS=1` is set, panics with the reason otherwise.
    #[track_caller]
    pub fn assert_lock_holds(&self, path: impl AsRef<Path>) {
        if let Err(error) = self.check_lock(path.as_ref(), bless_requested()) {
            panic!("{error}");
        }
    }
}

fn bless_requested() -> bool {
    std::env::var(BLESS_ENV).is_ok_and(|value| value == "1")
}

fn unreachable_base_conflict() -> Taxonomy {
    // The base set is one `error_codes!` block, where the compiler rejects a duplicate name,
    // so building it alone cannot conflict. A unit test keeps that true.
    Taxonomy {
        codes: Arc::new(codes::BASE.codes().iter().map(|c| (c.name(), *c)).collect()),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn retry_word(retryable: bool) -> &'static str {
    if retryable { "retryable" } else { "final" }
}

fn forward_word(forwardable: bool) -> &'static str {
    if forwardable {
        "forwardable"
    } else {
        "internal"
    }
}

/// The lines only in `current` (`-`) and only in `expected` (`+`), in order, at most 20: what a
/// reviewer needs to see why a generated file is stale without running a diff tool.
fn line_difference(current: &str, expected: &str) -> String {
    const SHOWN: usize = 20;
    let current_lines: Vec<&str> = current.lines().collect();
    let expected_lines: Vec<&str> = expected.lines().collect();
    let removed = current_lines
        .iter()
        .filter(|line| !expected_lines.contains(line))
        .map(|line| format!("- {line}"));
    let added = expected_lines
        .iter()
        .filter(|line| !current_lines.contains(line))
        .map(|line| format!("+ {line}"));
    let mut lines: Vec<String> = removed.chain(added).collect();
    if lines.is_empty() {
        lines.push("  (the same lines in another order, or line endings differ)".to_owned());
    }
    let more = lines.len().saturating_sub(SHOWN);
    lines.truncate(SHOWN);
    if more > 0 {
        lines.push(format!("  ... and {more} more lines"));
    }
    lines.join("\n")
}

fn table_cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// What a freshness check did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Checked {
    /// The file matched.
    Fresh,
    /// The file was (re)written because regeneration was asked for.
    Regenerated,
}

fn check_artifact(
    path: &Path,
    expected: &str,
    bless: bool,
    problem: impl FnOnce(&str) -> Option<String>,
) -> Result<Checked, ArtifactError> {
    if bless {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| ArtifactError::io(path, source))?;
        }
        fs::write(path, expected).map_err(|source| ArtifactError::io(path, source))?;
        return Ok(Checked::Regenerated);
    }
    let current = match fs::read_to_string(path) {
        Ok(current) => current,
        Err(source) if source.kind() == io::ErrorKind::NotFound => {
            return Err(ArtifactError::Stale(format!(
                "{} does not exist. Generate it with `{BLESS_ENV}=1 cargo test` and commit it.",
                path.display()
            )));
        }
        Err(source) => return Err(ArtifactError::io(path, source)),
    };
    match problem(&current) {
        Some(message) => Err(ArtifactError::Stale(message)),
        None => Ok(Checked::Fresh),
    }
}

/// A reviewer artifact (the table or the lockfile) does not match the taxonomy, or could not
/// be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The file differs from the taxonomy; the message says how and how to regenerate it.
    #[error("{0}")]
    Stale(String),
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
}

impl ArtifactError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// How a taxonomy differs from its lockfile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockDiff {
    /// Locked codes the taxonomy no longer has (breaking).
    pub removed: Vec<String>,
    /// Locked codes whose status or retry class changed (breaking).
    pub changed: Vec<String>,
    /// Codes not in the lock yet (not breaking, but the lock must record them).
    pub added: Vec<String>,
    /// Codes whose lock line predates the forwarding column (`NAME STATUS retry`): nothing
    /// to compare, but the lock must record it.
    pub unrecorded: Vec<String>,
}

impl LockDiff {
    /// How the lock `new` differs from the lock `old` (for CI comparing a branch's lock with
    /// main's, as `stanchion errors diff` does).
    pub fn between(old: &str, new: &str) -> Result<Self, LockParseError> {
        let old = parse_lock(old)?;
        let new = parse_lock(new)?;
        let mut diff = Self::default();
        for (name, before) in &old {
            match new.get(name) {
                None => diff.removed.push(name.clone()),
                Some(after) if after.status != before.status => diff.changed.push(format!(
                    "{name}: status {} -> {}",
                    before.status, after.status
                )),
                Some(after) if after.retryable != before.retryable => diff.changed.push(format!(
                    "{name}: {} -> {}",
                    retry_word(before.retryable),
                    retry_word(after.retryable)
                )),
                Some(LockEntry {
                    forwardable: Some(after),
                    ..
                }) if before.forwardable.is_some_and(|before| before != *after) => {
                    diff.changed.push(format!(
                        "{name}: {} -> {}",
                        forward_word(!after),
                        forward_word(*after)
                    ));
                }
                Some(after) if before.forwardable.is_none() || after.forwardable.is_none() => {
                    diff.unrecorded.push(name.clone());
                }
                Some(_) => {}
            }
        }
        diff.added = new
            .keys()
            .filter(|name| !old.contains_key(*name))
            .cloned()
            .collect();
        Ok(diff)
    }

    /// Whether the taxonomy matches the lock.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty()
            && self.changed.is_empty()
            && self.added.is_empty()
            && self.unrecorded.is_empty()
    }

    /// Whether a client that knew the locked codes could break.
    pub fn is_breaking(&self) -> bool {
        !self.removed.is_empty() || !self.changed.is_empty()
    }
}

impl fmt::Display for LockDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_breaking() {
            f.write_str("BREAKING change to the error taxonomy:")?;
        } else {
            f.write_str("the lock is behind the taxonomy:")?;
        }
        for name in &self.removed {
            write!(f, " removed {name};")?;
        }
        for change in &self.changed {
            write!(f, " changed {change};")?;
        }
        for name in &self.added {
            write!(f, " new code {name} (not breaking);")?;
        }
        if !self.unrecorded.is_empty() {
            write!(
                f,
                " forwarding not recorded for {} (a lock from before the column);",
                self.unrecorded.join(", ")
            )?;
        }
        write!(
            f,
            " if this is on purpose, regenerate the lock with `{BLESS_ENV}=1 cargo test` and \
             have it reviewed"
        )
    }
}

struct LockEntry {
    status: u16,
    retryable: bool,
    /// `None` on a line from before the forwarding column.
    forwardable: Option<bool>,
}

fn parse_lock(text: &str) -> Result<BTreeMap<String, LockEntry>, LockParseError> {
    let mut entries = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || LockParseError { line: index + 1 };
        let mut words = line.split_whitespace();
        let (Some(name), Some(status), Some(retry), forward, None) = (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) else {
            return Err(bad());
        };
        let forwardable = match forward {
            None => None,
            Some("forwardable") => Some(true),
            Some("internal") => Some(false),
            Some(_) => return Err(bad()),
        };
        let status = status.parse::<u16>().map_err(|_| bad())?;
        let retryable = match retry {
            "retryable" => true,
            "final" => false,
            _ => return Err(bad()),
        };
        entries.insert(
            name.to_owned(),
            LockEntry {
                status,
                retryable,
                forwardable,
            },
        );
    }
    Ok(entries)
}

/// A lockfile line is not `NAME STATUS retryable|final`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "line {line} of the error-code lock is not `NAME STATUS retryable|final forwardable|internal`"
)]
pub struct LockParseError {
    line: usize,
}

impl LockParseError {
    /// The 1-based line number.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// Builds a [`Taxonomy`] from the base codes and a service's [`CodeSet`]s.
#[derive(Debug)]
#[must_use]
pub struct TaxonomyBuilder {
    sets: Vec<CodeSet>,
}

impl TaxonomyBuilder {
    /// Adds a set of codes declared with [`error_codes!`](crate::error_codes).
    pub fn extend(mut self, set: CodeSet) -> Self {
        self.sets.push(set);
        self
    }

    /// The merged taxonomy, or every conflict at once.
    pub fn build(self) -> Result<Taxonomy, TaxonomyError> {
        let mut codes: BTreeMap<&'static str, (ErrorCode, &'static str)> = BTreeMap::new();
        let mut conflicts = Vec::new();
        for set in &self.sets {
            for code in set.codes() {
                match codes.get(code.name()) {
                    Some((first, first_set)) => conflicts.push(Conflict {
                        code: code.name(),
                        first_set,
                        first_at: first.declared_at(),
                        second_set: set.name(),
                        second_at: code.declared_at(),
                    }),
                    None => {
                        codes.insert(code.name(), (*code, set.name()));
                    }
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(TaxonomyError { conflicts });
        }
        Ok(Taxonomy {
            codes: Arc::new(
                codes
                    .into_iter()
                    .map(|(name, (code, _))| (name, code))
                    .collect(),
            ),
        })
    }
}

/// The taxonomy declares a code more than once; the message names every conflict with both
/// declaration sites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxonomyError {
    conflicts: Vec<Conflict>,
}

impl TaxonomyError {
    /// The conflicting code names.
    pub fn codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.conflicts.iter().map(|c| c.code)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Conflict {
    code: &'static str,
    first_set: &'static str,
    first_at: &'static str,
    second_set: &'static str,
    second_at: &'static str,
}

impl fmt::Display for TaxonomyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the error taxonomy declares {} code(s) twice:",
            self.conflicts.len()
        )?;
        for c in &self.conflicts {
            write!(
                f,
                " `{}` in {} ({}) and again in {} ({});",
                c.code, c.first_set, c.first_at, c.second_set, c.second_at
            )?;
        }
        f.write_str(" each code must be declared exactly once")
    }
}

impl std::error::Error for TaxonomyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_codes_alone_never_conflict() {
        let built = Taxonomy::builder().build().expect("base codes are unique");
        assert_eq!(built.len(), codes::BASE.codes().len());
    }

    #[test]
    fn lock_lines_have_three_or_four_words() {
        for bad in [
            "NOT_FOUND",
            "NOT_FOUND 404",
            "NOT_FOUND x final",
            "NOT_FOUND 404 maybe",
            "A 1 final extra",
            "A 1 final internal more",
        ] {
            assert!(parse_lock(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(parse_lock("# comment\n\nNOT_FOUND 404 final\n").is_ok());
        assert!(parse_lock("NOT_FOUND 404 final internal\n").is_ok());
    }

    #[test]
    fn turning_forwardable_off_is_a_breaking_change_and_an_old_lock_must_be_regenerated() {
        let before = "LIMIT 429 retryable forwardable\n";
        let after = "LIMIT 429 retryable internal\n";
        let diff = LockDiff::between(before, after).unwrap();
        assert!(diff.is_breaking(), "{diff}");
        assert_eq!(diff.changed, ["LIMIT: forwardable -> internal"]);
        let legacy = LockDiff::between("LIMIT 429 retryable\n", after).unwrap();
        assert!(!legacy.is_breaking());
        assert_eq!(legacy.unrecorded, ["LIMIT"]);
        assert!(!legacy.is_empty(), "the lock must record the column");
    }

    #[test]
    fn a_stale_table_shows_the_lines_that_differ() {
        let shown = line_difference("# T\n| A | 404 |\n", "# T\n| A | 410 |\n| B | 500 |\n");
        assert_eq!(shown, "- | A | 404 |\n+ | A | 410 |\n+ | B | 500 |");
    }
}
