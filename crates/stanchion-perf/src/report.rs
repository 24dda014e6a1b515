//! The report: run metadata and per-scenario figures, rendered as a human summary, JSON or
//! Markdown. Times are in seconds, rates in requests per second.

use std::{collections::BTreeMap, fmt::Write as _};

use serde::Serialize;

use crate::threshold::{ThresholdOutcome, format_seconds};

/// A whole run.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Where and with what the run was made.
    pub metadata: Metadata,
    /// One entry per scenario, in plan order.
    pub scenarios: Vec<ScenarioReport>,
    /// Whether every threshold of every scenario passed.
    pub passed: bool,
}

/// Where and with what a run was made.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Metadata {
    /// `stanchion-perf`.
    pub tool: String,
    /// The harness's version.
    pub tool_version: String,
    /// `debug` or `release`: how the harness itself was built.
    pub build_profile: String,
    /// `git rev-parse HEAD` in the working directory, when it is a checkout.
    pub commit: Option<String>,
    /// The host's CPU model (`/proc/cpuinfo`).
    pub cpu: String,
    /// Logical CPUs available to the harness.
    pub cpus: usize,
    /// The plan file.
    pub plan: String,
    /// The base URL the scenarios ran against.
    pub target: String,
    /// The target process watched with `--pid`.
    pub target_pid: Option<u32>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC.
    pub finished_at: String,
}

/// One scenario's figures.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ScenarioReport {
    /// The scenario's name.
    pub name: String,
    /// The request method.
    pub method: String,
    /// The request path.
    pub path: String,
    /// The load model in words (`open model, 25/s`).
    pub load_model: String,
    /// `open` or `closed`.
    pub model: &'static str,
    /// Concurrent clients (closed model).
    pub clients: Option<usize>,
    /// Seconds of warm-up, excluded from the figures.
    pub warmup_seconds: f64,
    /// Seconds measured.
    pub duration_seconds: f64,
    /// The per-request limit in seconds.
    pub timeout_seconds: f64,
    /// How requests were authenticated (never the token).
    pub auth: Option<String>,
    /// Requests sent, by phase, and late or dropped sends.
    pub requests: Requests,
    /// Target and achieved rate.
    pub rate: Rate,
    /// Latency of measured responses (and timeouts): corrected for coordinated omission in the
    /// open model (from the intended send time), plain in the closed model.
    pub latency: Option<Latency>,
    /// Open model only: the same responses timed from the actual send, to show the correction.
    pub service_time: Option<Latency>,
    /// Failures of measured requests.
    pub errors: Errors,
    /// Error rate: `errors.total / errors.denominator`; absent without measured requests.
    pub error_rate: Option<f64>,
    /// Measured responses by HTTP status.
    pub statuses: BTreeMap<String, u64>,
    /// The target's CPU time and peak RSS over the measured period (`--pid`).
    pub target_process: Option<ProcessReport>,
    /// Each threshold with its observed value.
    pub thresholds: Vec<ThresholdOutcome>,
    /// Whether every threshold passed.
    pub passed: bool,
}

/// Request counts. `sent == warmup + measured`; dropped sends were never sent.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Requests {
    /// Every request sent, warm-up included: what the server should have counted.
    pub sent: u64,
    /// Requests sent during the warm-up, excluded from every figure.
    pub warmup: u64,
    /// Warm-up requests that failed (counted, not in the error rate).
    pub warmup_errors: u64,
    /// Requests sent during the measured period.
    pub measured: u64,
    /// Open model: measured sends that started more than 10 ms after their scheduled time
    /// (the harness could not keep up); their latency still counts from the schedule.
    pub late: u64,
    /// Open model: the largest delay of a measured send behind its schedule, in seconds (late
    /// or not).
    pub max_send_lag_seconds: f64,
    /// Open model: measured sends skipped because `max_in_flight` requests were pending.
    pub dropped: u64,
    /// Open model: warm-up sends skipped for the same reason.
    pub warmup_dropped: u64,
}

/// Target and achieved request rate over the measured period.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Rate {
    /// Open model: the plan's rate.
    pub target: Option<f64>,
    /// Measured requests sent divided by `measured_seconds`: below the target when sends were
    /// dropped or when the harness fell behind and sent past the measured period's end.
    pub achieved: f64,
    /// Wall-clock seconds of the measured period as it ran: from its start to its nominal end
    /// or, when later, to the last measured send (open model; the closed model's last send
    /// always starts before the end, so this is its duration).
    pub measured_seconds: f64,
}

/// Latency figures from an HDR histogram, in seconds.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Latency {
    /// `intended send time` (corrected) or `actual send time`.
    pub measured_from: String,
    /// Values recorded.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// Failures of measured requests, by class and by envelope code.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Errors {
    /// Failed requests: connect, timeout, transport, 4xx and 5xx.
    pub total: u64,
    /// The error rate's denominator: measured requests sent.
    pub denominator: u64,
    /// The connection could not be established.
    pub connect: u64,
    /// No complete response within the timeout.
    pub timeout: u64,
    /// Any other transport failure.
    pub transport: u64,
    /// Responses with a 4xx status.
    pub status_4xx: u64,
    /// Responses with a 5xx status.
    pub status_5xx: u64,
    /// `error.code` of the `{"error":{...}}` envelopes received.
    pub by_code: BTreeMap<String, u64>,
}

impl Errors {
    /// `total / denominator`, or `None` when nothing was measured.
    pub fn rate(&self) -> Option<f64> {
        (self.denominator > 0).then(|| self.total as f64 / self.denominator as f64)
    }
}

/// The target process over a scenario's measured period, from `/proc`.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ProcessReport {
    /// The process ID.
    pub pid: u32,
    /// User plus system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// CPU time over wall time, in percent of one core.
    pub cpu_percent: f64,
    /// The largest resident set size sampled (every 100 ms), in bytes.
    pub peak_rss_bytes: u64,
    /// Whether the process exited during the scenario.
    pub exited: bool,
}

fn latency_line(latency: &Latency) -> String {
    format!(
        "p50 {}  p90 {}  p95 {}  p99 {}  max {}  mean {}  ({} samples, from the {})",
        format_seconds(latency.p50),
        format_seconds(latency.p90),
        format_seconds(latency.p95),
        format_seconds(latency.p99),
        format_seconds(latency.max),
        format_seconds(latency.mean),
        latency.samples,
        latency.measured_from,
    )
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "n/a".to_owned(), |r| format!("{:.2}%", r * 100.0))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn exited_text(exited: bool) -> &'static str {
    if exited {
        ", EXITED during the run"
    } else {
        ""
    }
}

fn codes(by_code: &BTreeMap<String, u64>) -> String {
    by_code
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ScenarioReport {
    fn error_line(&self) -> String {
        let e = &self.errors;
        format!(
            "{} of {} ({}): connect {}, timeout {}, transport {}, 4xx {}, 5xx {}",
            e.total,
            e.denominator,
            percent(self.error_rate),
            e.connect,
            e.timeout,
            e.transport,
            e.status_4xx,
            e.status_5xx
        )
    }

    /// The requests line's tail: late and dropped sends, and for the open model the largest
    /// send lag, which says how far behind the harness fell even when nothing was late.
    fn send_text(&self) -> String {
        let r = &self.requests;
        let dropped = r.dropped + r.warmup_dropped;
        if self.model == "open" {
            format!(
                "late {} (largest send lag {}), dropped {dropped}",
                r.late,
                format_seconds(r.max_send_lag_seconds)
            )
        } else {
            format!("late {}, dropped {dropped}", r.late)
        }
    }

    /// The rate with the wall-clock seconds it was measured over.
    fn rate_detail(&self) -> String {
        format!(
            "{} ({} measured in {:.2}s)",
            self.rate_text(),
            self.requests.measured,
            self.rate.measured_seconds
        )
    }

    fn rate_text(&self) -> String {
        match self.rate.target {
            Some(target) => format!("{:.1}/s of {target}/s", self.rate.achieved),
            None => format!("{:.1}/s", self.rate.achieved),
        }
    }
}

impl Report {
    /// The human summary: one block per scenario, then a table.
    pub fn to_text(&self) -> String {
        let m = &self.metadata;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "stanchion perf run: {} against {}\n{} {} ({} build), commit {}, {} ({} CPUs)\n{} to {}",
            m.plan,
            m.target,
            m.tool,
            m.tool_version,
            m.build_profile,
            m.commit.as_deref().unwrap_or("unknown"),
            m.cpu,
            m.cpus,
            m.started_at,
            m.finished_at
        );
        for s in &self.scenarios {
            let _ = writeln!(
                out,
                "\n== {}: {} {}, {}, {}s measured after {}s warm-up",
                s.name, s.method, s.path, s.load_model, s.duration_seconds, s.warmup_seconds
            );
            let r = &s.requests;
            let _ = writeln!(
                out,
                "  requests   {} sent = {} warm-up ({} failed) + {} measured; {}",
                r.sent,
                r.warmup,
                r.warmup_errors,
                r.measured,
                s.send_text()
            );
            let _ = writeln!(out, "  rate       {}", s.rate_detail());
            match &s.latency {
                Some(latency) => {
                    let _ = writeln!(out, "  latency    {}", latency_line(latency));
                }
                None => {
                    let _ = writeln!(out, "  latency    no samples");
                }
            }
            if let Some(service) = &s.service_time {
                let _ = writeln!(out, "  service    {}", latency_line(service));
            }
            let _ = writeln!(out, "  errors     {}", s.error_line());
            if !s.errors.by_code.is_empty() {
                let _ = writeln!(out, "  codes      {}", codes(&s.errors.by_code));
            }
            if let Some(auth) = &s.auth {
                let _ = writeln!(out, "  auth       {auth}");
            }
            if let Some(p) = &s.target_process {
                let _ = writeln!(
                    out,
                    "  target     pid {}: CPU {:.2}s ({:.1}% of one core), peak RSS {}{}",
                    p.pid,
                    p.cpu_seconds,
                    p.cpu_percent,
                    mib(p.peak_rss_bytes),
                    exited_text(p.exited)
                );
            }
            for t in &s.thresholds {
                let _ = writeln!(
                    out,
                    "  {}       {}  (observed {})",
                    if t.passed { "PASS" } else { "FAIL" },
                    t.expression,
                    t.observed
                );
            }
        }
        let _ = writeln!(
            out,
            "\n{:<20} {:>9} {:>18} {:>9} {:>9} {:>9} {:>15} {:>10}",
            "scenario", "requests", "rate", "p50", "p95", "p99", "errors", "thresholds"
        );
        for s in &self.scenarios {
            let passed = s.thresholds.iter().filter(|t| t.passed).count();
            let latency = |pick: fn(&Latency) -> f64| {
                s.latency
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |l| format_seconds(pick(l)))
            };
            let _ = writeln!(
                out,
                "{:<20} {:>9} {:>18} {:>9} {:>9} {:>9} {:>15} {:>10}",
                s.name,
                s.requests.measured,
                s.rate_text(),
                latency(|l| l.p50),
                latency(|l| l.p95),
                latency(|l| l.p99),
                format!("{} ({})", s.errors.total, percent(s.error_rate)),
                format!("{passed}/{} pass", s.thresholds.len())
            );
        }
        let _ = writeln!(
            out,
            "\nresult: {}",
            if self.passed {
                "every threshold passed"
            } else {
                "THRESHOLD FAILED"
            }
        );
        out
    }

    /// The JSON report.
    pub fn to_json(&self) -> String {
        // Every field is a plain number, string or map with string keys: serializing cannot fail.
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    /// The Markdown report: metadata, a summary table, then each scenario's details.
    pub fn to_markdown(&self) -> String {
        let m = &self.metadata;
        let mut out = String::new();
        let _ = writeln!(out, "# Perf run: {}\n", m.plan);
        let _ = writeln!(out, "| | |\n|---|---|");
        for (key, value) in [
            ("target", m.target.clone()),
            (
                "result",
                if self.passed { "pass" } else { "FAIL" }.to_owned(),
            ),
            (
                "commit",
                m.commit.clone().unwrap_or_else(|| "unknown".to_owned()),
            ),
            (
                "tool",
                format!("{} {} ({} build)", m.tool, m.tool_version, m.build_profile),
            ),
            ("CPU", format!("{} ({} CPUs)", m.cpu, m.cpus)),
            ("started", m.started_at.clone()),
            ("finished", m.finished_at.clone()),
        ] {
            let _ = writeln!(out, "| {key} | {value} |");
        }
        if let Some(pid) = m.target_pid {
            let _ = writeln!(out, "| target PID | {pid} |");
        }
        let _ = writeln!(
            out,
            "\n| scenario | load model | requests (warm-up) | rate | p50 | p90 | p95 | p99 | max | mean | errors | result |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for s in &self.scenarios {
            let l = s.latency.as_ref();
            let f = |pick: fn(&Latency) -> f64| {
                l.map_or_else(|| "-".to_owned(), |l| format_seconds(pick(l)))
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} of {} ({}) | {} |",
                s.name,
                s.load_model,
                s.requests.measured,
                s.requests.warmup,
                s.rate_text(),
                f(|l| l.p50),
                f(|l| l.p90),
                f(|l| l.p95),
                f(|l| l.p99),
                f(|l| l.max),
                f(|l| l.mean),
                s.errors.total,
                s.errors.denominator,
                percent(s.error_rate),
                if s.passed { "pass" } else { "FAIL" }
            );
        }
        for s in &self.scenarios {
            let _ = writeln!(out, "\n## {}: {} {}\n", s.name, s.method, s.path);
            let _ = writeln!(
                out,
                "- load: {}, {}s measured after {}s warm-up",
                s.load_model, s.duration_seconds, s.warmup_seconds
            );
            let r = &s.requests;
            let _ = writeln!(
                out,
                "- requests: {} sent = {} warm-up + {} measured; {}",
                r.sent,
                r.warmup,
                r.measured,
                s.send_text()
            );
            let _ = writeln!(out, "- rate: {}", s.rate_detail());
            if let Some(latency) = &s.latency {
                let _ = writeln!(out, "- latency: {}", latency_line(latency));
            }
            if let Some(service) = &s.service_time {
                let _ = writeln!(out, "- service time: {}", latency_line(service));
            }
            let _ = writeln!(out, "- errors: {}", s.error_line());
            if !s.errors.by_code.is_empty() {
                let _ = writeln!(out, "- error codes: {}", codes(&s.errors.by_code));
            }
            if let Some(auth) = &s.auth {
                let _ = writeln!(out, "- auth: {auth}");
            }
            if let Some(p) = &s.target_process {
                let _ = writeln!(
                    out,
                    "- target pid {}: CPU {:.2}s ({:.1}% of one core), peak RSS {}{}",
                    p.pid,
                    p.cpu_seconds,
                    p.cpu_percent,
                    mib(p.peak_rss_bytes),
                    exited_text(p.exited)
                );
            }
            if !s.thresholds.is_empty() {
                let _ = writeln!(out, "\n| threshold | observed | result |\n|---|---|---|");
                for t in &s.thresholds {
                    let _ = writeln!(
                        out,
                        "| `{}` | {} | {} |",
                        t.expression,
                        t.observed,
                        if t.passed { "pass" } else { "FAIL" }
                    );
                }
            }
        }
        out
    }
}
