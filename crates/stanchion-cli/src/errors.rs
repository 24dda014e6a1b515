//! `stanchion errors`: the base error taxonomy for reviewers, and the lockfile comparison CI
//! runs between a branch and main.

use std::{fs, path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand, ValueEnum};
use stanchion_errors::{LockDiff, Taxonomy};
use stanchion_redact::Redactor;

use crate::output;

/// Arguments of `stanchion errors`.
#[derive(Debug, Args)]
pub(crate) struct ErrorsArgs {
    #[command(subcommand)]
    command: ErrorsCommand,
}

#[derive(Debug, Subcommand)]
enum ErrorsCommand {
    /// Print the base taxonomy shipped with stanchion-errors.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Markdown)]
        format: ListFormat,
    },
    /// Compare two error-code lockfiles (`NAME STATUS retryable|final` lines). Exits 1 when
    /// a code was removed or changed status or retry class, 0 otherwise (new codes are listed
    /// but are not breaking), 2 when a file cannot be read or parsed.
    Diff {
        /// The lockfile before the change (e.g. main's).
        old: PathBuf,
        /// The lockfile after the change.
        new: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ListFormat {
    /// The reviewer table (as in docs/error-codes.md).
    Markdown,
    /// The lockfile lines.
    Lock,
}

pub(crate) fn run(args: ErrorsArgs) -> ExitCode {
    match args.command {
        ErrorsCommand::List { format } => {
            let taxonomy = Taxonomy::base();
            let text = match format {
                ListFormat::Markdown => taxonomy.to_markdown("Error codes (base taxonomy)"),
                ListFormat::Lock => taxonomy.to_lock(),
            };
            // The base taxonomy is compiled into the binary, not input: printed as it is.
            output::print_unchanged(&text);
            ExitCode::SUCCESS
        }
        ErrorsCommand::Diff { old, new } => diff(&old, &new),
    }
}

/// Compares two lockfiles. Their text is input: what is printed from it (names, parse errors
/// quoting a line) goes through the redactor like every other CLI output.
fn diff(old: &PathBuf, new: &PathBuf) -> ExitCode {
    let redactor = Redactor::new();
    let read = |path: &PathBuf| {
        fs::read_to_string(path).map_err(|error| {
            output::eprintln(
                &redactor,
                &format!(
                    "stanchion errors diff: cannot read {}: {error}",
                    path.display()
                ),
            );
        })
    };
    let (Ok(old_text), Ok(new_text)) = (read(old), read(new)) else {
        return ExitCode::from(2);
    };
    let diff = match LockDiff::between(&old_text, &new_text) {
        Ok(diff) => diff,
        Err(error) => {
            output::eprintln(
                &redactor,
                &format!(
                    "stanchion errors diff: {} or {}: {error}",
                    old.display(),
                    new.display()
                ),
            );
            return ExitCode::from(2);
        }
    };
    let mut report = String::new();
    for name in &diff.removed {
        report.push_str(&format!("removed  {name}  (breaking)\n"));
    }
    for change in &diff.changed {
        report.push_str(&format!("changed  {change}  (breaking)\n"));
    }
    for name in &diff.added {
        report.push_str(&format!("added    {name}\n"));
    }
    output::print(&redactor, &report);
    if diff.is_breaking() {
        output::eprintln(
            &redactor,
            "stanchion errors diff: breaking change to the error taxonomy",
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
