//! The smoke evidence ledger: one Markdown file per month,
//! `production-hardening-smoke-window-YYYY-MM.md`, a fixed header and then one table row per
//! record.
//!
//! The file is append-only and safe under concurrent records without a lock: a month file is
//! created whole (its header written to a temporary file that is hard-linked into place, so
//! it either exists complete or not at all, and a second creator finds it there), and each
//! entry is one `write` on a descriptor opened with `O_APPEND`, which the kernel positions at
//! the end of the file atomically. An existing row is never read back for writing. Before
//! appending, the file is parsed: a file edited by hand into another shape is refused with
//! its path and line, and nothing is written to it.

use std::{
    collections::BTreeMap,
    fs::{self, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    process,
};

use crate::civil::Date;

const FILE_PREFIX: &str = "production-hardening-smoke-window-";
const CUT_SHORT: &str = "the file is cut short (an incomplete header or last line)";
const COLUMNS: [&str; 9] = [
    "date", "time", "commit", "modes", "checks", "kind", "result", "incident", "notes",
];

/// One ledger row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) date: Date,
    /// `HH:MM:SSZ`.
    pub(crate) time: String,
    pub(crate) commit: String,
    /// `NAME=value` or `NAME=value(default)`, space-separated.
    pub(crate) modes: String,
    /// `name:pass` / `name:fail`, comma-separated, or `-`.
    pub(crate) checks: String,
    /// Strict entries ran the declared checks; only they count for the streak.
    pub(crate) strict: bool,
    pub(crate) pass: bool,
    /// An incident reference, or `-`.
    pub(crate) incident: String,
    /// Free text, or `-`.
    pub(crate) notes: String,
}

/// The path of the month file holding `date`.
pub(crate) fn month_file(dir: &Path, date: Date) -> PathBuf {
    dir.join(format!("{FILE_PREFIX}{}.md", date.year_month()))
}

fn header(year_month: &str) -> String {
    format!(
        "# Production hardening smoke window {year_month}\n\
         \n\
         Append-only evidence ledger written by `stanchion smoke record`; one row per record, \
         never rewritten (see docs/rollout.md).\n\
         \n\
         | {} |\n\
         |{}\n",
        COLUMNS.join(" | "),
        "---|".repeat(COLUMNS.len()),
    )
}

/// Makes a cell safe for a one-line table row: line breaks become spaces, `|` is escaped,
/// and an empty cell is `-`.
fn cell(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.trim().replace('\\', "\\\\").replace('|', "\\|");
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

impl Entry {
    fn to_row(&self) -> String {
        let cells = [
            self.date.to_string(),
            self.time.clone(),
            cell(&self.commit),
            cell(&self.modes),
            cell(&self.checks),
            (if self.strict { "strict" } else { "manual" }).to_owned(),
            (if self.pass { "pass" } else { "fail" }).to_owned(),
            cell(&self.incident),
            cell(&self.notes),
        ];
        format!("| {} |\n", cells.join(" | "))
    }

    fn from_row(row: &str, year_month: &str) -> Result<Self, String> {
        let inner = row
            .strip_prefix("| ")
            .and_then(|rest| rest.strip_suffix(" |"))
            .ok_or("a row starts with `| ` and ends with ` |`")?;
        let cells = split_cells(inner);
        if cells.len() != COLUMNS.len() {
            return Err(format!(
                "a row has {} cells ({}), this one has {}",
                COLUMNS.len(),
                COLUMNS.join(", "),
                cells.len()
            ));
        }
        let date = Date::parse(&cells[0])?;
        if date.year_month() != year_month {
            return Err(format!("{date} does not belong in the {year_month} file"));
        }
        let time = &cells[1];
        let valid_time = time.len() == 9
            && time.ends_with('Z')
            && time[..8]
                .split(':')
                .map(|part| part.parse::<u32>().ok().filter(|_| part.len() == 2))
                .collect::<Option<Vec<_>>>()
                .is_some_and(|p| p.len() == 3 && p[0] < 24 && p[1] < 60 && p[2] < 60);
        if !valid_time {
            return Err(format!("time `{time}` is not HH:MM:SSZ"));
        }
        let strict = match cells[5].as_str() {
            "strict" => true,
            "manual" => false,
            other => return Err(format!("kind `{other}` is neither `strict` nor `manual`")),
        };
        let pass = match cells[6].as_str() {
            "pass" => true,
            "fail" => false,
            other => return Err(format!("result `{other}` is neither `pass` nor `fail`")),
        };
        Ok(Self {
            date,
            time: time.clone(),
            commit: cells[2].clone(),
            modes: cells[3].clone(),
            checks: cells[4].clone(),
            strict,
            pass,
            incident: cells[7].clone(),
            notes: cells[8].clone(),
        })
    }
}

/// Splits a row's inside on ` | ` that is not escaped, undoing the escapes of [`cell`].
fn split_cells(inner: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            '|' => cells.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    cells.push(current);
    cells.iter().map(|cell| cell.trim().to_owned()).collect()
}

/// Parses one month file; the error names the file and the line.
pub(crate) fn read_month(path: &Path) -> Result<Vec<Entry>, String> {
    let text = fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let year_month = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix(FILE_PREFIX))
        .and_then(|rest| rest.strip_suffix(".md"))
        .filter(|ym| Date::parse(&format!("{ym}-01")).is_ok())
        .ok_or_else(|| format!("{} is not a ledger month file", path.display()))?;
    let expected = header(year_month);
    let expected_lines: Vec<&str> = expected.lines().collect();
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let result = match expected_lines.get(index) {
            Some(&want) if line == want => continue,
            Some(&want) => Err(format!("the header line must read `{want}`")),
            None => Entry::from_row(line, year_month).map(|entry| entries.push(entry)),
        };
        result.map_err(|why| format!("{}:{number}: {why}", path.display()))?;
    }
    if text.lines().count() < expected_lines.len() || !text.ends_with('\n') {
        return Err(format!("{}: {CUT_SHORT}", path.display()));
    }
    Ok(entries)
}

/// Checks that the month file at `path` is a ledger before a record appends to it.
///
/// A concurrent record's row may be caught half written by the read (a reader does not wait
/// for a writer); a short wait lets it finish before a cut-off file is refused.
pub(crate) fn check_month(path: &Path) -> Result<(), String> {
    for _ in 0..2 {
        match read_month(path) {
            Err(why) if why.ends_with(CUT_SHORT) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            result => return result.map(drop),
        }
    }
    read_month(path).map(drop)
}

/// Every entry in `dir`, by month file in date order. A missing directory is an error (the
/// ledger path is wrong); an empty one has no entries.
pub(crate) fn read_all(dir: &Path) -> Result<Vec<Entry>, String> {
    let listing =
        fs::read_dir(dir).map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    let mut files = BTreeMap::new();
    for item in listing {
        let item = item.map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with(FILE_PREFIX) && name.ends_with(".md") {
            files.insert(name, item.path());
        }
    }
    let mut entries = Vec::new();
    for path in files.values() {
        entries.extend(read_month(path)?);
    }
    Ok(entries)
}

/// Appends `entry` to its month file in `dir`, creating the file (whole) when it is the
/// month's first. The existing file is checked first and refused, untouched, if it is not a
/// ledger.
pub(crate) fn append(dir: &Path, entry: &Entry) -> Result<PathBuf, String> {
    let path = month_file(dir, entry.date);
    create_whole(&path, &header(&entry.date.year_month()))
        .map_err(|error| format!("cannot create {}: {error}", path.display()))?;
    check_month(&path)?;
    let mut file = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    // One write call for the whole row: with O_APPEND the kernel places it at the end of the
    // file in one step, so a concurrent record's row lands before or after it, never inside.
    file.write_all(entry.to_row().as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|error| format!("cannot append to {}: {error}", path.display()))?;
    Ok(path)
}

/// A temporary file name in `path`'s directory (same file system, so a link or a rename into
/// place is atomic), unique to this process.
fn temporary_beside(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map_or_else(Default::default, |n| n.to_string_lossy()),
        process::id()
    ))
}

/// Creates `path` with `contents` unless it exists, so that it is never seen partly written:
/// a temporary file in the same directory is written and synced, then hard-linked to `path`
/// (a link fails if `path` exists, where a rename would replace it).
fn create_whole(path: &Path, contents: &str) -> io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let temporary = temporary_beside(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        match fs::hard_link(&temporary, path) {
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        }
    })();
    let _ = fs::remove_file(&temporary);
    result
}

/// Writes `contents` to `path` by replacing it whole (temporary file, then rename), for the
/// Prometheus textfile, which a collector may read at any moment.
pub(crate) fn replace_whole(path: &Path, contents: &str) -> io::Result<()> {
    let temporary = temporary_beside(path);
    let result = fs::write(&temporary, contents).and_then(|()| fs::rename(&temporary, path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(notes: &str) -> Entry {
        Entry {
            date: Date::parse("2026-11-30").unwrap(),
            time: "07:05:09Z".to_owned(),
            commit: "abc123".to_owned(),
            modes: "AUTH_MODE=shadow GUARD_MODE=enforced(default)".to_owned(),
            checks: "unit:pass".to_owned(),
            strict: true,
            pass: false,
            incident: "-".to_owned(),
            notes: notes.to_owned(),
        }
    }

    #[test]
    fn a_row_round_trips_with_pipes_backslashes_and_line_breaks_in_the_notes() {
        let row = entry("a | b \\ c\nd").to_row();
        assert_eq!(row.lines().count(), 1, "{row}");
        let back = Entry::from_row(row.trim_end(), "2026-11").unwrap();
        assert_eq!(back, entry("a | b \\ c d"));
    }

    #[test]
    fn a_row_in_the_wrong_month_or_with_a_bad_word_is_refused() {
        let row = entry("x").to_row();
        assert!(Entry::from_row(row.trim_end(), "2026-12").is_err());
        let bad = row.replace("| fail |", "| maybe |");
        let error = Entry::from_row(bad.trim_end(), "2026-11").unwrap_err();
        assert!(error.contains("maybe"), "{error}");
        let bad = row.replace("07:05:09Z", "25:05:09Z");
        assert!(Entry::from_row(bad.trim_end(), "2026-11").is_err());
    }
}
