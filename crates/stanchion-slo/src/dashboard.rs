//! `dashboard.json`: a Grafana dashboard on the same series as the rules.

use serde_json::{Value, json};

use crate::{
    Duration,
    rules::{number, recorded, selector},
    spec::Spec,
};

/// A panel: title, unit, and its (expression, legend) targets.
type Panel = (String, &'static str, Vec<(String, String)>);

/// Every panel, in order.
pub(crate) fn panels(spec: &Spec) -> Vec<Panel> {
    let s = |metric: &str, matchers: &[&str]| selector(spec, metric, matchers);
    let mut panels = Vec::new();
    for objective in &spec.objectives {
        let five = Duration::from_secs(300);
        let hour = Duration::from_secs(3600);
        panels.push((
            format!(
                "{}: error ratio (objective {}%)",
                objective.title,
                number(objective.objective)
            ),
            "percentunit",
            vec![
                (
                    recorded(spec, objective, spec.fast_page.window),
                    format!("{}", spec.fast_page.window),
                ),
                (recorded(spec, objective, five), "5m".into()),
                (recorded(spec, objective, hour), "1h".into()),
            ],
        ));
        panels.push((
            format!(
                "{}: burn rate (1 = budget spent exactly over {})",
                objective.title, spec.service.period
            ),
            "none",
            vec![
                (
                    format!(
                        "{} / {}",
                        recorded(spec, objective, five),
                        number(objective.budget())
                    ),
                    "5m".into(),
                ),
                (
                    format!(
                        "{} / {}",
                        recorded(spec, objective, hour),
                        number(objective.budget())
                    ),
                    "1h".into(),
                ),
            ],
        ));
    }
    let requests = s("http_server_request_duration_seconds_count", &[]);
    panels.push((
        "Requests by route and status".into(),
        "reqps",
        vec![(
            format!("sum by (http_route, http_response_status_code) (rate({requests}[5m]))"),
            "{{http_route}} {{http_response_status_code}}".into(),
        )],
    ));
    panels.push((
        "Errors by code".into(),
        "reqps",
        vec![(
            format!(
                "sum by (error_code) (rate({}[5m]))",
                s(
                    "http_server_request_duration_seconds_count",
                    &["error_code!=\"\""]
                )
            ),
            "{{error_code}}".into(),
        )],
    ));
    let buckets = s("http_server_request_duration_seconds_bucket", &[]);
    panels.push((
        "Latency p95 by route".into(),
        "s",
        vec![(
            format!("histogram_quantile(0.95, sum by (le, http_route) (rate({buckets}[5m])))"),
            "{{http_route}}".into(),
        )],
    ));
    panels.push((
        "Share of requests within 2.5 s, by route".into(),
        "percentunit",
        vec![(
            format!(
                "sum by (http_route) (rate({}[5m])) / sum by (http_route) (rate({requests}[5m]))",
                s(
                    "http_server_request_duration_seconds_bucket",
                    &["le=\"2.5\""]
                )
            ),
            "{{http_route}}".into(),
        )],
    ));
    panels.push((
        "Envelope integrity: guard violations per error response".into(),
        "percentunit",
        vec![(
            format!(
                "(sum by (job) (rate({}[5m])) or 0 * sum by (job) (rate({}[5m]))) / sum by (job) (rate({}[5m]))",
                s("stanchion_guard_violations_total", &[]),
                requests,
                s("http_server_request_duration_seconds_count", &["http_response_status_code=~\"[45]..\""])
            ),
            "violations / error responses".into(),
        )],
    ));
    let tools = s("stanchion_config_tool_enabled", &[]);
    panels.push((
        "Tools enabled".into(),
        "none",
        vec![
            (tools.clone(), "{{tool}} ({{env}})".into()),
            (
                format!("sum by (env) ({tools})"),
                "enabled in {{env}}".into(),
            ),
        ],
    ));
    panels.push((
        "Configuration problems by kind".into(),
        "none",
        vec![(s("stanchion_config_tool_reasons", &[]), "{{kind}}".into())],
    ));
    panels.push((
        "Configuration refresh".into(),
        "none",
        vec![
            (
                s("stanchion_config_last_refresh_successful", &[]),
                "last refresh ok".into(),
            ),
            (
                format!(
                    "increase({}[1h])",
                    s("stanchion_config_refresh_failures_total", &[])
                ),
                "failures in the last hour".into(),
            ),
        ],
    ));
    panels.push((
        "Rollout modes (1 = the mode in effect)".into(),
        "none",
        vec![(s("stanchion_rollout_mode", &[]), "{{flag}}={{mode}}".into())],
    ));
    panels.push((
        "Rollout decisions by flag and outcome".into(),
        "reqps",
        vec![(
            format!(
                "sum by (flag, outcome) (rate({}[5m]))",
                s("stanchion_rollout_decisions_total", &[])
            ),
            "{{flag}} {{outcome}}".into(),
        )],
    ));
    panels.push((
        "Secrets redacted from the service's own logs, by rule".into(),
        "none",
        vec![(
            format!(
                "sum by (rule) (increase({}[5m]))",
                s("stanchion_log_redactions_total", &[])
            ),
            "{{rule}}".into(),
        )],
    ));
    if spec.service.name == "backend" {
        panels.push((
            "Agent calls by outcome".into(),
            "reqps",
            vec![(
                format!(
                    "sum by (outcome) (rate({}[5m]))",
                    s("backend_upstream_request_duration_seconds_count", &[])
                ),
                "{{outcome}}".into(),
            )],
        ));
        panels.push((
            "Auth verification failures by reason".into(),
            "reqps",
            vec![(
                format!(
                    "sum by (reason) (rate({}[5m]))",
                    s("backend_auth_verification_failures_total", &[])
                ),
                "{{reason}}".into(),
            )],
        ));
    }
    panels.push((
        "Process".into(),
        "bytes",
        vec![(
            s("process_resident_memory_bytes", &[]),
            "resident memory".into(),
        )],
    ));
    panels.push((
        "Up and build".into(),
        "none",
        vec![
            (s("up", &[]), "up {{instance}}".into()),
            (
                s("stanchion_build_info", &[]),
                "{{service}} {{version}}".into(),
            ),
        ],
    ));
    panels
}

pub(crate) fn render(spec: &Spec) -> String {
    let panels: Vec<Value> = panels(spec)
        .into_iter()
        .enumerate()
        .map(|(index, (title, unit, targets))| {
            let targets: Vec<Value> = targets
                .into_iter()
                .enumerate()
                .map(|(i, (expr, legend))| {
                    json!({
                        "refId": char::from(b'A' + u8::try_from(i).unwrap_or(0)).to_string(),
                        "expr": expr,
                        "legendFormat": legend,
                        "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    })
                })
                .collect();
            json!({
                "id": index + 1,
                "type": "timeseries",
                "title": title,
                "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index / 2) * 8},
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": targets,
            })
        })
        .collect();
    let dashboard = json!({
        "title": format!("{}: SLOs and operations", spec.service.name),
        "uid": format!("stanchion-{}", spec.service.name),
        "description": format!("Generated by `stanchion slo generate`; owner: {}", spec.service.owner),
        "tags": ["stanchion", "slo", spec.service.name],
        "schemaVersion": 39,
        "editable": false,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": [{
            "name": "datasource",
            "type": "datasource",
            "query": "prometheus",
            "label": "Prometheus",
        }]},
        "panels": panels,
    });
    let mut text = serde_json::to_string_pretty(&dashboard).unwrap_or_default();
    text.push('\n');
    text
}
