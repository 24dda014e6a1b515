//! Service level objectives from one reviewable spec.
//!
//! A service describes its objectives in a TOML file ([`Spec`]); [`generate`] turns it into
//! what operators run:
//!
//! - `rules.yml`: Prometheus recording rules for each objective's error ratio over every window
//!   the alerts need (`slo:sli_error:ratio_rate5m{slo, job}`), the multi-window multi-burn-rate
//!   alerts of the Google SRE workbook (table 5-8: page on 14.4× over 1 h and 5 m or 6× over
//!   6 h and 30 m, ticket on 1× over 3 d and 6 h), a fast page that fires within two minutes of
//!   a total outage (burn-rate alerts alone cannot: a 1 h window at 14.4× takes minutes to
//!   cross), and the operational alerts (target down, no tools enabled, a critical tool
//!   disabled, configuration errors, refresh failing, a secret redacted from the service's
//!   logs, envelope integrity, the daily smoke evidence gone stale). Every alert carries
//!   `severity`, `summary`, `remediation` and a `runbook_url`.
//! - `rules.test.yml`: `promtool test rules` unit tests for every alert: fires when it should,
//!   silent otherwise, the fast page by two minutes, the burn-rate page silent on a blip.
//! - `dashboard.json`: a Grafana dashboard with the same expressions.
//! - `SLOs.md`: the objectives for people, with owner and on-call.
//!
//! The rules are plain Prometheus 2.x rule files (checked with Debian's Prometheus 2.42).
//! Bad input is an [`SpecError`] naming the field and its line.
//!
//! ```
//! let spec = stanchion_slo::Spec::parse(
//!     r#"
//!     [service]
//!     name = "shop"
//!     job = "shop"
//!     owner = "Shop team"
//!     on_call = "shop-primary"
//!     runbook_base_url = "https://runbooks.example/"
//!
//!     [[objectives]]
//!     name = "availability"
//!     title = "Availability"
//!     objective = 99.9
//!     runbook = "availability.md"
//!     remediation = "Find the failing route on the dashboard."
//!     errors = { metric = "http_server_request_duration_seconds_count", matchers = 'http_response_status_code=~"5.."' }
//!     total = { metric = "http_server_request_duration_seconds_count" }
//!     test = { good = 'http_response_status_code="200"', bad = 'http_response_status_code="503"' }
//!     "#,
//! )?;
//! let files = stanchion_slo::generate(&spec, "shop.toml");
//! assert!(files.rules.contains("alert: \"SloOutage\""));
//! # Ok::<(), stanchion_slo::SpecError>(())
//! ```

mod catalogue;
mod dashboard;
mod document;
mod duration;
mod rules;
mod spec;
mod unit_tests;

pub use crate::{
    catalogue::{Family, FamilyType, HTTP_BUCKETS, families},
    document::GENERATED_END,
    duration::Duration,
    rules::{OPERATIONAL_RUNBOOKS, SMOKE_GAUGE, SMOKE_MAX_AGE_HOURS, alert_names},
    spec::{
        DEFAULT_MIN_EVENTS, FastPage, Objective, Selector, Service, Sli, Smoke, Spec, SpecError,
        TestSeries,
    },
};

/// Everything generated from one spec, as file contents.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Generated {
    /// `rules.yml`: recording rules and alerts.
    pub rules: String,
    /// `rules.test.yml`: `promtool test rules` unit tests (they load `rules.yml` from the same
    /// directory).
    pub rule_tests: String,
    /// `dashboard.json`: a Grafana dashboard.
    pub dashboard: String,
    /// `SLOs.md`: the objectives for people.
    pub document: String,
}

impl Generated {
    /// The file names and contents, in a fixed order.
    pub fn files(&self) -> [(&'static str, &str); 4] {
        [
            ("rules.yml", &self.rules),
            ("rules.test.yml", &self.rule_tests),
            ("dashboard.json", &self.dashboard),
            ("SLOs.md", &self.document),
        ]
    }
}

/// `existing` (the document on disk, if any) with its generated part replaced by `generated`:
/// the text after [`GENERATED_END`] is written by hand and kept.
pub fn merge_document(existing: Option<&str>, generated: &str) -> String {
    let kept = existing
        .and_then(|text| text.split_once(GENERATED_END))
        .map_or("\n", |(_, after)| after);
    let mut merged = generated.trim_end_matches('\n').to_owned();
    merged.push_str(kept);
    merged
}

/// Generates every file from `spec`; `source` is the spec's path as shown in the files'
/// "generated from" headers.
pub fn generate(spec: &Spec, source: &str) -> Generated {
    Generated {
        rules: rules::render(spec, source),
        rule_tests: unit_tests::render(spec, source),
        dashboard: dashboard::render(spec),
        document: document::render(spec, source),
    }
}
