//! Metrics through the `metrics` facade; names are documented in docs/configuration.md.

use crate::snapshot::{ReasonKind, Snapshot};

/// Gauges describing the current snapshot: set after every successful load.
pub(crate) fn record_snapshot(snapshot: &Snapshot) {
    let enabled = snapshot.tools().iter().filter(|t| t.is_enabled()).count();
    // PERF: a few gauges per tool per load; loads are rare (startup and refresh).
    #[allow(clippy::cast_precision_loss)] // A tool count is far below 2^52.
    metrics::gauge!("stanchion_config_tools_enabled", "env" => snapshot.env().to_owned())
        .set(enabled as f64);
    for tool in snapshot.tools() {
        metrics::gauge!("stanchion_config_tool_enabled", "tool" => tool.slug().to_owned())
            .set(if tool.is_enabled() { 1.0 } else { 0.0 });
    }
    for kind in ReasonKind::ALL {
        let count = snapshot
            .tools()
            .iter()
            .flat_map(|tool| tool.reasons())
            .filter(|reason| reason.kind() == kind)
            .count();
        #[allow(clippy::cast_precision_loss)] // A reason count is far below 2^52.
        metrics::gauge!("stanchion_config_tool_reasons", "kind" => kind.as_str()).set(count as f64);
    }
}
