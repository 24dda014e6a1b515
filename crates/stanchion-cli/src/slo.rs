//! `stanchion slo`: service level objectives from one spec (crate `stanchion-slo`).

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Args, Subcommand};
use stanchion_slo::{Spec, generate, merge_document};

/// Arguments of `stanchion slo`.
#[derive(Debug, Args)]
pub(crate) struct SloArgs {
    #[command(subcommand)]
    command: SloCommand,
}

#[derive(Debug, Subcommand)]
enum SloCommand {
    /// Generate Prometheus rules, their promtool tests, a Grafana dashboard and the SLO
    /// document from a spec.
    ///
    /// Writes DIR/rules.yml (recording rules, multi-window multi-burn-rate page and ticket
    /// alerts, a fast page, operational alerts), DIR/rules.test.yml (`promtool test rules`),
    /// DIR/dashboard.json and DIR/SLOs.md (or --docs FILE, keeping its hand-written part).
    ///
    /// Exits 0 when written (or, with --check, when every file is up to date), 1 when --check
    /// finds a stale file, 2 when the spec is unusable (the message names the field and line).
    ///
    /// Examples:
    ///
    ///   stanchion slo generate examples/backend/ops/slo.toml --out examples/backend/ops --docs docs/SLOs.md
    ///
    ///   stanchion slo generate slo.toml --out ops --check
    #[command(verbatim_doc_comment)]
    Generate {
        /// The spec (TOML).
        spec: PathBuf,
        /// The directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Where the SLO document goes (default: DIR/SLOs.md).
        #[arg(long, value_name = "FILE")]
        docs: Option<PathBuf>,
        /// Compare instead of writing: exit 1 when a file differs.
        #[arg(long)]
        check: bool,
    },
}

pub(crate) fn run(args: SloArgs) -> ExitCode {
    match args.command {
        SloCommand::Generate {
            spec,
            out,
            docs,
            check,
        } => generate_files(&spec, &out, docs.as_deref(), check),
    }
}

fn generate_files(spec_path: &Path, out: &Path, docs: Option<&Path>, check: bool) -> ExitCode {
    let text = match fs::read_to_string(spec_path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!(
                "stanchion slo: cannot read {}: {error}",
                spec_path.display()
            );
            return ExitCode::from(2);
        }
    };
    let spec = match Spec::parse(&text) {
        Ok(spec) => spec,
        Err(error) => {
            eprintln!("stanchion slo: {} {error}", spec_path.display());
            return ExitCode::from(2);
        }
    };
    let generated = generate(&spec, &spec_path.display().to_string());
    let mut stale = Vec::new();
    for (name, contents) in generated.files() {
        let path = match (name, docs) {
            ("SLOs.md", Some(docs)) => docs.to_owned(),
            _ => out.join(name),
        };
        let existing = fs::read_to_string(&path).ok();
        let contents = if name == "SLOs.md" {
            merge_document(existing.as_deref(), contents)
        } else {
            contents.to_owned()
        };
        if existing.as_deref() == Some(contents.as_str()) {
            continue;
        }
        if check {
            stale.push(path);
            continue;
        }
        let written = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(&path, contents));
        if let Err(error) = written {
            eprintln!("stanchion slo: cannot write {}: {error}", path.display());
            return ExitCode::from(2);
        }
        println!("wrote {}", path.display());
    }
    if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        for path in stale {
            println!("stale: {}", path.display());
        }
        ExitCode::from(1)
    }
}
