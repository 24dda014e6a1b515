//! The names of the metrics rollout gates and mode sources record through the `metrics`
//! facade. Every label value comes from a closed set (the modes, the outcomes) or from code
//! (flag names are `&'static str`), never from a request.

/// The active mode of each flag as a state set: 1 for the mode in effect, 0 for the other
/// two, labelled `flag` and `mode`. A gauge.
pub const MODE: &str = "stanchion_rollout_mode";
/// Decisions of rollout checks, labelled `flag` and `outcome` (`allow`, `deny`,
/// `would_allow`, `would_deny`; see [`Outcome`](crate::Outcome)). A counter.
pub const DECISIONS_TOTAL: &str = "stanchion_rollout_decisions_total";
/// Mode switches that took effect, labelled `flag`, `from` and `to`. A counter.
pub const SWITCHES_TOTAL: &str = "stanchion_rollout_switches_total";

/// Sets the state set of `flag` to `mode` (1 for it, 0 for the other modes).
pub fn record_mode(flag: &'static str, mode: crate::RolloutMode) {
    record_mode_owned(flag.into(), mode);
}

/// [`record_mode`] for a flag named at run time (from a registry file).
pub fn record_mode_owned(flag: std::borrow::Cow<'static, str>, mode: crate::RolloutMode) {
    for each in crate::RolloutMode::ALL {
        metrics::gauge!(MODE, "flag" => flag.clone(), "mode" => each.as_str())
            .set(if each == mode { 1.0 } else { 0.0 });
    }
}

/// Counts one switch of `flag` from `from` to `to`.
pub fn record_switch(
    flag: std::borrow::Cow<'static, str>,
    from: crate::RolloutMode,
    to: crate::RolloutMode,
) {
    metrics::counter!(SWITCHES_TOTAL, "flag" => flag, "from" => from.as_str(), "to" => to.as_str())
        .increment(1);
}
