//! The spec: what a service promises, read from TOML and checked before anything is generated.

use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use crate::{
    Duration,
    catalogue::{FamilyType, HTTP_BUCKETS, Suffix, family_of},
};

/// A spec the generator can use: every field present, every value in range.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Spec {
    /// Who runs the service and where its series come from.
    pub service: Service,
    /// The fast page: total outages page within two minutes.
    pub fast_page: FastPage,
    /// The objectives, in file order.
    pub objectives: Vec<Objective>,
    /// `[smoke]`: where the daily smoke evidence is scraped; `None`, no `SmokeEvidenceStale`.
    pub smoke: Option<Smoke>,
}

/// `[smoke]`: the scrape jobs that serve the daily strict smoke record's gauge
/// (`stanchion smoke record` writes it to a textfile; node_exporter's textfile collector or a
/// Pushgateway serves it, under their own job, never the service's). `SmokeEvidenceStale`
/// selects the gauge by these jobs, like every other rule selects by the service's job, so a
/// gauge from some other place does not count.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Smoke {
    /// The jobs, at least one; names of letters, digits, `_`, `-` and `:` (they go into a
    /// regular expression).
    pub jobs: Vec<String>,
}

/// `[service]`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Service {
    /// The service's name (`backend`).
    pub name: String,
    /// The Prometheus `job` label its series carry (the scrape job's name).
    pub job: String,
    /// The owning team.
    pub owner: String,
    /// Who is paged, and how to escalate.
    pub on_call: String,
    /// Prepended to each runbook file name to make `runbook_url`.
    pub runbook_base_url: String,
    /// Prometheus' scrape interval for the job (default `15s`): every window must span at
    /// least two, or `rate()` has nothing to work with.
    pub scrape_interval: Duration,
    /// The SLO period (default `30d`).
    pub period: Duration,
}

/// `[fast_page]`: pages when the error ratio over `window` reaches `error_ratio` and at least
/// `min_events` events happened in it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct FastPage {
    /// The window (default `1m`).
    pub window: Duration,
    /// The error ratio that counts as an outage, in (0, 1] (default 0.5).
    pub error_ratio: f64,
    /// The fewest events in `window` that can page, at least 1 (default
    /// [`DEFAULT_MIN_EVENTS`]). Without a floor, one failed request in a quiet minute is a
    /// 100% error ratio and pages someone; the burn-rate page still covers a total outage at
    /// lower traffic, only later.
    pub min_events: u64,
}

/// `fast_page.min_events` when the spec gives none: with `error_ratio` 0.5, at least five
/// failures in the window, so one or two unlucky requests never page, while any service
/// worth a two-minute page (a request every few seconds or more) reaches it in a moment.
pub const DEFAULT_MIN_EVENTS: u64 = 10;

/// One `[[objectives]]` entry.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Objective {
    /// A slug (`api-availability`): the `slo` label of its rules.
    pub name: String,
    /// A title for people.
    pub title: String,
    /// What is measured, in a sentence.
    pub description: String,
    /// The target, in percent, in (0, 100).
    pub objective: f64,
    /// The runbook file name (under the service's `runbook_base_url`).
    pub runbook: String,
    /// The first thing to do, in a sentence (the alerts' `remediation`).
    pub remediation: String,
    /// Whether a breach pages (`SloOutage`, `SloBurnRatePage`) or only files a ticket
    /// (`page = false`: `SloBurnRateTicket` alone). Default true.
    pub page: bool,
    /// How bad events and all events are counted.
    pub sli: Sli,
    /// Label sets the generated unit tests feed.
    pub test: TestSeries,
}

impl Objective {
    /// The error budget as a ratio: `1 - objective / 100`.
    pub fn budget(&self) -> f64 {
        1.0 - self.objective / 100.0
    }
}

/// How an objective's events are counted.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Sli {
    /// Bad events and all events from two counter selections.
    Ratio {
        /// The bad events.
        errors: Selector,
        /// All events.
        total: Selector,
    },
    /// Events slower than `threshold` seconds, from a histogram whose bucket boundary it is.
    Latency {
        /// The histogram family.
        histogram: String,
        /// The threshold, in seconds: one of the histogram's bucket boundaries.
        threshold: f64,
        /// Label matchers (`http_route="/api/v1/chat"`).
        matchers: String,
    },
}

/// A counter selection: a sample name and label matchers (without the job, which the
/// generator adds).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selector {
    /// The sample name (`http_server_request_duration_seconds_count`).
    pub metric: String,
    /// Label matchers, comma-separated (`http_response_status_code=~"5.."`), or empty.
    pub matchers: String,
}

/// `test = { good, bad, error_series }`: label sets of a good and a bad event, as the
/// service would export them, for the generated unit tests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestSeries {
    /// The labels of a good event's series.
    pub good: String,
    /// The labels of a bad event's series (of the `total` metric).
    pub bad: String,
    /// When the errors come from another metric than the total: the labels of that series.
    pub error_series: Option<String>,
}

/// Why a spec cannot be used: the field, its line, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct SpecError {
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The field (`objectives[2].objective`), or `spec` for the file as a whole.
    pub field: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    service: RawService,
    fast_page: Option<RawFastPage>,
    objectives: Vec<Spanned<RawObjective>>,
    smoke: Option<RawSmoke>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmoke {
    jobs: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    job: String,
    owner: String,
    on_call: String,
    runbook_base_url: String,
    scrape_interval: Option<Spanned<String>>,
    period: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFastPage {
    window: Option<Spanned<String>>,
    error_ratio: Option<Spanned<f64>>,
    min_events: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    name: String,
    title: String,
    #[serde(default)]
    description: String,
    objective: Spanned<f64>,
    runbook: String,
    remediation: String,
    page: Option<bool>,
    errors: Option<RawSelector>,
    total: Option<RawSelector>,
    latency: Option<RawLatency>,
    test: RawTest,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelector {
    metric: Spanned<String>,
    matchers: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    histogram: Spanned<String>,
    threshold: Spanned<f64>,
    matchers: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    good: Spanned<String>,
    bad: Spanned<String>,
    error_series: Option<Spanned<String>>,
}

impl Spec {
    /// Parses and checks a spec.
    ///
    /// # Errors
    ///
    /// Malformed TOML, a missing or unknown field, an objective outside (0, 100), an unknown
    /// metric family, a latency threshold that is not a bucket boundary, a window shorter than
    /// two scrape intervals, malformed label matchers: each names the field and its line.
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let raw: RawSpec = toml::from_str(text).map_err(|error| SpecError {
            line: error.span().map(|span| line_of(text, span.start)),
            field: "spec".into(),
            message: format!("malformed spec: {}", error.message()),
        })?;
        let at = |span: std::ops::Range<usize>, field: String, message: String| SpecError {
            line: Some(line_of(text, span.start)),
            field,
            message,
        };
        let duration = |value: &Option<Spanned<String>>, field: &str, default: &str| match value {
            None => Ok(Duration::parse(default).unwrap_or(Duration::from_secs(1))),
            Some(value) => Duration::parse(value.get_ref()).ok_or_else(|| {
                at(
                    value.span(),
                    field.into(),
                    format!(
                        "{:?} is not a duration like 30s, 5m, 6h or 3d",
                        value.get_ref()
                    ),
                )
            }),
        };
        let scrape_interval = duration(
            &raw.service.scrape_interval,
            "service.scrape_interval",
            "15s",
        )?;
        let period = duration(&raw.service.period, "service.period", "30d")?;
        let service = Service {
            name: raw.service.name,
            job: raw.service.job,
            owner: raw.service.owner,
            on_call: raw.service.on_call,
            runbook_base_url: raw.service.runbook_base_url,
            scrape_interval,
            period,
        };
        let fast = raw.fast_page.unwrap_or(RawFastPage {
            window: None,
            error_ratio: None,
            min_events: None,
        });
        let window = duration(&fast.window, "fast_page.window", "1m")?;
        let min_window = scrape_interval.as_secs() * 2;
        // The fast page's window is the shortest the rules use; the burn-rate windows are 5m
        // and longer, so checking it and 5m covers them all.
        for (secs, span, field) in [
            (
                window.as_secs(),
                fast.window.as_ref().map(Spanned::span),
                "fast_page.window",
            ),
            (
                300,
                raw.service.scrape_interval.as_ref().map(Spanned::span),
                "service.scrape_interval",
            ),
        ] {
            if secs < min_window {
                return Err(SpecError {
                    line: span.map(|span| line_of(text, span.start)),
                    field: field.into(),
                    message: format!(
                        "a {} window is shorter than two scrape intervals ({}): rate() needs two samples in it",
                        Duration::from_secs(secs),
                        Duration::from_secs(min_window)
                    ),
                });
            }
        }
        let error_ratio = match &fast.error_ratio {
            None => 0.5,
            Some(ratio) if *ratio.get_ref() > 0.0 && *ratio.get_ref() <= 1.0 => *ratio.get_ref(),
            Some(ratio) => {
                return Err(at(
                    ratio.span(),
                    "fast_page.error_ratio".into(),
                    format!("{} is outside (0, 1]", ratio.get_ref()),
                ));
            }
        };
        let min_events = match &fast.min_events {
            None => DEFAULT_MIN_EVENTS,
            Some(count) => u64::try_from(*count.get_ref())
                .ok()
                .filter(|count| *count >= 1)
                .ok_or_else(|| {
                    at(
                        count.span(),
                        "fast_page.min_events".into(),
                        format!(
                            "{} is not a count of at least 1 (1 pages on a single event)",
                            count.get_ref()
                        ),
                    )
                })?,
        };
        let mut objectives = Vec::new();
        for (index, spanned) in raw.objectives.into_iter().enumerate() {
            let field = |name: &str| format!("objectives[{index}].{name}");
            let objective_span = spanned.span();
            let raw = spanned.into_inner();
            let target = *raw.objective.get_ref();
            if !(target > 0.0 && target < 100.0) {
                return Err(at(
                    raw.objective.span(),
                    field("objective"),
                    format!("{target} is outside (0, 100): an objective is a percentage below 100"),
                ));
            }
            let selector = |raw: RawSelector, name: &str| -> Result<Selector, SpecError> {
                let metric = raw.metric.get_ref();
                match family_of(metric) {
                    Some((family, suffix))
                        if family.kind == FamilyType::Counter
                            || (family.kind == FamilyType::Histogram
                                && suffix == Suffix::Count) => {}
                    Some(_) => {
                        return Err(at(
                            raw.metric.span(),
                            field(&format!("{name}.metric")),
                            format!("{metric} is not a counter (or a histogram's _count)"),
                        ));
                    }
                    None => {
                        return Err(at(
                            raw.metric.span(),
                            field(&format!("{name}.metric")),
                            format!(
                                "unknown metric family {metric:?}: the services export no such family"
                            ),
                        ));
                    }
                }
                if let Some(matchers) = &raw.matchers {
                    check_matchers(matchers.get_ref()).map_err(|message| {
                        at(matchers.span(), field(&format!("{name}.matchers")), message)
                    })?;
                }
                Ok(Selector {
                    metric: metric.clone(),
                    matchers: raw.matchers.map(Spanned::into_inner).unwrap_or_default(),
                })
            };
            let sli = match (raw.errors, raw.total, raw.latency) {
                (Some(errors), Some(total), None) => Sli::Ratio {
                    errors: selector(errors, "errors")?,
                    total: selector(total, "total")?,
                },
                (None, None, Some(latency)) => {
                    let histogram = latency.histogram.get_ref();
                    match family_of(histogram) {
                        Some((family, Suffix::None)) if family.kind == FamilyType::Histogram => {}
                        _ => {
                            return Err(at(
                                latency.histogram.span(),
                                field("latency.histogram"),
                                format!(
                                    "unknown metric family {histogram:?}: not a histogram the services export"
                                ),
                            ));
                        }
                    }
                    let threshold = *latency.threshold.get_ref();
                    if !HTTP_BUCKETS.contains(&threshold) {
                        return Err(at(
                            latency.threshold.span(),
                            field("latency.threshold"),
                            format!(
                                "{threshold} is not a bucket boundary ({HTTP_BUCKETS:?}): the ratio would be interpolated"
                            ),
                        ));
                    }
                    if let Some(matchers) = &latency.matchers {
                        check_matchers(matchers.get_ref()).map_err(|message| {
                            at(matchers.span(), field("latency.matchers"), message)
                        })?;
                    }
                    Sli::Latency {
                        histogram: histogram.clone(),
                        threshold,
                        matchers: latency
                            .matchers
                            .map(Spanned::into_inner)
                            .unwrap_or_default(),
                    }
                }
                _ => {
                    return Err(at(
                        objective_span,
                        field("errors"),
                        "give either `errors` and `total`, or `latency`".into(),
                    ));
                }
            };
            let labels = |value: &Spanned<String>, name: &str| {
                check_matchers(value.get_ref())
                    .and_then(|()| {
                        if value.get_ref().contains("=~") || value.get_ref().contains("!") {
                            Err("test series are label sets: use `name=\"value\"` only".into())
                        } else {
                            Ok(value.get_ref().clone())
                        }
                    })
                    .map_err(|message| at(value.span(), field(&format!("test.{name}")), message))
            };
            let test = TestSeries {
                good: labels(&raw.test.good, "good")?,
                bad: labels(&raw.test.bad, "bad")?,
                error_series: raw
                    .test
                    .error_series
                    .as_ref()
                    .map(|value| labels(value, "error_series"))
                    .transpose()?,
            };
            if let Sli::Ratio { errors, total } = &sli
                && errors.metric != total.metric
                && test.error_series.is_none()
            {
                return Err(at(
                    objective_span,
                    field("test.error_series"),
                    "the errors come from another metric than the total: give the labels of its series".into(),
                ));
            }
            objectives.push(Objective {
                name: raw.name,
                title: raw.title,
                description: raw.description,
                objective: target,
                runbook: raw.runbook,
                remediation: raw.remediation,
                page: raw.page.unwrap_or(true),
                sli,
                test,
            });
        }
        if objectives.is_empty() {
            return Err(SpecError {
                line: None,
                field: "objectives".into(),
                message: "a spec needs at least one objective".into(),
            });
        }
        let smoke = match raw.smoke {
            None => None,
            Some(smoke) => {
                let valid = |job: &String| {
                    !job.is_empty()
                        && job
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':'))
                };
                let jobs = smoke.jobs.get_ref();
                if jobs.is_empty() || !jobs.iter().all(valid) {
                    return Err(at(
                        smoke.jobs.span(),
                        "smoke.jobs".into(),
                        format!(
                            "{jobs:?}: give at least one scrape job, each of letters, digits, `_`, `-` or `:`"
                        ),
                    ));
                }
                Some(Smoke {
                    jobs: smoke.jobs.into_inner(),
                })
            }
        };
        Ok(Spec {
            smoke,
            service,
            fast_page: FastPage {
                window,
                error_ratio,
                min_events,
            },
            objectives,
        })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Checks `name op "value", ...` (op `=`, `!=`, `=~`, `!~`); empty is fine.
fn check_matchers(text: &str) -> Result<(), String> {
    let mut rest = text.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("expected a label name at {rest:?}"));
        }
        rest = rest[name_end..].trim_start();
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| rest.starts_with(op))
            .ok_or_else(|| format!("expected =, !=, =~ or !~ after {name}"))?;
        rest = rest[op.len()..].trim_start();
        let Some(body) = rest.strip_prefix('"') else {
            return Err(format!("the value of {name} must be double-quoted"));
        };
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("the value of {name} is never closed"))?;
        rest = body[end + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.is_empty() {
            return Err(format!("expected a comma before {rest:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_MIN_EVENTS, Spec, check_matchers};

    fn with_fast_page(fast_page: &str) -> Result<Spec, super::SpecError> {
        Spec::parse(&format!(
            r#"
[service]
name = "shop"
job = "shop"
owner = "o"
on_call = "c"
runbook_base_url = "https://runbooks.example/"

[fast_page]
{fast_page}

[[objectives]]
name = "availability"
title = "Availability"
objective = 99.9
runbook = "availability.md"
remediation = "r"
errors = {{ metric = "http_server_request_duration_seconds_count", matchers = 'http_response_status_code=~"5.."' }}
total = {{ metric = "http_server_request_duration_seconds_count" }}
test = {{ good = 'http_response_status_code="200"', bad = 'http_response_status_code="503"' }}
"#
        ))
    }

    #[test]
    fn smoke_jobs_are_optional_and_checked() {
        assert_eq!(with_fast_page("").expect("valid").smoke, None);
        let spec = with_fast_page("[smoke]\njobs = [\"node\", \"stanchion-smoke-record\"]")
            .expect("valid");
        assert_eq!(
            spec.smoke.expect("given").jobs,
            ["node", "stanchion-smoke-record"]
        );
        for bad in ["[smoke]\njobs = []", "[smoke]\njobs = [\"node|.*\"]"] {
            let error = with_fast_page(bad).expect_err(bad);
            assert_eq!(error.field, "smoke.jobs", "{bad}");
            assert_eq!(error.line, Some(11), "{bad}");
        }
    }

    #[test]
    fn the_fast_page_floor_defaults_to_ten_events_and_refuses_less_than_one() {
        let spec = with_fast_page(r#"window = "1m""#).expect("valid");
        assert_eq!(spec.fast_page.min_events, DEFAULT_MIN_EVENTS);
        assert_eq!(DEFAULT_MIN_EVENTS, 10);
        let spec = with_fast_page("min_events = 25").expect("valid");
        assert_eq!(spec.fast_page.min_events, 25);
        for bad in ["min_events = 0", "min_events = -3"] {
            let error = with_fast_page(bad).expect_err(bad);
            assert_eq!(error.field, "fast_page.min_events", "{bad}");
            assert_eq!(error.line, Some(10), "{bad}");
            assert!(error.message.contains("at least 1"), "{error}");
        }
    }

    #[test]
    fn matchers_are_checked() {
        assert!(check_matchers("").is_ok());
        assert!(check_matchers(r#"a="x", b=~"5..",c!="\"q\"""#).is_ok());
        for bad in [
            r#"a=x"#,
            r#"a="x"#,
            r#"="x""#,
            r#"a=="x""#,
            r#"a="x" b="y""#,
        ] {
            assert!(check_matchers(bad).is_err(), "{bad}");
        }
    }
}
