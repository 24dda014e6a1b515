//! The `stanchion` command-line tool: operator tooling for services built with Stanchion.
//!
//! Each subcommand lives in its own module and returns the process exit code; the conventions
//! shared by all of them: 0 means the check passed, 1 means it ran and found a problem, 2 means
//! the input was unusable (the message names the file, never a secret value).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod civil;
mod config;
mod config_template;
mod errors;
mod freeze;
mod ledger;
mod output;
mod perf;
mod readiness;
mod redact;
mod release;
mod rollout_file;
mod slo;
mod smoke;

/// Operator tooling for services built with Stanchion.
#[derive(Debug, Parser)]
#[command(name = "stanchion", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands; each variant's module owns its arguments and behaviour.
#[derive(Debug, Subcommand)]
enum Command {
    /// Error taxonomy: print the base codes, compare lockfiles.
    Errors(errors::ErrorsArgs),
    /// Configuration doctor: which tools are enabled, why not, where each value came from.
    Config(config::ConfigArgs),
    /// Redaction filter: reads log lines on stdin, writes them redacted to stdout.
    Redact(redact::RedactArgs),
    /// Smoke evidence: append a daily record to the ledger, count the pass streak.
    Smoke(smoke::SmokeArgs),
    /// Rollout: the readiness snapshot before each step (flags, secret sources, live modes).
    Rollout(readiness::RolloutArgs),
    /// Release gate: evaluate RELEASE_CHECKLIST.md, fail while an item is open.
    Release(release::ReleaseArgs),
    /// Service level objectives: rules, alerts, tests, dashboard and document from one spec.
    Slo(slo::SloArgs),
    /// Perf smoke harness: run a plan's load scenarios and check their thresholds.
    Perf(perf::PerfArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Errors(args) => errors::run(args),
        Command::Config(args) => config::run(args),
        Command::Redact(args) => redact::run(args),
        Command::Smoke(args) => smoke::run(args),
        Command::Rollout(args) => readiness::run(args),
        Command::Release(args) => release::run(args),
        Command::Slo(args) => slo::run(args),
        Command::Perf(args) => perf::run(args),
    }
}
