//! The names of the metrics this crate records through the `metrics` facade.
//!
//! Loads record them whatever recorder is current; a recorder installed after the first load
//! gets the state again from [`ConfigService::record_metrics`](crate::ConfigService::record_metrics).
//! Every label value comes from a closed set or from the registry (tool slugs), never from a
//! request.

/// Whether each tool is enabled (1) or not (0): a gauge labelled `env`, `tool` and `critical`
/// (`true`/`false`). `sum by (env)` is the number of tools enabled in an environment.
pub const TOOL_ENABLED: &str = "stanchion_config_tool_enabled";
/// The reasons that disable tools in the current snapshot, by `kind` (the closed set
/// [`ReasonKind`](crate::ReasonKind)): a gauge. `KILL_SWITCH` and `NOT_IN_ENVIRONMENT` are
/// intentional; every other kind is a configuration problem.
pub const TOOL_REASONS: &str = "stanchion_config_tool_reasons";
/// Loads that failed as a whole (the last good snapshot stays), by `kind` (`registry`,
/// `dotenv`, `io`, `setting`): a counter.
pub const LOAD_ERRORS_TOTAL: &str = "stanchion_config_load_errors_total";
/// How long each refresh took, in seconds: a histogram (its `_count` is every refresh).
pub const REFRESH_DURATION_SECONDS: &str = "stanchion_config_refresh_duration_seconds";
/// Refreshes that failed (the last good snapshot stays): a counter.
pub const REFRESH_FAILURES_TOTAL: &str = "stanchion_config_refresh_failures_total";
/// Whether the last load or refresh succeeded (1) or not (0): a gauge.
pub const LAST_REFRESH_SUCCESSFUL: &str = "stanchion_config_last_refresh_successful";
/// Shadow secrets mode: secrets each tool read from a `.env*` file (allowed, to migrate): a
/// gauge labelled `tool`.
pub const SECRET_LOCAL_FALLBACKS: &str = "stanchion_config_secret_local_fallbacks";
/// Rollout modes as a state set, labelled `flag` and `mode` (every flag of the registry,
/// `SECRETS_VAULT_MODE` included); switches count in
/// [`stanchion_rollout::metric_names::SWITCHES_TOTAL`].
pub const ROLLOUT_MODE: &str = stanchion_rollout::metric_names::MODE;
