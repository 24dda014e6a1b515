//! Metrics through the `metrics` facade. The names are the constants of [`crate::metric_names`];
//! the `stanchion` facade describes them (HELP lines) when it builds its recorder.

use crate::{
    metric_names::{
        LAST_REFRESH_SUCCESSFUL, REFRESH_FAILURES_TOTAL, SECRET_LOCAL_FALLBACKS, TOOL_ENABLED,
        TOOL_REASONS,
    },
    snapshot::{ReasonKind, Snapshot},
};

/// The gauges describing `snapshot`: set after every successful load, and again by
/// [`crate::ConfigService::record_metrics`] (they are state, so replaying them is exact).
pub(crate) fn record_snapshot(snapshot: &Snapshot) {
    // PERF: a few gauges per tool per load; loads are rare (startup, refresh, scrape replay).
    for tool in snapshot.tools() {
        metrics::gauge!(
            TOOL_ENABLED,
            "env" => snapshot.env().to_owned(),
            "tool" => tool.slug().to_owned(),
            "critical" => if tool.is_critical() { "true" } else { "false" }
        )
        .set(if tool.is_enabled() { 1.0 } else { 0.0 });
        #[allow(clippy::cast_precision_loss)] // A secret count is far below 2^52.
        metrics::gauge!(SECRET_LOCAL_FALLBACKS, "tool" => tool.slug().to_owned())
            .set(tool.local_fallbacks().len() as f64);
    }
    for kind in ReasonKind::ALL {
        let count = snapshot
            .tools()
            .iter()
            .flat_map(|tool| tool.reasons())
            .filter(|reason| reason.kind() == kind)
            .count();
        // Every kind, zeros included, so a query sees the first problem as a change.
        #[allow(clippy::cast_precision_loss)] // A reason count is far below 2^52.
        metrics::gauge!(TOOL_REASONS, "kind" => kind.as_str()).set(count as f64);
    }
    for flag in snapshot.flags() {
        // A state set per flag: 1 for the mode in effect, 0 for the others.
        stanchion_rollout::metric_names::record_mode_owned(
            flag.name().to_owned().into(),
            flag.mode(),
        );
    }
}

/// The refresh state: whether the last load succeeded and the failures so far.
pub(crate) fn record_refresh_state(last_successful: bool, failures: u64) {
    metrics::gauge!(LAST_REFRESH_SUCCESSFUL).set(if last_successful { 1.0 } else { 0.0 });
    metrics::counter!(REFRESH_FAILURES_TOTAL).absolute(failures);
}
