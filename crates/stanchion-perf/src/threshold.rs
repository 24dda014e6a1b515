//! Thresholds: `METRIC OP VALUE` expressions such as `p95 <= 2.5s`, `error_rate < 1%` or
//! `status_5xx == 0`, evaluated against a scenario's figures.

use std::{fmt, str::FromStr};

use serde::Serialize;

use crate::report::ScenarioReport;

/// One check of a scenario's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    expression: String,
    metric: Metric,
    op: Op,
    limit: f64,
}

/// What a threshold looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Metric {
    Latency(Quantile),
    ErrorRate,
    Count(Counter),
    Rate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quantile {
    P50,
    P90,
    P95,
    P99,
    Max,
    Mean,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counter {
    Requests,
    Errors,
    Status4xx,
    Status5xx,
    Connect,
    Timeout,
    Transport,
    Late,
    Dropped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// The metric names a threshold may use, for error messages and `--help`.
pub const METRICS: &str = "p50 p90 p95 p99 max mean (durations: 250ms, 2.5s), error_rate (1% or 0.01), \
     requests errors status_4xx status_5xx errors_connect errors_timeout errors_transport late \
     dropped (counts), rate (requests per second)";

/// Why a threshold expression cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("threshold {expression:?}: {reason}")]
pub struct ThresholdError {
    expression: String,
    reason: String,
}

/// A threshold evaluated against a scenario's figures.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ThresholdOutcome {
    /// The expression as written in the plan.
    pub expression: String,
    /// Whether the figures meet it.
    pub passed: bool,
    /// The observed value, formatted like the limit (`1.2s`, `0.40%`, `3`); `no samples` when
    /// the run produced none.
    pub observed: String,
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(expression: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| ThresholdError {
            expression: expression.to_owned(),
            reason,
        };
        let (op_at, op_text) = ["<=", ">=", "==", "!=", "<", ">"]
            .iter()
            .filter_map(|op| expression.find(op).map(|at| (at, *op)))
            .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.len())))
            .ok_or_else(|| {
                fail("expected `METRIC OP VALUE` with OP one of < <= > >= == !=".to_owned())
            })?;
        let op = match op_text {
            "<=" => Op::Le,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            _ => Op::Gt,
        };
        let name = expression[..op_at].trim();
        let value = expression[op_at + op_text.len()..].trim();
        let metric = match name {
            "p50" => Metric::Latency(Quantile::P50),
            "p90" => Metric::Latency(Quantile::P90),
            "p95" => Metric::Latency(Quantile::P95),
            "p99" => Metric::Latency(Quantile::P99),
            "max" => Metric::Latency(Quantile::Max),
            "mean" => Metric::Latency(Quantile::Mean),
            "error_rate" => Metric::ErrorRate,
            "requests" => Metric::Count(Counter::Requests),
            "errors" => Metric::Count(Counter::Errors),
            "status_4xx" => Metric::Count(Counter::Status4xx),
            "status_5xx" => Metric::Count(Counter::Status5xx),
            "errors_connect" => Metric::Count(Counter::Connect),
            "errors_timeout" => Metric::Count(Counter::Timeout),
            "errors_transport" => Metric::Count(Counter::Transport),
            "late" => Metric::Count(Counter::Late),
            "dropped" => Metric::Count(Counter::Dropped),
            "rate" => Metric::Rate,
            "" => return Err(fail("no metric before the operator".to_owned())),
            other => return Err(fail(format!("unknown metric `{other}`; known: {METRICS}"))),
        };
        if value.is_empty() {
            return Err(fail("no value after the operator".to_owned()));
        }
        let limit = parse_limit(metric, value).map_err(fail)?;
        Ok(Self {
            expression: expression.trim().to_owned(),
            metric,
            op,
            limit,
        })
    }
}

fn number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("{text:?} is not a non-negative number"))
}

fn parse_limit(metric: Metric, value: &str) -> Result<f64, String> {
    match metric {
        Metric::Latency(_) => {
            let split = value
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| format!("{value:?} needs a unit: us, ms or s (e.g. 2.5s)"))?;
            let (amount, unit) = value.split_at(split);
            let scale = match unit.trim() {
                "us" | "µs" => 1e-6,
                "ms" => 1e-3,
                "s" => 1.0,
                other => return Err(format!("unknown unit {other:?}; use us, ms or s")),
            };
            Ok(number(amount)? * scale)
        }
        Metric::ErrorRate => {
            let fraction = match value.strip_suffix('%') {
                Some(percent) => number(percent)? / 100.0,
                None => number(value)?,
            };
            if fraction > 1.0 {
                return Err(format!("{value:?} is above 100%"));
            }
            Ok(fraction)
        }
        Metric::Count(_) => value
            .parse::<u64>()
            .map(|n| n as f64)
            .map_err(|_| format!("{value:?} is not a whole number")),
        Metric::Rate => number(value.strip_suffix("/s").unwrap_or(value)),
    }
}

impl Threshold {
    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Evaluates the threshold against a scenario's figures.
    pub fn evaluate(&self, report: &ScenarioReport) -> ThresholdOutcome {
        let observed = match self.metric {
            Metric::Latency(quantile) => report.latency.as_ref().map(|l| match quantile {
                Quantile::P50 => l.p50,
                Quantile::P90 => l.p90,
                Quantile::P95 => l.p95,
                Quantile::P99 => l.p99,
                Quantile::Max => l.max,
                Quantile::Mean => l.mean,
            }),
            Metric::ErrorRate => report.errors.rate(),
            Metric::Count(counter) => Some(match counter {
                Counter::Requests => report.requests.measured,
                Counter::Errors => report.errors.total,
                Counter::Status4xx => report.errors.status_4xx,
                Counter::Status5xx => report.errors.status_5xx,
                Counter::Connect => report.errors.connect,
                Counter::Timeout => report.errors.timeout,
                Counter::Transport => report.errors.transport,
                Counter::Late => report.requests.late,
                Counter::Dropped => report.requests.dropped,
            } as f64),
            Metric::Rate => Some(report.rate.achieved),
        };
        let Some(observed) = observed else {
            return ThresholdOutcome {
                expression: self.expression.clone(),
                passed: false,
                observed: "no samples".to_owned(),
            };
        };
        let passed = match self.op {
            Op::Lt => observed < self.limit,
            Op::Le => observed <= self.limit,
            Op::Gt => observed > self.limit,
            Op::Ge => observed >= self.limit,
            Op::Eq => observed == self.limit,
            Op::Ne => observed != self.limit,
        };
        let observed = match self.metric {
            Metric::Latency(_) => format_seconds(observed),
            Metric::ErrorRate => format!("{:.2}%", observed * 100.0),
            Metric::Count(_) => format!("{observed}"),
            Metric::Rate => format!("{observed:.1}/s"),
        };
        ThresholdOutcome {
            expression: self.expression.clone(),
            passed,
            observed,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

/// Formats seconds the way latencies are printed: `850µs`, `12.3ms`, `2.50s`.
pub(crate) fn format_seconds(seconds: f64) -> String {
    if seconds < 1e-3 {
        format!("{:.0}µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.1}ms", seconds * 1e3)
    } else {
        format!("{seconds:.2}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit_of(expression: &str) -> f64 {
        expression.parse::<Threshold>().expect("valid").limit
    }

    fn error_of(expression: &str) -> String {
        expression
            .parse::<Threshold>()
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn values_are_read_in_the_metric_s_unit() {
        assert!((limit_of("p95 <= 2.5s") - 2.5).abs() < 1e-9);
        assert!((limit_of("p99<250ms") - 0.25).abs() < 1e-9);
        assert!((limit_of("error_rate < 1%") - 0.01).abs() < 1e-9);
        assert!((limit_of("error_rate < 0.02") - 0.02).abs() < 1e-9);
        assert!((limit_of("rate >= 24/s") - 24.0).abs() < 1e-9);
        assert_eq!(limit_of("status_5xx == 0"), 0.0);
        assert_eq!(limit_of("errors_transport == 0"), 0.0);
    }

    #[test]
    fn the_longest_operator_at_the_first_position_wins() {
        let threshold: Threshold = "p95 <= 1s".parse().expect("valid");
        assert_eq!(threshold.op, Op::Le);
        let threshold: Threshold = "requests != 0".parse().expect("valid");
        assert_eq!(threshold.op, Op::Ne);
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        assert!(error_of("p95 2.5s").contains("expected `METRIC OP VALUE`"));
        assert!(error_of("p97 < 1s").contains("unknown metric `p97`"));
        assert!(error_of("p95 < 2.5").contains("needs a unit"));
        assert!(error_of("p95 < 2.5h").contains("unknown unit"));
        assert!(error_of("error_rate < 150%").contains("above 100%"));
        assert!(error_of("status_5xx == 0.5").contains("not a whole number"));
        assert!(error_of("< 3").contains("no metric"));
        assert!(error_of("errors <").contains("no value"));
    }
}
