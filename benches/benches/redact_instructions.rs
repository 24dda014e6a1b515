//! Instructions per clean log line, counted by callgrind: `Redactor::redact` on the 990 clean
//! text lines of the `redact` bench, the sequential baseline (every default rule's regex with
//! `replace_all`) on the same lines, `Redactor::redact_json_line` on 990 tracing-shaped JSON
//! access lines, and `Redactor::redact` on separator rows (`-----`, `___`), side by side in one
//! run.
//!
//! The clean-line goal is a throughput (≥ 1 GB/s on one core, measured by the `redact` bench),
//! but the wall clock of a shared VM swings by half between minutes; the instructions a line
//! costs do not, so this is the bench that shows whether a change to the prefilter made a
//! clean line cheaper, and by how much.
//!
//! How it counts: the bench re-runs itself once per measurement under callgrind, collecting
//! only inside `measured_lines`. The child checks that every line comes back borrowed
//! (nothing redacted), runs one warm-up pass outside the collected function, then
//! [`PASSES`] passes (one for the baseline, which costs ~40 times more) inside it.
//!
//! Run: `cargo bench -p stanchion-benches --bench redact_instructions` (needs `valgrind`;
//! without it the bench says so loudly and exits 0, or 1 when `CI=true`). It is not run by CI.

use std::{borrow::Cow, hint::black_box, process::ExitCode};

use stanchion_redact::Redactor;

#[path = "common/callgrind.rs"]
mod callgrind;
#[path = "common/redact_corpus.rs"]
mod redact_corpus;

use redact_corpus::{Lcg, Sequential, clean, corpus, json_line};

/// Passes over the lines that are counted.
const PASSES: usize = 10;
/// The function whose instructions callgrind collects.
const MARKER: &str = "*measured_lines*";

/// What is measured: (child argument, description).
const MEASURES: [(&str, &str); 4] = [
    ("text", "stanchion-redact, text line"),
    ("baseline", "sequential baseline, text line"),
    ("json", "stanchion-redact, JSON line"),
    ("rows", "stanchion-redact, row of - or _"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        child(&args[at + 1]);
        return ExitCode::SUCCESS;
    }
    if let Err(code) = callgrind::require_valgrind("redact_instructions") {
        return code;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!("instructions per clean line (callgrind Ir, after one warm-up pass)");
    println!(
        "{:<34} {:>8} {:>13} {:>12}",
        "", "bytes", "instructions", "per byte"
    );
    let mut per_line = Vec::new();
    for (measure, description) in MEASURES {
        let out = dir.path().join(format!("{measure}.out"));
        let total = match callgrind::count(&out, MARKER, &["--child", measure]) {
            Ok(total) => total,
            Err(output) => {
                eprintln!("{measure} failed:\n{output}");
                return ExitCode::FAILURE;
            }
        };
        let lines = lines(measure);
        let bytes = lines.iter().map(String::len).sum::<usize>() as f64 / lines.len() as f64;
        let instructions = total as f64 / (passes(measure) * lines.len()) as f64;
        per_line.push(instructions);
        println!(
            "{description:<34} {bytes:>8.0} {instructions:>13.0} {:>12.1}",
            instructions / bytes
        );
    }
    println!(
        "baseline / stanchion-redact (text): {:.0}x",
        per_line[1] / per_line[0]
    );
    ExitCode::SUCCESS
}

/// The lines a measure runs over.
fn lines(measure: &str) -> Vec<String> {
    match measure {
        "json" => {
            let mut rng = Lcg(7);
            (0..990).map(|_| json_line(&mut rng)).collect()
        }
        // Separator rows, a worst case for the anchored keywords' pass: every byte is an
        // anchor byte.
        "rows" => (0..990)
            .map(|i| if i % 2 == 0 { "-" } else { "_" }.repeat(196))
            .collect(),
        _ => {
            let (lines, dirty) = corpus();
            clean(&lines, &dirty)
        }
    }
}

fn passes(measure: &str) -> usize {
    if measure == "baseline" { 1 } else { PASSES }
}

fn child(measure: &str) {
    let lines = lines(measure);
    let redactor = Redactor::new();
    let baseline = Sequential::new();
    let redact = |line: &str| -> usize {
        let out = match measure {
            "text" | "rows" => redactor.redact(line),
            "json" => redactor.redact_json_line(line),
            _ => baseline.redact(line),
        };
        assert!(matches!(out, Cow::Borrowed(_)), "{measure}: {line}");
        out.len()
    };
    for line in &lines {
        black_box(redact(black_box(line)));
    }
    black_box(measured_lines(&lines, passes(measure), &redact));
}

#[inline(never)]
fn measured_lines(lines: &[String], passes: usize, redact: &dyn Fn(&str) -> usize) -> usize {
    let mut total = 0;
    for _ in 0..passes {
        for line in lines {
            total += redact(black_box(line));
        }
    }
    total
}
