//! Counting instructions with callgrind, for the benches whose goal is a count rather than a
//! time (`instructions.rs`, `redact_instructions.rs`): the bench re-runs itself as a child
//! under `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=<marker>`, and the
//! instructions executed inside the marker function are the result.

use std::{
    path::Path,
    process::{Command, ExitCode},
};

/// `Ok` when valgrind runs; otherwise a loud notice and the exit code to return: success, or
/// failure when `CI=true`, so that a CI run cannot pass without measuring.
pub(crate) fn require_valgrind(bench: &str) -> Result<(), ExitCode> {
    let valgrind = Command::new("valgrind").arg("--version").output();
    if valgrind.is_ok_and(|out| out.status.success()) {
        return Ok(());
    }
    let rule = "!".repeat(80);
    eprintln!();
    eprintln!("{rule}");
    eprintln!("!!! valgrind is not installed: the instruction-count bench {bench} DID NOT RUN.");
    eprintln!("!!! Install it (apt-get install valgrind) and run");
    eprintln!("!!!   cargo bench -p stanchion-benches --bench {bench}");
    eprintln!("{rule}");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    Err(if ci {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs this bench's executable with `args` under callgrind, collecting only inside functions
/// matching `marker`, and returns the instructions collected; `Err` with the child's output
/// when it fails.
pub(crate) fn count(out: &Path, marker: &str, args: &[&str]) -> Result<u64, String> {
    let exe = std::env::current_exe().expect("the bench's own path");
    let run = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--collect-atstart=no")
        .arg(format!("--toggle-collect={marker}"))
        .arg(&exe)
        .args(args)
        .output()
        .expect("valgrind runs");
    if !run.status.success() {
        return Err(format!(
            "{}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    let text = std::fs::read_to_string(out).expect("callgrind's output");
    Ok(text
        .lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a totals line"))
}
