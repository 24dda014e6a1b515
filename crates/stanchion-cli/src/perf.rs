//! `stanchion perf run`: the perf smoke harness. Runs a plan's scenarios against a service,
//! prints each one's figures and thresholds, and writes JSON and Markdown reports. The harness
//! itself is the `stanchion-perf` crate; this module is its command line. Like every
//! subcommand it prints through [`output`](crate::output): a plan's URL, header or token
//! command may carry a credential, and the reports go through the same redactor.

use std::{
    io::IsTerminal as _,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::{Args, Subcommand, ValueEnum};
use stanchion_perf::{Plan, RunOptions};
use stanchion_redact::Redactor;

use crate::output;

/// Arguments of `stanchion perf`.
#[derive(Debug, Args)]
pub(crate) struct PerfArgs {
    #[command(subcommand)]
    command: PerfCommand,
}

#[derive(Debug, Subcommand)]
enum PerfCommand {
    /// Run a plan's scenarios and check their thresholds.
    ///
    /// Open-model scenarios send at a constant rate and time each request from when it was due,
    /// so a server stall shows in the percentiles; closed-model scenarios run N clients in a
    /// loop. Every request sent is counted, warm-up apart.
    ///
    /// Exit codes: 0 every threshold passed; 1 a threshold failed; 2 unusable input (plan,
    /// threshold expression, base URL, a target that refuses connections, a token command that
    /// fails, an unknown --pid, a report file that cannot be written).
    #[command(after_help = "Examples:
  # The example backend's smoke plan (60 s per scenario):
  stanchion perf run examples/backend/ops/perf-smoke.toml --pid \"$(pgrep -n backend)\" \\
      --json perf.json --markdown perf.md
  # The same, 5 s per scenario, against another address:
  stanchion perf run examples/backend/ops/perf-smoke.toml --base-url http://127.0.0.1:9000 --duration 5")]
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The plan (TOML, one `[[scenario]]` table per scenario).
    plan: PathBuf,
    /// The base URL, e.g. http://127.0.0.1:8080 (replaces the plan's `base_url`).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Seconds measured in every scenario (replaces each scenario's `duration`).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    duration: Option<u64>,
    /// Seconds of warm-up in every scenario (replaces each scenario's `warmup`).
    #[arg(long, value_name = "SECS")]
    warmup: Option<u64>,
    /// Write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the Markdown report to FILE.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// The target's process ID: report its CPU time and peak RSS per scenario (from /proc).
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
    /// Worker threads of the harness (default: one per CPU).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Standard output: the human summary or the JSON report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Per-scenario figures, thresholds and a summary table.
    Text,
    /// The JSON report (as written by --json).
    Json,
}

pub(crate) fn run(args: PerfArgs) -> ExitCode {
    match args.command {
        PerfCommand::Run(args) => run_plan(args),
    }
}

fn unusable(redactor: &Redactor, message: impl std::fmt::Display) -> ExitCode {
    output::eprintln(redactor, &format!("stanchion perf: {message}"));
    ExitCode::from(2)
}

/// A report file's directory must exist before the run, so a long run is not lost to a typo.
fn check_output(path: &Path) -> Result<(), String> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    match parent {
        Some(dir) if !dir.is_dir() => Err(format!(
            "cannot write {}: directory {} does not exist",
            path.display(),
            dir.display()
        )),
        _ => Ok(()),
    }
}

fn run_plan(args: RunArgs) -> ExitCode {
    let redactor = Redactor::new();
    let redactor = &redactor;
    let mut plan = match Plan::from_file(&args.plan) {
        Ok(plan) => plan,
        Err(error) => return unusable(redactor, error),
    };
    if let Some(seconds) = args.duration {
        plan.override_duration(Duration::from_secs(seconds));
    }
    if let Some(seconds) = args.warmup {
        plan.override_warmup(Duration::from_secs(seconds));
    }
    for path in args.json.iter().chain(&args.markdown) {
        if let Err(message) = check_output(path) {
            return unusable(redactor, message);
        }
    }
    let mut options = RunOptions::new(args.plan.display().to_string())
        .with_progress(std::io::stderr().is_terminal());
    if let Some(url) = args.base_url {
        options = options.with_base_url(url);
    }
    if let Some(pid) = args.pid {
        options = options.with_pid(pid);
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(usize::from(threads));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return unusable(redactor, format!("cannot start the runtime: {error}")),
    };
    let report = match runtime.block_on(stanchion_perf::run(&plan, &options)) {
        Ok(report) => report,
        Err(error) => return unusable(redactor, error),
    };
    let json = redacted_json(redactor, &report.to_json());
    match args.format {
        Format::Text => output::print(redactor, &report.to_text()),
        Format::Json => output::print_unchanged(&format!("{json}\n")),
    }
    let mut written = true;
    for (path, text) in [
        (args.json.as_ref(), json),
        (
            args.markdown.as_ref(),
            output::redact_text(redactor, &report.to_markdown()),
        ),
    ] {
        if let Some(path) = path
            && let Err(error) = std::fs::write(path, text)
        {
            output::eprintln(
                redactor,
                &format!("stanchion perf: cannot write {}: {error}", path.display()),
            );
            written = false;
        }
    }
    if !written {
        ExitCode::from(2)
    } else if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The JSON report with every string redacted (it stays valid JSON of the same shape).
fn redacted_json(redactor: &Redactor, json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(mut value) => {
            output::redact_json(redactor, &mut value);
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| json.to_owned())
        }
        // The report serializes from plain structs, so this is not reached; if it were, the
        // text is still redacted.
        Err(_) => output::redact_text(redactor, json),
    }
}
