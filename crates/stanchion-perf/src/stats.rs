//! The per-scenario recorder: every request's outcome lands here exactly once, as warm-up or
//! as measured, so the report's totals match what the server saw.

use std::{collections::BTreeMap, time::Duration};

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::{
    report::{Errors, Latency, Requests},
    run::LATE_TOLERANCE,
};

/// Latencies are recorded in microseconds, from 1 µs to one hour, with three significant
/// digits (a relative error of at most 0.1%).
const HIGHEST_MICROS: u64 = 3_600_000_000;

/// Whether a request belongs to the warm-up or to the measured period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Warmup,
    Measured,
}

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A complete response; `code` is the envelope's `error.code` when the body has one.
    Response { status: u16, code: Option<String> },
    /// The connection could not be established.
    Connect,
    /// The request (connect, send, whole body) did not finish within the scenario's timeout.
    Timeout,
    /// Any other transport failure (connection reset, malformed response, ...).
    Transport,
}

impl Outcome {
    pub(crate) fn is_error(&self) -> bool {
        !matches!(self, Self::Response { status, .. } if *status < 400)
    }
}

#[derive(Debug)]
pub(crate) struct Recorder {
    /// From the intended send time (open model) or the actual send time (closed model).
    latency: Histogram<u64>,
    /// From the actual send time; kept apart only for the open model, to show the correction.
    service_time: Histogram<u64>,
    requests: Requests,
    errors: Errors,
    statuses: BTreeMap<String, u64>,
    /// Open model: when the last measured send started.
    last_measured_send: Option<Instant>,
}

fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; failing here is a programming error.
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("valid histogram bounds")
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Self {
            latency: histogram(),
            service_time: histogram(),
            requests: Requests::default(),
            errors: Errors::default(),
            statuses: BTreeMap::new(),
            last_measured_send: None,
        }
    }

    /// Records a request that was sent and ended with `outcome`. Connect and transport failures
    /// have no meaningful latency and stay out of the histograms; a timeout is recorded at the
    /// time it took, so it weighs on the percentiles instead of vanishing.
    pub(crate) fn record(
        &mut self,
        phase: Phase,
        outcome: &Outcome,
        latency: Duration,
        service_time: Duration,
    ) {
        self.requests.sent += 1;
        if phase == Phase::Warmup {
            self.requests.warmup += 1;
            if outcome.is_error() {
                self.requests.warmup_errors += 1;
            }
            return;
        }
        self.requests.measured += 1;
        self.errors.denominator += 1;
        match outcome {
            Outcome::Response { status, code } => {
                *self.statuses.entry(status.to_string()).or_default() += 1;
                match status {
                    400..=499 => self.errors.status_4xx += 1,
                    500.. => self.errors.status_5xx += 1,
                    _ => {}
                }
                if let Some(code) = code {
                    *self.errors.by_code.entry(code.clone()).or_default() += 1;
                }
            }
            Outcome::Connect => self.errors.connect += 1,
            Outcome::Timeout => self.errors.timeout += 1,
            Outcome::Transport => self.errors.transport += 1,
        }
        if outcome.is_error() {
            self.errors.total += 1;
        }
        if matches!(outcome, Outcome::Response { .. } | Outcome::Timeout) {
            self.latency.saturating_record(micros(latency));
            self.service_time.saturating_record(micros(service_time));
        }
    }

    /// An open-model send that started `lag` behind its due time, at `at`. Only measured sends
    /// count: they make the late count, the largest lag and the end of the measured period.
    pub(crate) fn send_started(&mut self, phase: Phase, lag: Duration, at: Instant) {
        if phase != Phase::Measured {
            return;
        }
        if lag > LATE_TOLERANCE {
            self.requests.late += 1;
        }
        self.requests.max_send_lag_seconds =
            self.requests.max_send_lag_seconds.max(lag.as_secs_f64());
        // Sends run on concurrent tasks, so the last one recorded need not be the last started.
        self.last_measured_send = Some(self.last_measured_send.map_or(at, |last| last.max(at)));
    }

    /// Open model: when the last measured send started; `None` when none did (or closed model).
    pub(crate) fn last_measured_send(&self) -> Option<Instant> {
        self.last_measured_send
    }

    /// An open-model send that was not made because `max_in_flight` requests were pending.
    pub(crate) fn dropped(&mut self, phase: Phase) {
        match phase {
            Phase::Measured => self.requests.dropped += 1,
            Phase::Warmup => self.requests.warmup_dropped += 1,
        }
    }

    pub(crate) fn sent(&self) -> u64 {
        self.requests.sent
    }

    pub(crate) fn measured_errors(&self) -> u64 {
        self.errors.total
    }

    pub(crate) fn finish(
        self,
        corrected: bool,
    ) -> (
        Requests,
        Errors,
        BTreeMap<String, u64>,
        Option<Latency>,
        Option<Latency>,
    ) {
        let measured_from = if corrected {
            "intended send time"
        } else {
            "actual send time"
        };
        let latency = summarize(&self.latency, measured_from);
        let service_time = if corrected {
            summarize(&self.service_time, "actual send time")
        } else {
            None
        };
        (
            self.requests,
            self.errors,
            self.statuses,
            latency,
            service_time,
        )
    }
}

fn summarize(histogram: &Histogram<u64>, measured_from: &str) -> Option<Latency> {
    if histogram.is_empty() {
        return None;
    }
    let seconds = |micros: u64| micros as f64 / 1e6;
    Some(Latency {
        measured_from: measured_from.to_owned(),
        samples: histogram.len(),
        p50: seconds(histogram.value_at_quantile(0.50)),
        p90: seconds(histogram.value_at_quantile(0.90)),
        p95: seconds(histogram.value_at_quantile(0.95)),
        p99: seconds(histogram.value_at_quantile(0.99)),
        max: seconds(histogram.max()),
        mean: histogram.mean() / 1e6,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_is_counted_once_as_warmup_or_measured() {
        let mut recorder = Recorder::new();
        let ok = Outcome::Response {
            status: 200,
            code: None,
        };
        let limited = Outcome::Response {
            status: 429,
            code: Some("SUBSCRIPTION_QUERY_LIMIT".to_owned()),
        };
        let ms = Duration::from_millis(1);
        recorder.record(Phase::Warmup, &limited, ms, ms);
        recorder.record(Phase::Measured, &ok, ms, ms);
        recorder.record(Phase::Measured, &limited, ms, ms);
        recorder.record(Phase::Measured, &Outcome::Connect, ms, ms);
        recorder.record(Phase::Measured, &Outcome::Timeout, ms, ms);
        let (requests, errors, statuses, latency, _) = recorder.finish(false);
        assert_eq!(
            (requests.sent, requests.warmup, requests.measured),
            (5, 1, 4)
        );
        assert_eq!(requests.warmup_errors, 1);
        assert_eq!((errors.total, errors.denominator), (3, 4));
        assert_eq!(
            (errors.status_4xx, errors.connect, errors.timeout),
            (1, 1, 1)
        );
        assert_eq!(errors.by_code.get("SUBSCRIPTION_QUERY_LIMIT"), Some(&1));
        assert_eq!(statuses.get("429"), Some(&1));
        // The connect failure has no latency; the timeout has one.
        assert_eq!(latency.map(|l| l.samples), Some(3));
    }

    #[test]
    fn only_measured_sends_count_as_late_and_the_latest_start_ends_the_period() {
        let mut recorder = Recorder::new();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // A warm-up send far behind its schedule is not the measured period's concern.
        recorder.send_started(Phase::Warmup, ms(500), t0 + ms(900));
        recorder.send_started(Phase::Measured, ms(2), t0 + ms(10));
        // Recorded out of order: the later start is the end, whichever task finished last.
        recorder.send_started(Phase::Measured, ms(40), t0 + ms(300));
        recorder.send_started(Phase::Measured, ms(11), t0 + ms(200));
        assert_eq!(recorder.last_measured_send(), Some(t0 + ms(300)));
        let (requests, ..) = recorder.finish(true);
        // 40 ms and 11 ms are past the 10 ms tolerance; 2 ms is not.
        assert_eq!(requests.late, 2);
        assert!((requests.max_send_lag_seconds - 0.040).abs() < 1e-9);
    }
}
