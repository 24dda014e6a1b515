//! The target process's CPU time and resident memory, read from `/proc` (Linux only).

use std::{fs, time::Duration};

use crate::report::ProcessReport;

/// How often the resident set size is sampled for its peak.
pub(crate) const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// User plus system CPU time of `pid`, all threads, in seconds; `None` once it has exited.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields are counted from
    // the last `)`. After it come state (field 3) ... utime (14) and stime (15).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = rustix::param::clock_ticks_per_second();
    Some((utime + stime) as f64 / ticks as f64)
}

/// The resident set size of `pid` in bytes (`VmRSS`); `None` once it has exited.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Whether `/proc` shows the process at all.
pub(crate) fn exists(pid: u32) -> bool {
    cpu_seconds(pid).is_some()
}

/// Watches `pid` from now until `end`: CPU time consumed and the peak RSS sampled.
pub(crate) async fn watch(pid: u32, end: tokio::time::Instant) -> ProcessReport {
    let started = tokio::time::Instant::now();
    let cpu_start = cpu_seconds(pid);
    let mut peak_rss_bytes = rss_bytes(pid).unwrap_or(0);
    let mut exited = cpu_start.is_none();
    let mut ticker = tokio::time::interval(RSS_SAMPLE_INTERVAL);
    while !exited && tokio::time::Instant::now() < end {
        ticker.tick().await;
        match rss_bytes(pid) {
            Some(rss) => peak_rss_bytes = peak_rss_bytes.max(rss),
            None => exited = true,
        }
    }
    let cpu_end = cpu_seconds(pid);
    exited |= cpu_end.is_none();
    let cpu_seconds = match (cpu_start, cpu_end) {
        (Some(start), Some(end)) => (end - start).max(0.0),
        _ => 0.0,
    };
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    ProcessReport {
        pid,
        cpu_seconds,
        cpu_percent: cpu_seconds / wall * 100.0,
        peak_rss_bytes,
        exited,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        // Burn a little CPU so the counter is certainly above zero.
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_seconds(pid).expect("own stat") > 0.0);
        assert!(rss_bytes(pid).expect("own status") > 1024 * 1024);
        assert!(!exists(u32::MAX));
    }
}
