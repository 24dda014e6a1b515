//! The perf smoke harness behind `stanchion perf run`.
//!
//! A [`Plan`] (TOML) lists scenarios; each repeats one request under one load model:
//!
//! - **open** (`model = "open"`, `rate`): requests are due on a timetable at a constant arrival
//!   rate, whatever the server does. Latency is measured from each request's *due* time, so a
//!   server stall shows in the percentiles instead of silently slowing the load (the
//!   coordinated omission that closed-loop tools such as wrk suffer from). Sends the harness
//!   could not make on time are counted as late, sends refused by `max_in_flight` as dropped.
//! - **closed** (`model = "closed"`, `clients`, optional `think_time`): N clients each send,
//!   wait for the whole response, pause, and repeat.
//!
//! Every request sent is counted once, as warm-up (excluded from every figure) or measured.
//! Latencies go into an HDR histogram (`hdrhistogram`, microseconds, three significant
//! digits); errors are counted by class (connect, timeout, transport, 4xx, 5xx) and by the
//! `error.code` of the `{"error":{...}}` envelopes received. [`Threshold`]s (`p95 <= 2.5s`,
//! `error_rate < 1%`, `status_5xx == 0`) are evaluated per scenario, and the [`Report`]
//! renders as text, JSON or Markdown with the run's metadata.
//!
//! ```toml
//! base_url = "http://127.0.0.1:8080"
//!
//! [[scenario]]
//! name = "health"
//! path = "/health"
//! model = "open"
//! rate = 25
//! warmup = "2s"
//! duration = "60s"
//! thresholds = ["status_5xx == 0", "error_rate < 1%"]
//!
//! [[scenario]]
//! name = "chat"
//! method = "POST"
//! path = "/api/v1/chat"
//! headers = { content-type = "application/json" }
//! body = '{"prompt":"How should I train for a 10k run?"}'
//! model = "closed"
//! clients = 5
//! think_time = "1s"
//! duration = "60s"
//! auth = { per_client_command = ["backend", "mint-token", "--sub", "perf-{client}", "--ttl-secs", "3600"] }
//! thresholds = ["p95 <= 2.5s"]
//! ```
//!
//! Dependencies: `hdrhistogram` for the latency histograms; `humantime` for durations in the
//! plan and RFC 3339 timestamps in the report; `rustix` (safe) for the kernel's clock-tick rate,
//! which converts `/proc/PID/stat` CPU times to seconds; the hyper-util client for HTTP/1.1.

mod auth;
mod metadata;
mod plan;
mod process;
mod report;
mod run;
mod stats;
mod threshold;

pub use auth::AuthError;
pub use plan::{
    Auth, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, LoadModel, Plan, PlanError, Scenario,
};
pub use report::{
    Errors, Latency, Metadata, ProcessReport, Rate, Report, Requests, ScenarioReport,
};
pub use run::{LATE_TOLERANCE, RunError, RunOptions, run};
pub use threshold::{METRICS, Threshold, ThresholdError, ThresholdOutcome};
