//! `rules.yml`: recording rules, burn-rate alerts, the fast page and the operational alerts.

use std::fmt::Write as _;

use crate::{
    Duration,
    spec::{Objective, Sli, Smoke, Spec},
};

/// The burn-rate alerts of the Google SRE workbook, table 5-8 (30-day budget): severity,
/// long window, short window, burn rate. A pair fires when both windows burn faster than the
/// rate; the pairs of one severity are ORed.
pub(crate) const BURN_RATES: [(&str, u64, u64, f64); 3] = [
    ("page", 3600, 300, 14.4),
    ("page", 6 * 3600, 1800, 6.0),
    ("ticket", 3 * 86_400, 6 * 3600, 1.0),
];

/// The operational alerts' runbook files (under the service's `runbook_base_url`), by alert.
pub const OPERATIONAL_RUNBOOKS: [(&str, &str); 8] = [
    ("TargetDown", "target-down.md"),
    ("NoToolsEnabled", "no-tools-enabled.md"),
    ("CriticalToolDisabled", "no-tools-enabled.md"),
    ("ConfigurationErrors", "config-errors.md"),
    ("ConfigurationRefreshFailing", "config-refresh-failing.md"),
    ("SecretRedactedFromLogs", "secret-in-logs.md"),
    ("EnvelopeIntegrityBreached", "envelope-integrity.md"),
    ("SmokeEvidenceStale", "smoke-evidence-stale.md"),
];

/// The gauge a strict passing `stanchion smoke record --checks` writes to a textfile
/// (`production_hardening_smoke.prom`): the Unix time of that pass.
pub const SMOKE_GAUGE: &str = "stanchion_smoke_last_success_timestamp_seconds";

/// How old the last strict smoke pass may get before `SmokeEvidenceStale` fires: a day plus
/// room for the timer's random delay and the run itself, so one slow run does not ticket.
pub const SMOKE_MAX_AGE_HOURS: u64 = 26;

/// Every alert name the rules can define (`SmokeEvidenceStale` only with `[smoke]`).
pub fn alert_names() -> Vec<&'static str> {
    let mut names = vec!["SloOutage", "SloBurnRatePage", "SloBurnRateTicket"];
    names.extend(OPERATIONAL_RUNBOOKS.iter().map(|(name, _)| *name));
    names
}

/// Every window a recording rule is needed for, shortest first.
pub(crate) fn windows(spec: &Spec) -> Vec<Duration> {
    let mut windows = vec![spec.fast_page.window];
    for (_, long, short, _) in BURN_RATES {
        windows.push(Duration::from_secs(long));
        windows.push(Duration::from_secs(short));
    }
    windows.sort();
    windows.dedup();
    windows
}

/// The recording rule's name for `window`.
pub(crate) fn ratio_record(window: Duration) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// A selector with the job first: `metric{job="backend",extra}`.
pub(crate) fn selector(spec: &Spec, metric: &str, matchers: &[&str]) -> String {
    let mut all = vec![format!("job=\"{}\"", spec.service.job)];
    all.extend(
        matchers
            .iter()
            .filter(|m| !m.trim().is_empty())
            .map(|m| m.trim().to_owned()),
    );
    format!("{metric}{{{}}}", all.join(", "))
}

/// `le` as Prometheus' exporters write it (`2.5`, `1`).
pub(crate) fn le(threshold: f64) -> String {
    format!("{threshold}")
}

/// A threshold literal without float noise (`14.4 * 0.005` is `0.072`, not `0.07200000000000001`).
pub(crate) fn number(value: f64) -> String {
    let text = format!("{value:.10}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

/// The error ratio of `objective` over `window`, aggregated by job. With no bad events the
/// numerator falls back to zero, so the ratio exists (and a dashboard shows 0, not nothing).
pub(crate) fn error_ratio(spec: &Spec, objective: &Objective, window: Duration) -> String {
    match &objective.sli {
        Sli::Ratio { errors, total } => {
            let errors = selector(spec, &errors.metric, &[&errors.matchers]);
            let total = selector(spec, &total.metric, &[&total.matchers]);
            format!(
                "(sum by (job) (rate({errors}[{window}])) or 0 * sum by (job) (rate({total}[{window}]))) / sum by (job) (rate({total}[{window}]))"
            )
        }
        Sli::Latency {
            histogram,
            threshold,
            matchers,
        } => {
            let count = selector(spec, &format!("{histogram}_count"), &[matchers]);
            let le = format!("le=\"{}\"", le(*threshold));
            let bucket = selector(spec, &format!("{histogram}_bucket"), &[matchers, &le]);
            format!(
                "(sum by (job) (rate({count}[{window}])) - sum by (job) (rate({bucket}[{window}]))) / sum by (job) (rate({count}[{window}]))"
            )
        }
    }
}

/// `slo:sli_error:ratio_rate<w>{slo="name", job="..."}`.
pub(crate) fn recorded(spec: &Spec, objective: &Objective, window: Duration) -> String {
    format!(
        "{}{{slo=\"{}\", job=\"{}\"}}",
        ratio_record(window),
        objective.name,
        spec.service.job
    )
}

/// All events of `objective` (the ratio's denominator) as a selector with the job.
pub(crate) fn total_selector(spec: &Spec, objective: &Objective) -> String {
    match &objective.sli {
        Sli::Ratio { total, .. } => selector(spec, &total.metric, &[&total.matchers]),
        Sli::Latency {
            histogram,
            matchers,
            ..
        } => selector(spec, &format!("{histogram}_count"), &[matchers]),
    }
}

/// The expression of an objective's fast page: the error ratio over the window at or above
/// the outage ratio, and enough events in the window that the ratio means something (one
/// failed request in a quiet minute is a 100% ratio, not an outage). The ratio carries
/// `slo` and the count does not, so they are matched on `job` alone.
pub(crate) fn fast_page_expr(spec: &Spec, objective: &Objective) -> String {
    let window = spec.fast_page.window;
    format!(
        "{} >= {} and on (job) sum by (job) (increase({}[{window}])) >= {}",
        recorded(spec, objective, window),
        number(spec.fast_page.error_ratio),
        total_selector(spec, objective),
        spec.fast_page.min_events
    )
}

/// The expression of an objective's burn-rate alert of `severity`.
pub(crate) fn burn_expr(spec: &Spec, objective: &Objective, severity: &str) -> String {
    BURN_RATES
        .iter()
        .filter(|(s, ..)| *s == severity)
        .map(|(_, long, short, rate)| {
            let threshold = number(rate * objective.budget());
            format!(
                "({} > {threshold} and {} > {threshold})",
                recorded(spec, objective, Duration::from_secs(*long)),
                recorded(spec, objective, Duration::from_secs(*short)),
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// One alerting rule.
pub(crate) struct Alert {
    pub name: &'static str,
    pub expr: String,
    pub for_: Option<&'static str>,
    pub severity: &'static str,
    pub slo: Option<String>,
    pub summary: String,
    pub description: String,
    pub remediation: String,
    pub runbook: String,
}

/// The operational alerts, in [`OPERATIONAL_RUNBOOKS`] order (`SmokeEvidenceStale` only when
/// the spec has `[smoke]`).
pub(crate) fn operational(spec: &Spec) -> Vec<Alert> {
    let job = |metric: &str, extra: &[&str]| selector(spec, metric, extra);
    let runbook = |name: &str| {
        OPERATIONAL_RUNBOOKS
            .iter()
            .find(|(alert, _)| *alert == name)
            .map(|(_, file)| (*file).to_owned())
            .unwrap_or_default()
    };
    let alert = |name: &'static str,
                 expr: String,
                 for_: Option<&'static str>,
                 severity: &'static str,
                 summary: &str,
                 description: &str,
                 remediation: &str| Alert {
        name,
        expr,
        for_,
        severity,
        slo: None,
        summary: summary.to_owned(),
        description: description.to_owned(),
        remediation: remediation.to_owned(),
        runbook: runbook(name),
    };
    let mut alerts = vec![
        alert(
            "TargetDown",
            format!("{} == 0", job("up", &[])),
            Some("30s"),
            "page",
            "{{ $labels.job }} ({{ $labels.instance }}) cannot be scraped",
            "Prometheus has failed to scrape the target for 30 seconds: the process is down, hung or unreachable.",
            "Check the process and its last log lines; restart it if it is hung; check the network path from Prometheus.",
        ),
        alert(
            "NoToolsEnabled",
            format!(
                "sum by (job, env) ({}) == 0",
                job("stanchion_config_tool_enabled", &[])
            ),
            Some("1m"),
            "page",
            "{{ $labels.job }} has no tool enabled in {{ $labels.env }}",
            "Every tool is disabled: every feature behind a tool is off.",
            "Run `stanchion config check` where the service runs and fix the reasons it lists.",
        ),
        alert(
            "CriticalToolDisabled",
            format!(
                "{} == 0",
                job("stanchion_config_tool_enabled", &["critical=\"true\""])
            ),
            Some("30s"),
            "page",
            "{{ $labels.job }}: critical tool {{ $labels.tool }} is disabled in {{ $labels.env }}",
            "A tool the service cannot work without is disabled by the current configuration.",
            "Run `stanchion config explain {{ $labels.tool }}` where the service runs and fix the reason it gives.",
        ),
        alert(
            "ConfigurationErrors",
            format!(
                "sum by (job, kind) ({}) > 0",
                job(
                    "stanchion_config_tool_reasons",
                    &["kind!~\"KILL_SWITCH|NOT_IN_ENVIRONMENT\""]
                )
            ),
            Some("1m"),
            "ticket",
            "{{ $labels.job }}: {{ $value }} configuration problem(s) of kind {{ $labels.kind }}",
            "A tool is disabled by a configuration problem (a kill switch or an environment restriction is not one).",
            "Run `stanchion config check` where the service runs; the REASONS column names each variable.",
        ),
        alert(
            "ConfigurationRefreshFailing",
            format!(
                "{} == 0",
                job("stanchion_config_last_refresh_successful", &[])
            ),
            Some("1m"),
            "ticket",
            "{{ $labels.job }}: the last configuration refresh failed",
            "The service keeps serving its last good configuration, but changes are not being applied.",
            "Read the `configuration refresh failed` log event: it names the file and line; fix it and save again.",
        ),
        alert(
            "SecretRedactedFromLogs",
            format!(
                "sum by (job, rule) (increase({}[5m])) > 0",
                job("stanchion_log_redactions_total", &[])
            ),
            None,
            "ticket",
            "{{ $labels.job }}: code tried to log a secret (rule {{ $labels.rule }})",
            "The log redactor masked a value matching rule {{ $labels.rule }} in the service's own log lines: nothing leaked, but something logs what it should not.",
            "Find the log lines with [REDACTED:{{ $labels.rule }}] of the last 5 minutes, then the code or input that wrote them; rotate the secret if it is real.",
        ),
        alert(
            "EnvelopeIntegrityBreached",
            format!(
                "sum by (job) (rate({}[5m])) / sum by (job) (rate({}[5m])) >= 0.01",
                job("stanchion_guard_violations_total", &[]),
                job(
                    "http_server_request_duration_seconds_count",
                    &["http_response_status_code=~\"[45]..\""]
                )
            ),
            Some("5m"),
            "ticket",
            "{{ $labels.job }}: {{ $value | humanizePercentage }} of error responses left without an envelope",
            "The guard is rewriting (in enforced mode) or only counting (in shadow mode) error responses that were not written as envelopes.",
            "Look at stanchion_guard_violations_total by status: the status points to the layer or handler that writes plain errors.",
        ),
    ];
    // The smoke gauge is not scraped from the service's job: the CLI writes it to a file that
    // node_exporter's textfile collector (or a Pushgateway, from the CronJob) serves under its
    // own job. So the spec names those jobs (`[smoke] jobs`), and without them there is no
    // alert: a Prometheus that scrapes only the services would otherwise hold a ticket that
    // never resolves. Every series under those jobs is a place recording the evidence, and
    // each one going stale fires with its own labels; `absent` covers the evidence never
    // having been published at all.
    if let Some(smoke) = &spec.smoke {
        let gauge = format!("{SMOKE_GAUGE}{{{}}}", smoke_job_matcher(smoke));
        alerts.push(alert(
            "SmokeEvidenceStale",
            format!("time() - {gauge} > {SMOKE_MAX_AGE_HOURS} * 3600 or absent({gauge})"),
            Some("10m"),
            "ticket",
            &format!("No strict smoke record has passed in the last {SMOKE_MAX_AGE_HOURS} hours"),
            &format!(
                "{SMOKE_GAUGE} is older than {SMOKE_MAX_AGE_HOURS} hours, or nothing exports it: the daily `stanchion smoke record --checks` stopped running or stopped passing, and the rollout's 7-day streak is breaking."
            ),
            "Run `stanchion smoke streak` on the ledger to see which day broke and why; check the last run of the record (systemd timer or CronJob) and the failing check in the ledger's last row.",
        ));
    }
    alerts
}

/// `job="node"` for one smoke job, `job=~"node|pushgateway"` for several (the spec allows no
/// regular-expression characters in them).
pub(crate) fn smoke_job_matcher(smoke: &Smoke) -> String {
    match smoke.jobs.as_slice() {
        [job] => format!("job=\"{job}\""),
        jobs => format!("job=~\"{}\"", jobs.join("|")),
    }
}

/// The SLO alerts of one objective: the fast page, the burn-rate page and ticket (only the
/// ticket when the objective does not page).
pub(crate) fn slo_alerts(spec: &Spec, objective: &Objective) -> Vec<Alert> {
    let title = &objective.title;
    let target = number(objective.objective);
    let slo = Some(objective.name.clone());
    let alerts = vec![
        Alert {
            name: "SloOutage",
            expr: fast_page_expr(spec, objective),
            for_: None,
            severity: "page",
            slo: slo.clone(),
            summary: format!(
                "{{{{ $labels.job }}}}: {title} outage, {{{{ $value | humanizePercentage }}}} of events failing over {}",
                spec.fast_page.window
            ),
            description: format!(
                "At least {} of {title} events failed over the last {}, out of {} or more (objective {target}%). Burn-rate alerts would take minutes to see this.",
                number(spec.fast_page.error_ratio * 100.0) + "%",
                spec.fast_page.window,
                spec.fast_page.min_events
            ),
            remediation: objective.remediation.clone(),
            runbook: objective.runbook.clone(),
        },
        Alert {
            name: "SloBurnRatePage",
            expr: burn_expr(spec, objective, "page"),
            for_: None,
            severity: "page",
            slo: slo.clone(),
            summary: format!("{{{{ $labels.job }}}}: {title} is burning its error budget fast"),
            description: format!(
                "The {title} error budget ({target}% over {}) burns at 14.4x over 1h and 5m, or 6x over 6h and 30m: 2% or 5% of the budget gone.",
                spec.service.period
            ),
            remediation: objective.remediation.clone(),
            runbook: objective.runbook.clone(),
        },
        Alert {
            name: "SloBurnRateTicket",
            expr: burn_expr(spec, objective, "ticket"),
            for_: None,
            severity: "ticket",
            slo,
            summary: format!("{{{{ $labels.job }}}}: {title} is burning its error budget"),
            description: format!(
                "The {title} error budget ({target}% over {}) burns faster than it refills over 3d and 6h: 10% of the budget gone.",
                spec.service.period
            ),
            remediation: objective.remediation.clone(),
            runbook: objective.runbook.clone(),
        },
    ];
    alerts
        .into_iter()
        .filter(|alert| objective.page || alert.severity != "page")
        .collect()
}

/// YAML double-quoted scalar (a JSON string is one).
pub(crate) fn q(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

pub(crate) fn render(spec: &Spec, source: &str) -> String {
    let mut out = String::new();
    let job = &spec.service.job;
    let _ = writeln!(
        out,
        "# Generated by `stanchion slo generate` from {source}: do not edit; change the spec and\n\
         # regenerate. Recording rules, SLO alerts and operational alerts for job {job:?}.\ngroups:"
    );
    let _ = writeln!(
        out,
        "  - name: {}",
        q(&format!("{}-slo-recordings", spec.service.name))
    );
    let _ = writeln!(out, "    rules:");
    for objective in &spec.objectives {
        for window in windows(spec) {
            let _ = writeln!(out, "      - record: {}", q(&ratio_record(window)));
            let _ = writeln!(
                out,
                "        expr: {}",
                q(&error_ratio(spec, objective, window))
            );
            let _ = writeln!(out, "        labels:");
            let _ = writeln!(out, "          slo: {}", q(&objective.name));
        }
    }
    let _ = writeln!(
        out,
        "  - name: {}",
        q(&format!("{}-slo-alerts", spec.service.name))
    );
    let _ = writeln!(out, "    rules:");
    for objective in &spec.objectives {
        for alert in slo_alerts(spec, objective) {
            write_alert(&mut out, spec, &alert);
        }
    }
    let _ = writeln!(
        out,
        "  - name: {}",
        q(&format!("{}-operational-alerts", spec.service.name))
    );
    let _ = writeln!(out, "    rules:");
    for alert in operational(spec) {
        write_alert(&mut out, spec, &alert);
    }
    out
}

fn write_alert(out: &mut String, spec: &Spec, alert: &Alert) {
    let _ = writeln!(out, "      - alert: {}", q(alert.name));
    let _ = writeln!(out, "        expr: {}", q(&alert.expr));
    if let Some(for_) = alert.for_ {
        let _ = writeln!(out, "        for: {for_}");
    }
    let _ = writeln!(out, "        labels:");
    let _ = writeln!(out, "          severity: {}", q(alert.severity));
    if let Some(slo) = &alert.slo {
        let _ = writeln!(out, "          slo: {}", q(slo));
    }
    let _ = writeln!(out, "        annotations:");
    let _ = writeln!(out, "          summary: {}", q(&alert.summary));
    let _ = writeln!(out, "          description: {}", q(&alert.description));
    let _ = writeln!(out, "          remediation: {}", q(&alert.remediation));
    let _ = writeln!(
        out,
        "          runbook_url: {}",
        q(&format!(
            "{}{}",
            spec.service.runbook_base_url, alert.runbook
        ))
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::family_of;

    /// The metric names an expression selects: identifiers outside `{...}` and quotes that
    /// look like the services' families (label names in `by (...)` never do).
    fn metrics_in(expr: &str) -> Vec<String> {
        let mut names = Vec::new();
        let (mut braces, mut quoted, mut word) = (0_usize, false, String::new());
        for c in expr.chars().chain([' ']) {
            if quoted {
                quoted = c != '"';
                continue;
            }
            if braces == 0 && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                word.push(c);
                continue;
            }
            let is_metric = ["stanchion_", "http_", "backend_", "process_"]
                .iter()
                .any(|prefix| word.starts_with(prefix))
                || word == "up";
            if is_metric {
                names.push(std::mem::take(&mut word));
            }
            word.clear();
            match c {
                '{' => braces += 1,
                '}' => braces -= 1,
                '"' => quoted = true,
                _ => {}
            }
        }
        names
    }

    fn spec() -> Spec {
        Spec::parse(
            r#"
            [service]
            name = "shop"
            job = "shop"
            owner = "o"
            on_call = "c"
            runbook_base_url = "https://runbooks.example/"

            [[objectives]]
            name = "availability"
            title = "Availability"
            objective = 99.9
            runbook = "availability.md"
            remediation = "r"
            errors = { metric = "http_server_request_duration_seconds_count", matchers = 'http_response_status_code=~"5.."' }
            total = { metric = "http_server_request_duration_seconds_count" }
            test = { good = 'http_response_status_code="200"', bad = 'http_response_status_code="503"' }

            [smoke]
            jobs = ["node", "stanchion-smoke-record"]
            "#,
        )
        .expect("a valid spec")
    }

    /// The catalogue is what the backend serves (tests/tests/metrics_pass_promtool.rs scrapes
    /// it); the smoke gauge alone comes from elsewhere: the CLI writes it to a textfile
    /// (crates/stanchion-cli/tests/smoke.rs checks that name). A typo in any other name would
    /// be an alert that can never fire.
    #[test]
    fn every_operational_alert_selects_a_served_family_or_the_smoke_gauge() {
        let mut seen = 0;
        for alert in operational(&spec()) {
            let names = metrics_in(&alert.expr);
            assert!(!names.is_empty(), "{}: {}", alert.name, alert.expr);
            for name in names {
                seen += 1;
                assert!(
                    family_of(&name).is_some() || name == SMOKE_GAUGE,
                    "{} selects {name}, which no service serves",
                    alert.name
                );
            }
        }
        assert!(seen >= OPERATIONAL_RUNBOOKS.len(), "{seen}");
        // The reader itself: a label inside braces or `by (...)` is not a metric.
        assert_eq!(
            metrics_in(
                r#"sum by (job, rule) (increase(stanchion_x_total{job="a", y=~"b|c"}[5m])) / up"#
            ),
            ["stanchion_x_total", "up"]
        );
        assert_eq!(
            metrics_in("stanchion_typo_total > 0"),
            ["stanchion_typo_total"]
        );
        assert!(family_of("stanchion_typo_total").is_none());
    }

    #[test]
    fn smoke_evidence_stale_selects_the_spec_s_smoke_jobs_and_exists_only_with_them() {
        let alerts = operational(&spec());
        let alert = alerts
            .iter()
            .find(|a| a.name == "SmokeEvidenceStale")
            .expect("generated");
        assert_eq!(
            alert.expr,
            "time() - stanchion_smoke_last_success_timestamp_seconds{job=~\"node|stanchion-smoke-record\"} > 26 * 3600 \
             or absent(stanchion_smoke_last_success_timestamp_seconds{job=~\"node|stanchion-smoke-record\"})"
        );
        assert_eq!(alert.severity, "ticket");
        assert_eq!(alert.runbook, "smoke-evidence-stale.md");
        let one = Smoke {
            jobs: vec!["node".into()],
        };
        assert_eq!(smoke_job_matcher(&one), "job=\"node\"");

        // Without `[smoke]` nothing watches the evidence: the other alerts stay.
        let mut without = spec();
        without.smoke = None;
        let names: Vec<_> = operational(&without).iter().map(|a| a.name).collect();
        assert!(!names.contains(&"SmokeEvidenceStale"), "{names:?}");
        assert_eq!(names.len(), OPERATIONAL_RUNBOOKS.len() - 1, "{names:?}");
    }
}
