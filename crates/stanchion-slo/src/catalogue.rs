//! The metric families Stanchion's services export: a spec may select only these, so a typo
//! in a metric name is an error at generation, not an alert that never fires.

/// A family's Prometheus type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FamilyType {
    /// A counter (`_total`).
    Counter,
    /// A gauge.
    Gauge,
    /// A histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
}

/// One exported family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Family {
    /// The family name.
    pub name: &'static str,
    /// Its type.
    pub kind: FamilyType,
}

/// The bucket boundaries every Stanchion histogram has (the OpenTelemetry HTTP buckets), in
/// seconds: a latency objective's threshold must be one, so its ratio is exact.
pub const HTTP_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

const fn family(name: &'static str, kind: FamilyType) -> Family {
    Family { name, kind }
}

const FAMILIES: &[Family] = &[
    family(
        "http_server_request_duration_seconds",
        FamilyType::Histogram,
    ),
    family("stanchion_guard_violations_total", FamilyType::Counter),
    family("stanchion_log_redactions_total", FamilyType::Counter),
    family("stanchion_build_info", FamilyType::Gauge),
    family("stanchion_config_tool_enabled", FamilyType::Gauge),
    family("stanchion_config_tool_reasons", FamilyType::Gauge),
    family("stanchion_config_load_errors_total", FamilyType::Counter),
    family(
        "stanchion_config_refresh_duration_seconds",
        FamilyType::Histogram,
    ),
    family(
        "stanchion_config_refresh_failures_total",
        FamilyType::Counter,
    ),
    family(
        "stanchion_config_last_refresh_successful",
        FamilyType::Gauge,
    ),
    family("stanchion_config_secret_local_fallbacks", FamilyType::Gauge),
    family("stanchion_rollout_mode", FamilyType::Gauge),
    family("stanchion_rollout_decisions_total", FamilyType::Counter),
    family("stanchion_rollout_switches_total", FamilyType::Counter),
    family(
        "backend_auth_verification_failures_total",
        FamilyType::Counter,
    ),
    family(
        "backend_upstream_request_duration_seconds",
        FamilyType::Histogram,
    ),
    family("process_cpu_seconds_total", FamilyType::Counter),
    family("process_resident_memory_bytes", FamilyType::Gauge),
    family("up", FamilyType::Gauge),
];

/// Every family a spec may name.
pub fn families() -> &'static [Family] {
    FAMILIES
}

/// The family a sample name belongs to (`x_count` → histogram `x`), if known.
pub(crate) fn family_of(sample: &str) -> Option<(&'static Family, Suffix)> {
    for family in FAMILIES {
        if sample == family.name {
            return Some((family, Suffix::None));
        }
        if family.kind == FamilyType::Histogram
            && let Some(rest) = sample.strip_prefix(family.name)
        {
            match rest {
                "_count" => return Some((family, Suffix::Count)),
                "_bucket" => return Some((family, Suffix::Bucket)),
                "_sum" => return Some((family, Suffix::Sum)),
                _ => {}
            }
        }
    }
    None
}

/// Which series of a family a sample name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Suffix {
    None,
    Count,
    Bucket,
    Sum,
}
