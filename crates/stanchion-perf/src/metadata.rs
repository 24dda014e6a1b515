//! Run metadata: what was measured, with what, where and when.

use std::{process::Command, time::SystemTime};

use crate::report::Metadata;

fn commit() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!commit.is_empty()).then_some(commit)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// An RFC 3339 UTC timestamp with milliseconds.
pub(crate) fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

pub(crate) fn collect(plan: &str, target: &str, pid: Option<u32>, started: SystemTime) -> Metadata {
    Metadata {
        tool: env!("CARGO_PKG_NAME").to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        build_profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_owned(),
        commit: commit(),
        cpu: cpu_model(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        plan: plan.to_owned(),
        target: target.to_owned(),
        target_pid: pid,
        started_at: timestamp(started),
        finished_at: String::new(),
    }
}
