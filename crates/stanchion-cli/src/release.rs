//! `stanchion release check`: evaluates `RELEASE_CHECKLIST.md` and fails while an item is
//! open.
//!
//! The checklist is Markdown that people read and the command parses: `- key: value` lines
//! are fields, `- [ ] id: text` / `- [x] id: text` lines are items, anything else is prose.
//! Five item ids are decided by a machine check, whatever their box says, and must all be
//! present (deleting an item does not open the gate); any other item is a manual one that
//! passes when its box is ticked.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use clap::{Args, Subcommand};
use stanchion_redact::Redactor;

use crate::{
    civil::{Date, Moment},
    ledger, output,
    output::Format,
    smoke,
};

/// The machine-checked items, in the order they are reported.
const MACHINE_ITEMS: [&str; 5] = [
    "rules-tests",
    "smoke-streak",
    "readiness-snapshot",
    "changelog",
    "rollback-owner",
];

/// The fields a checklist may set.
const FIELDS: [&str; 7] = [
    "rules_tests_command",
    "smoke_ledger",
    "readiness_dir",
    "readiness_max_age_days",
    "changelog",
    "rollback_owner",
    "rollback_response_time_goal",
];

const READINESS_PREFIX: &str = "production-hardening-rollout-readiness-";

/// Arguments of `stanchion release`.
#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    #[command(subcommand)]
    command: ReleaseCommand,
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Evaluate the release checklist: print each item pass/fail with why. Exits 0 when every
    /// item passes, 1 while one is open, 2 when the checklist cannot be read or parsed.
    #[command(after_help = "Examples:
  stanchion release check
  stanchion release check --checklist RELEASE_CHECKLIST.md --format json")]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The checklist; its relative paths and commands resolve from its directory.
    #[arg(long, value_name = "FILE", default_value = "RELEASE_CHECKLIST.md")]
    checklist: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// A parsed checklist.
#[derive(Debug)]
struct Checklist {
    fields: BTreeMap<String, String>,
    /// Item id → (ticked, line number).
    items: BTreeMap<String, (bool, usize)>,
}

fn parse(path: &Path, text: &str) -> Result<Checklist, String> {
    let mut fields = BTreeMap::new();
    let mut items = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let at = |why: String| format!("{}:{number}: {why}", path.display());
        let Some(rest) = line.strip_prefix("- ") else {
            continue;
        };
        if let Some(item) = rest.strip_prefix('[') {
            let (ticked, item) = match item.split_at_checked(2) {
                Some((" ]", item)) => (false, item),
                Some(("x]" | "X]", item)) => (true, item),
                _ => return Err(at("an item starts with `- [ ] ` or `- [x] `".to_owned())),
            };
            let id = item
                .trim_start()
                .split_once(':')
                .map(|(id, _)| id.trim())
                .filter(|id| {
                    !id.is_empty()
                        && id
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                })
                .ok_or_else(|| {
                    at("an item reads `- [ ] id: text` (id in lowercase-with-dashes)".to_owned())
                })?;
            if items.insert(id.to_owned(), (ticked, number)).is_some() {
                return Err(at(format!("item `{id}` appears twice")));
            }
        } else if let Some((key, value)) = rest.split_once(':') {
            let key = key.trim();
            if !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                continue; // A prose bullet with a colon.
            }
            if !FIELDS.contains(&key) {
                return Err(at(format!(
                    "unknown field `{key}` (fields: {})",
                    FIELDS.join(", ")
                )));
            }
            if fields
                .insert(key.to_owned(), value.trim().to_owned())
                .is_some()
            {
                return Err(at(format!("field `{key}` appears twice")));
            }
        }
    }
    Ok(Checklist { fields, items })
}

/// A field's value, or why the item depending on it cannot pass.
fn field<'a>(checklist: &'a Checklist, key: &str) -> Result<&'a str, String> {
    match checklist.fields.get(key).map(String::as_str) {
        Some(value) if !is_placeholder(value) => Ok(value),
        Some(_) => Err(format!("field `{key}` is not filled in")),
        None => Err(format!("field `{key}` is missing")),
    }
}

/// An empty value or a template placeholder (`TBD`, `TODO`, `-`, `<...>`, `?`).
fn is_placeholder(value: &str) -> bool {
    let value = value.trim();
    value.is_empty()
        || matches!(
            value.to_ascii_lowercase().as_str(),
            "tbd" | "todo" | "-" | "?" | "none"
        )
        || (value.starts_with('<') && value.ends_with('>'))
}

fn evaluate(id: &str, checklist: &Checklist, base: &Path, today: Date) -> Result<String, String> {
    match id {
        "rules-tests" => {
            let command = field(checklist, "rules_tests_command")?;
            let status = Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(base)
                .stdout(std::io::stderr())
                .status()
                .map_err(|error| format!("`{command}` could not start: {error}"))?;
            if status.success() {
                Ok(format!("`{command}` passed"))
            } else {
                Err(format!("`{command}` failed ({status})"))
            }
        }
        "smoke-streak" => {
            let dir = base.join(field(checklist, "smoke_ledger")?);
            let entries = ledger::read_all(&dir)?;
            let streak = smoke::count(&entries, None);
            let Some(as_of) = streak.as_of else {
                return Err(format!("{} has no entries", dir.display()));
            };
            let age = today.days_after(as_of);
            if streak.days < smoke::REQUIRED_DAYS {
                Err(format!(
                    "streak of {} day(s) ending {as_of}; {} required",
                    streak.days,
                    smoke::REQUIRED_DAYS
                ))
            } else if age > 1 {
                Err(format!(
                    "the streak of {} days ended {as_of}, {age} days ago: not current",
                    streak.days
                ))
            } else {
                Ok(format!("streak of {} days ending {as_of}", streak.days))
            }
        }
        "readiness-snapshot" => {
            let dir = base.join(field(checklist, "readiness_dir")?);
            let max_age: i64 = field(checklist, "readiness_max_age_days")?
                .parse()
                .ok()
                .filter(|days| *days >= 0)
                .ok_or("field `readiness_max_age_days` is not a number of days")?;
            let newest = fs::read_dir(&dir)
                .map_err(|error| format!("cannot read {}: {error}", dir.display()))?
                .filter_map(|item| {
                    let name = item.ok()?.file_name().into_string().ok()?;
                    let date = name.strip_prefix(READINESS_PREFIX)?.strip_suffix(".md")?;
                    Date::parse(date).ok()
                })
                .filter(|date| *date <= today)
                .max()
                .ok_or_else(|| {
                    format!("no {READINESS_PREFIX}YYYY-MM-DD.md in {}", dir.display())
                })?;
            let age = today.days_after(newest);
            if age <= max_age {
                Ok(format!(
                    "snapshot of {newest} ({age} day(s) old, at most {max_age})"
                ))
            } else {
                Err(format!(
                    "newest snapshot is of {newest}, {age} days old (at most {max_age})"
                ))
            }
        }
        "changelog" => {
            let path = base.join(field(checklist, "changelog")?);
            let text = fs::read_to_string(&path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            let mut in_unreleased = false;
            let mut entries = 0;
            for line in text.lines() {
                if let Some(heading) = line.strip_prefix("## ") {
                    in_unreleased = heading
                        .trim()
                        .trim_matches(['[', ']'])
                        .eq_ignore_ascii_case("unreleased");
                } else if in_unreleased && line.starts_with("- ") {
                    entries += 1;
                }
            }
            if entries > 0 {
                Ok(format!(
                    "{entries} entr(ies) under Unreleased in {}",
                    path.display()
                ))
            } else {
                Err(format!(
                    "no entry under `## Unreleased` in {}",
                    path.display()
                ))
            }
        }
        "rollback-owner" => {
            let owner = field(checklist, "rollback_owner")?;
            let goal = field(checklist, "rollback_response_time_goal")?;
            Ok(format!("owner {owner}, response-time goal {goal}"))
        }
        _ => Err(format!("`{id}` is not a machine-checked item")),
    }
}

pub(crate) fn run(args: ReleaseArgs) -> ExitCode {
    let redactor = Redactor::new();
    let ReleaseCommand::Check(args) = args.command;
    match check(&redactor, &args) {
        Ok(code) => code,
        Err(why) => {
            output::eprintln(&redactor, &format!("stanchion release check: {why}"));
            ExitCode::from(2)
        }
    }
}

fn check(redactor: &Redactor, args: &CheckArgs) -> Result<ExitCode, String> {
    let path = &args.checklist;
    let text = fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let checklist = parse(path, &text)?;
    let base = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let today = Moment::now().date;

    let mut results: Vec<(String, bool, String)> = Vec::new();
    for id in MACHINE_ITEMS {
        let (passed, why) = if checklist.items.contains_key(id) {
            match evaluate(id, &checklist, base, today) {
                Ok(why) => (true, why),
                Err(why) => (false, why),
            }
        } else {
            (false, format!("item `{id}` is missing from the checklist"))
        };
        results.push((id.to_owned(), passed, why));
    }
    for (id, (ticked, line)) in &checklist.items {
        if MACHINE_ITEMS.contains(&id.as_str()) {
            continue;
        }
        let why = if *ticked {
            format!("ticked (line {line})")
        } else {
            format!("not ticked (line {line})")
        };
        results.push((id.clone(), *ticked, why));
    }
    let open = results.iter().filter(|(_, passed, _)| !passed).count();
    match args.format {
        Format::Json => {
            let mut value = serde_json::json!({
                "checklist": path.display().to_string(),
                "items": results.iter().map(|(id, passed, why)| serde_json::json!({
                    "id": id, "pass": passed, "why": why,
                })).collect::<Vec<_>>(),
                "open": open,
            });
            output::redact_json(redactor, &mut value);
            output::print_unchanged(&format!("{value:#}\n"));
        }
        Format::Text => {
            let mut report = String::new();
            for (id, passed, why) in &results {
                let verdict = if *passed { "pass" } else { "FAIL" };
                report.push_str(&format!("{verdict}  {id}: {why}\n"));
            }
            report.push_str(&if open == 0 {
                "release checklist complete\n".to_owned()
            } else {
                format!("{open} item(s) open: no release\n")
            });
            output::print(redactor, &report);
        }
    }
    Ok(if open == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_items_and_prose_are_told_apart() {
        let text = "# Release\n\n- a prose bullet: with a colon\n- rollback_owner: @ops\n\
                    - [x] rules-tests: green\n- [ ] sign-off: by the lead\n";
        let checklist = parse(Path::new("C.md"), text).unwrap();
        assert_eq!(checklist.fields["rollback_owner"], "@ops");
        assert_eq!(checklist.items["rules-tests"], (true, 5));
        assert_eq!(checklist.items["sign-off"], (false, 6));
    }

    #[test]
    fn a_malformed_item_or_unknown_field_names_its_line() {
        let error = parse(Path::new("C.md"), "\n- [?] x: y\n").unwrap_err();
        assert!(error.starts_with("C.md:2:"), "{error}");
        let error = parse(Path::new("C.md"), "- rollback_ownr: me\n").unwrap_err();
        assert!(error.contains("unknown field `rollback_ownr`"), "{error}");
        assert!(is_placeholder("<name>") && is_placeholder(" TBD ") && !is_placeholder("@ops"));
    }
}
