//! `stanchion smoke`: the daily smoke evidence record and the pass streak that decides the
//! end of a burn-in window (seven consecutive days of strict passes).
//!
//! `record` appends one entry to the month's ledger file (see [`crate::ledger`] for how it
//! stays append-only under concurrent records); `streak` reads every month file and counts.
//! A strict pass also refreshes a Prometheus textfile with its time, so an alert can fire
//! when the evidence goes stale.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use clap::{Args, Subcommand};
use stanchion_redact::Redactor;

use crate::{
    civil::{Date, Moment, date_argument},
    ledger::{self, Entry},
    output,
    output::Format,
    rollout_file::{CheckSpec, Rollout},
};

/// The exit criterion of the smoke window: this many consecutive days of strict passes.
pub(crate) const REQUIRED_DAYS: usize = 7;

/// The textfile (for node_exporter's textfile collector) a strict pass refreshes.
pub(crate) const PROM_FILE: &str = "production_hardening_smoke.prom";
const METRIC: &str = "stanchion_smoke_last_success_timestamp_seconds";

/// Arguments of `stanchion smoke`.
#[derive(Debug, Args)]
pub(crate) struct SmokeArgs {
    #[command(subcommand)]
    command: SmokeCommand,
}

#[derive(Debug, Subcommand)]
enum SmokeCommand {
    /// Append one entry (date, time, commit, mode flags, checks, result, notes) to
    /// LEDGER/production-hardening-smoke-window-YYYY-MM.md. Exits 0 when the entry passed,
    /// 1 when a check failed (the entry is still appended), 2 on unusable input (nothing
    /// is written).
    #[command(after_help = "Examples:
  stanchion smoke record --checks --ledger ops/evidence
  stanchion smoke record --checks --check 'curl -fsS http://127.0.0.1:8080/healthz' --note 'after deploy'
  stanchion smoke record --ledger ops/evidence --date 2026-11-30 --note 'backfilled by hand' --incident INC-42")]
    Record(RecordArgs),
    /// Print the streak of consecutive days with a strict pass, counting back from the latest
    /// recorded day (or --as-of). A day with a failing strict entry or without a strict pass
    /// ends it. Exits 0 when the exit criterion (7 days) is met, 1 when not, 2 on unusable
    /// input.
    #[command(after_help = "Examples:
  stanchion smoke streak --ledger ops/evidence
  stanchion smoke streak --ledger ops/evidence --as-of 2026-11-30 --format json")]
    Streak(StreakArgs),
}

#[derive(Debug, Args)]
struct RecordArgs {
    /// Run the command checks declared in the rollout file; makes the entry strict (only
    /// strict entries count for the streak).
    #[arg(long)]
    checks: bool,
    /// A further command check (run with `sh -c`, passes on exit 0); repeatable.
    #[arg(long = "check", value_name = "CMD")]
    extra_checks: Vec<String>,
    /// The ledger directory (created if missing).
    #[arg(long, value_name = "DIR", default_value = "ops/evidence")]
    ledger: PathBuf,
    /// The rollout file declaring the checks and the mode flags.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "examples/backend/ops/rollout.toml"
    )]
    rollout: PathBuf,
    /// The day the entry is for (UTC; default today, never in the future).
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
    /// A note kept in the entry.
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// An incident reference kept in the entry; it lets a record pass despite configuration
    /// drift from --freeze.
    #[arg(long, value_name = "REF")]
    incident: Option<String>,
    /// A freeze file from `stanchion config freeze`: the entry fails when the configuration
    /// drifted from it, unless it carries --incident. Needs STANCHION_FREEZE_KEY.
    #[arg(long, value_name = "FILE")]
    freeze: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct StreakArgs {
    /// The ledger directory.
    #[arg(long, value_name = "DIR", default_value = "ops/evidence")]
    ledger: PathBuf,
    /// Count back from this day instead of the latest recorded one (never in the future).
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(crate) fn run(args: SmokeArgs) -> ExitCode {
    let redactor = Redactor::new();
    let (name, result) = match args.command {
        SmokeCommand::Record(args) => ("record", record(&redactor, args)),
        SmokeCommand::Streak(args) => ("streak", streak(&redactor, args)),
    };
    result.unwrap_or_else(|why| {
        output::eprintln(&redactor, &format!("stanchion smoke {name}: {why}"));
        ExitCode::from(2)
    })
}

fn record(redactor: &Redactor, args: RecordArgs) -> Result<ExitCode, String> {
    let now = Moment::now();
    let date = match &args.date {
        Some(text) => date_argument(text, "--date", now.date)?,
        None => now.date,
    };
    let rollout = Rollout::load(&args.rollout)?;
    let modes = rollout
        .modes(redactor)
        .map_err(|why| format!("{}: {why}", args.rollout.display()))?;
    let mut checks: Vec<CheckSpec> = if args.checks {
        rollout.checks
    } else {
        Vec::new()
    };
    checks.extend(args.extra_checks.iter().map(|command| CheckSpec {
        name: command.clone(),
        command: command.clone(),
    }));
    if args.checks && checks.is_empty() {
        return Err(format!(
            "--checks: {} declares no checks and no --check was given",
            args.rollout.display()
        ));
    }
    fs::create_dir_all(&args.ledger)
        .map_err(|error| format!("cannot create {}: {error}", args.ledger.display()))?;
    // Refuse a hand-edited ledger before spending minutes on the checks.
    let month_file = ledger::month_file(&args.ledger, date);
    if month_file.exists() {
        ledger::check_month(&month_file)?;
    }

    let drift = args
        .freeze
        .as_deref()
        .map(|path| crate::freeze::drift(redactor, path))
        .transpose()?;
    let mut results: Vec<(String, &str)> = Vec::new();
    if let Some(changes) = &drift {
        for change in changes {
            output::eprintln(redactor, &format!("configuration drift: {change}"));
        }
        let incident = args
            .incident
            .as_deref()
            .is_some_and(|r| !r.trim().is_empty());
        let status = match (changes.is_empty(), incident) {
            (true, _) => "pass",
            (false, true) => "drift-under-incident",
            (false, false) => "fail",
        };
        output::eprintln(redactor, &format!("check config-freeze: {status}"));
        results.push(("config-freeze".to_owned(), status));
    }
    for check in &checks {
        let passed = check.run();
        output::eprintln(
            redactor,
            &format!(
                "check {}: {}",
                check.name,
                if passed { "pass" } else { "fail" }
            ),
        );
        results.push((check.name.clone(), if passed { "pass" } else { "fail" }));
    }
    let pass = results.iter().all(|(_, status)| *status != "fail");
    // Notes and references are operator input and may quote a credential: stored redacted.
    let clean = |text: &Option<String>| {
        redactor
            .redact(text.as_deref().unwrap_or_default())
            .into_owned()
    };
    let entry = Entry {
        date,
        time: now.time_of_day(),
        commit: current_commit(),
        modes: modes
            .iter()
            .map(|flag| flag.render())
            .collect::<Vec<_>>()
            .join(" "),
        checks: results
            .iter()
            .map(|(name, status)| format!("{name}:{status}"))
            .collect::<Vec<_>>()
            .join(", "),
        strict: args.checks,
        pass,
        incident: clean(&args.incident),
        notes: clean(&args.note),
    };
    let path = ledger::append(&args.ledger, &entry)?;
    if entry.strict && pass {
        write_textfile(&args.ledger, now.unix_seconds)?;
    }
    output::print(
        redactor,
        &format!(
            "recorded {} {} for {date} in {}\n",
            if entry.strict { "strict" } else { "manual" },
            if pass { "pass" } else { "fail" },
            path.display()
        ),
    );
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The commit checked out in the working directory, or `unknown` outside a git checkout.
fn current_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn write_textfile(dir: &Path, unix_seconds: i64) -> Result<(), String> {
    let path = dir.join(PROM_FILE);
    let text = format!(
        "# HELP {METRIC} Unix time of the last strict smoke record that passed.\n\
         # TYPE {METRIC} gauge\n\
         {METRIC} {unix_seconds}\n"
    );
    ledger::replace_whole(&path, &text)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// The streak ending at a day, and why it ends where it does.
#[derive(Debug)]
pub(crate) struct Streak {
    pub(crate) as_of: Option<Date>,
    pub(crate) days: usize,
    first_day: Option<Date>,
    /// The day before the streak and why it does not count; `None` for an empty ledger.
    ended_by: Option<(Date, &'static str)>,
    last_strict_pass: Option<Date>,
}

/// The streak ending at `as_of`, or at the latest recorded day.
pub(crate) fn count(entries: &[Entry], as_of: Option<Date>) -> Streak {
    let as_of = as_of.or_else(|| entries.iter().map(|entry| entry.date).max());
    let last_strict_pass = entries
        .iter()
        .filter(|entry| entry.strict && entry.pass && as_of.is_some_and(|day| entry.date <= day))
        .map(|entry| entry.date)
        .max();
    let Some(mut day) = as_of else {
        return Streak {
            as_of,
            days: 0,
            first_day: None,
            ended_by: None,
            last_strict_pass,
        };
    };
    let mut days = 0;
    let mut first_day = None;
    let ended_by = loop {
        let strict: Vec<&Entry> = entries
            .iter()
            .filter(|entry| entry.date == day && entry.strict)
            .collect();
        if strict.iter().any(|entry| !entry.pass) {
            break (day, "a strict entry failed");
        }
        if strict.is_empty() {
            break (day, "no strict entry recorded");
        }
        days += 1;
        first_day = Some(day);
        day = day.previous();
    };
    Streak {
        as_of,
        days,
        first_day,
        ended_by: Some(ended_by),
        last_strict_pass,
    }
}

fn streak(redactor: &Redactor, args: StreakArgs) -> Result<ExitCode, String> {
    let today = Moment::now().date;
    let as_of = args
        .as_of
        .as_deref()
        .map(|text| date_argument(text, "--as-of", today))
        .transpose()?;
    let entries = ledger::read_all(&args.ledger)?;
    let streak = count(&entries, as_of);
    let met = streak.days >= REQUIRED_DAYS;
    let show = |date: Option<Date>| date.map(|date| date.to_string());
    match args.format {
        Format::Json => {
            let mut value = serde_json::json!({
                "ledger": args.ledger.display().to_string(),
                "as_of": show(streak.as_of),
                "streak_days": streak.days,
                "first_day": show(streak.first_day),
                "ended_by": streak.ended_by.map(|(day, why)| {
                    serde_json::json!({ "date": day.to_string(), "reason": why })
                }),
                "last_strict_pass": show(streak.last_strict_pass),
                "required_days": REQUIRED_DAYS,
                "met": met,
            });
            output::redact_json(redactor, &mut value);
            output::print_unchanged(&format!("{value:#}\n"));
        }
        Format::Text => {
            let mut text = match (streak.as_of, streak.first_day) {
                (Some(as_of), Some(first)) => format!(
                    "streak: {} consecutive day(s) of strict passes, {first} to {as_of}\n",
                    streak.days
                ),
                (Some(as_of), None) => format!("streak: 0 days as of {as_of}\n"),
                (None, _) => format!(
                    "streak: 0 days ({} has no entries)\n",
                    args.ledger.display()
                ),
            };
            if let Some((day, why)) = streak.ended_by {
                text.push_str(&format!("ended by: {day}: {why}\n"));
            }
            text.push_str(&format!(
                "exit criterion: {REQUIRED_DAYS} days, {}\n",
                if met { "met" } else { "not met" }
            ));
            output::print(redactor, &text);
        }
    }
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(date: &str, strict: bool, pass: bool) -> Entry {
        Entry {
            date: Date::parse(date).unwrap(),
            time: "06:00:00Z".to_owned(),
            commit: "c".to_owned(),
            modes: "-".to_owned(),
            checks: "-".to_owned(),
            strict,
            pass,
            incident: "-".to_owned(),
            notes: "-".to_owned(),
        }
    }

    #[test]
    fn a_failing_strict_entry_resets_and_a_manual_one_does_not_count() {
        let entries = [
            entry("2026-11-27", true, true),
            entry("2026-11-28", true, true),
            entry("2026-11-28", true, false),
            entry("2026-11-29", true, true),
            entry("2026-11-29", false, false),
            entry("2026-11-30", true, true),
        ];
        let streak = count(&entries, None);
        assert_eq!(streak.days, 2);
        assert_eq!(streak.ended_by.unwrap().0.to_string(), "2026-11-28");
        let streak = count(&entries[..1], Date::parse("2026-11-28").ok());
        assert_eq!(streak.days, 0);
        assert_eq!(streak.last_strict_pass.unwrap().to_string(), "2026-11-27");
    }
}
