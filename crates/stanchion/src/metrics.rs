//! Metrics through the `metrics` facade, rendered by the Prometheus exporter's recorder.
//!
//! One name per fact, a HELP line on every family, base units, bounded labels. The HTTP
//! server histogram follows the OpenTelemetry HTTP semantic conventions as a Prometheus
//! exporter renders them, so community dashboards work on it. Process metrics come from
//! `metrics-process` (the `process_*` families every Prometheus client exports).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use http::Method;
use metrics::{Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use stanchion_config::{ConfigService, metric_names as config_names};
use stanchion_redact::Redactor;
use stanchion_rollout::metric_names as rollout_names;

/// Time to the response head, in seconds: a histogram labelled [`METHOD_LABEL`],
/// [`ROUTE_LABEL`], [`STATUS_CODE_LABEL`] and, on error responses, [`ERROR_CODE_LABEL`], with
/// the buckets of [`DURATION_BUCKETS`]. Its `_count` is the number of requests.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_server_request_duration_seconds";
/// The request method: standard methods by name, anything else `_OTHER`.
pub const METHOD_LABEL: &str = "http_request_method";
/// The matched route template (`/api/v1/chat`), or [`crate::UNMATCHED_ROUTE`].
pub const ROUTE_LABEL: &str = "http_route";
/// The response status code (`200`, `503`).
pub const STATUS_CODE_LABEL: &str = "http_response_status_code";
/// The taxonomy code of an error response's envelope (`UPSTREAM_UNAVAILABLE`); absent on
/// success.
pub const ERROR_CODE_LABEL: &str = "error_code";
/// Set instead of the status code when the service returned no response at all (`_OTHER`).
pub const ERROR_TYPE_LABEL: &str = "error_type";

/// Values the service's own log lines had redacted, by `rule` (a catalogue rule id,
/// `registered-secret` or `oversized`): a counter. A rise means code tried to log a secret.
pub const LOG_REDACTIONS_TOTAL: &str = "stanchion_log_redactions_total";
/// Always 1, labelled `service` and `version`.
pub const BUILD_INFO: &str = "stanchion_build_info";

/// The histogram buckets, in seconds: the OpenTelemetry HTTP server buckets. 2.5 is a
/// boundary so "the share of requests within 2.5 s" is exact (`le="2.5"` over the count), not
/// interpolated.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// How often the global recorder's histogram samples are folded into their buckets when
/// nothing scrapes (rendering does it too).
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// A Prometheus recorder for the `metrics` facade, and the handle that renders it.
///
/// Every histogram gets [`DURATION_BUCKETS`] (the exporter would render summaries otherwise,
/// which cannot be aggregated across instances). Rendering first collects the state that
/// lives elsewhere, into this recorder whatever the thread: the `process_*` metrics, the
/// build info, the redactor's per-rule counts and the configuration service's state. So a
/// configuration loaded before the recorder existed (a service must load it first: it
/// decides what to serve) still shows on the first scrape.
///
/// ```
/// let metrics = stanchion::Metrics::for_current_thread().with_build_info("jobs", "1.2.0");
/// metrics::counter!("jobs_done_total", "queue" => "mail").increment(2);
/// let text = metrics.render();
/// assert!(text.contains(r#"jobs_done_total{queue="mail"} 2"#));
/// assert!(text.contains(r#"stanchion_build_info{service="jobs",version="1.2.0"} 1"#));
/// ```
#[derive(Clone)]
pub struct Metrics {
    recorder: &'static PrometheusRecorder,
    handle: PrometheusHandle,
    sources: Arc<Mutex<Sources>>,
}

#[derive(Default)]
struct Sources {
    config: Option<ConfigService>,
    redactor: Option<Redactor>,
    build_info: Option<(String, String)>,
    process: Option<metrics_process::Collector>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Metrics")
            .field("config", &sources.config.is_some())
            .field("redactor", &sources.redactor.is_some())
            .field("build_info", &sources.build_info)
            .finish_non_exhaustive()
    }
}

/// Why [`Metrics::install_global`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// Another recorder (not installed by Stanchion) is already the global one.
    #[error("another metrics recorder is already installed as the global recorder")]
    OtherRecorderInstalled,
    /// The histogram buckets were refused by the exporter.
    #[error("the Prometheus recorder could not be built: {0}")]
    Build(String),
}

static GLOBAL: OnceLock<Metrics> = OnceLock::new();
static GLOBAL_INIT: Mutex<()> = Mutex::new(());

impl Metrics {
    /// Installs the recorder as the process's global one and returns its handle; later calls
    /// return the same handle (sharing its sources: a `with_*` on one is seen by all).
    ///
    /// A background thread folds histogram samples into buckets every 5 s, so memory stays
    /// bounded when nothing scrapes `/metrics`.
    ///
    /// # Errors
    ///
    /// [`MetricsError::OtherRecorderInstalled`] when a recorder from elsewhere is already
    /// global.
    pub fn install_global() -> Result<Metrics, MetricsError> {
        if let Some(metrics) = GLOBAL.get() {
            return Ok(metrics.clone());
        }
        let _init = GLOBAL_INIT.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(metrics) = GLOBAL.get() {
            return Ok(metrics.clone());
        }
        let metrics = Metrics::new(build_recorder()?);
        metrics::set_global_recorder(metrics.recorder)
            .map_err(|_| MetricsError::OtherRecorderInstalled)?;
        let upkeep = metrics.handle.clone();
        // The global recorder lives as long as the process, and so does this thread.
        let _detached = std::thread::Builder::new()
            .name("stanchion-metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        Ok(GLOBAL.get_or_init(|| metrics).clone())
    }

    /// A fresh recorder set as this thread's default (it takes precedence over the global one
    /// on this thread), for a service that runs on its own current-thread runtime, or a test.
    ///
    /// Each call makes a new recorder that lives until the process exits (its metrics
    /// registry is small); call it once per service thread. Samples recorded on other
    /// threads do not reach it (use [`within`](Self::within) there). Histogram samples are
    /// folded into buckets when rendering.
    #[must_use]
    pub fn for_current_thread() -> Metrics {
        // `build_recorder` only fails on invalid buckets, and ours are constant and valid.
        let recorder =
            build_recorder().unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let metrics = Metrics::new(recorder);
        // Forgetting the guard keeps the recorder installed (the guard would only restore
        // the previous one); the recorder is leaked, so the borrow is `'static`.
        std::mem::forget(metrics::set_default_local_recorder(metrics.recorder));
        metrics
    }

    fn new(recorder: PrometheusRecorder) -> Metrics {
        // Leaked so both the facade (global or thread default) and this handle can borrow it
        // for the process's life; one recorder per service.
        let recorder: &'static PrometheusRecorder = Box::leak(Box::new(recorder));
        LEAKED_RECORDERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(recorder_address(recorder));
        let process = metrics_process::Collector::default();
        metrics::with_local_recorder(recorder, || process.describe());
        Metrics {
            recorder,
            handle: recorder.handle(),
            sources: Arc::new(Mutex::new(Sources {
                process: Some(process),
                ..Sources::default()
            })),
        }
    }

    /// Replays `config`'s state ([`ConfigService::record_metrics`]) on every render: the tool
    /// gauges, the reasons by kind, the refresh state and failures, the rollout mode.
    #[must_use]
    pub fn with_config(self, config: impl Into<ConfigService>) -> Self {
        self.sources().config = Some(config.into());
        self
    }

    /// Renders `redactor`'s per-rule counts ([`Redactor::counts`]) as
    /// `stanchion_log_redactions_total{rule}`: pass the redactor the service's log writer uses.
    #[must_use]
    pub fn with_redactor(self, redactor: Redactor) -> Self {
        self.sources().redactor = Some(redactor);
        self
    }

    /// Renders `stanchion_build_info{service, version} 1`.
    #[must_use]
    pub fn with_build_info(self, service: impl Into<String>, version: impl Into<String>) -> Self {
        self.sources().build_info = Some((service.into(), version.into()));
        self
    }

    /// Runs `f` with this recorder as the current one, whatever the thread: metrics recorded
    /// (or described) inside reach this recorder.
    pub fn within<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(self.recorder, f)
    }

    /// The metrics in the Prometheus text format (version 0.0.4), after collecting the
    /// sources given with the `with_*` methods and the process metrics.
    #[must_use]
    pub fn render(&self) -> String {
        self.collect();
        self.handle.render()
    }

    /// The exporter's handle (to render into a writer, run upkeep, ...). Its `render` does not
    /// collect the sources; [`render`](Self::render) does.
    #[must_use]
    pub fn handle(&self) -> &PrometheusHandle {
        &self.handle
    }

    fn sources(&self) -> std::sync::MutexGuard<'_, Sources> {
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn collect(&self) {
        let sources = self.sources();
        self.within(|| {
            if let Some(process) = &sources.process {
                process.collect();
            }
            if let Some(config) = &sources.config {
                config.record_metrics();
            }
            if let Some((service, version)) = &sources.build_info {
                metrics::gauge!(BUILD_INFO, "service" => service.clone(), "version" => version.clone())
                    .set(1.0);
            }
            if let Some(redactor) = &sources.redactor {
                // Every rule, zeros included, so `increase()` sees the first redaction.
                for count in redactor.counts() {
                    metrics::counter!(LOG_REDACTIONS_TOTAL, "rule" => count.rule)
                        .absolute(count.count);
                }
            }
        });
    }
}

/// The addresses of the recorders [`Metrics`] made. They are leaked, never freed, so an
/// address in this list names the same recorder for the rest of the process: a handle cached
/// under it (the access log's histogram handles) can never record into another
/// recorder that later took the same memory, as a recorder on a caller's stack could.
static LEAKED_RECORDERS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

thread_local! {
    /// The addresses of this thread's recorders already found in [`LEAKED_RECORDERS`] (so a
    /// request takes no lock).
    static KNOWN_RECORDERS: std::cell::RefCell<Vec<usize>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn recorder_address(recorder: &dyn Recorder) -> usize {
    std::ptr::from_ref(recorder).cast::<()>().addr()
}

/// The identity of the recorder the `metrics` macros would use now, when it is one of
/// [`Metrics`]' (global or this thread's default): a key under which handles registered with
/// it may be cached. `None` for any other recorder (none installed, a test's own): callers
/// then register through the macros as usual.
pub(crate) fn cacheable_recorder() -> Option<usize> {
    let address = metrics::with_recorder(recorder_address);
    KNOWN_RECORDERS.with(|known| {
        if known.borrow().contains(&address) {
            return Some(address);
        }
        let leaked = LEAKED_RECORDERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&address);
        if leaked {
            known.borrow_mut().push(address);
        }
        leaked.then_some(address)
    })
}

fn build_recorder() -> Result<PrometheusRecorder, MetricsError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets(&DURATION_BUCKETS)
        .map_err(|error| MetricsError::Build(error.to_string()))?
        .build_recorder();
    describe(&recorder);
    Ok(recorder)
}

/// The HELP text of every family Stanchion's crates record.
fn describe(recorder: &PrometheusRecorder) {
    let help = SharedString::const_str;
    recorder.describe_histogram(
        HTTP_REQUEST_DURATION_SECONDS.into(),
        Some(Unit::Seconds),
        help("Duration of HTTP server requests, to the response head."),
    );
    let counters: [(&'static str, &'static str); 6] = [
        (
            rollout_names::DECISIONS_TOTAL,
            "Decisions of rollout checks by flag and outcome (allow, deny, would_allow, would_deny).",
        ),
        (
            rollout_names::SWITCHES_TOTAL,
            "Rollout mode switches that took effect, by flag, from and to.",
        ),
        (
            stanchion_errors::VIOLATIONS_METRIC,
            "Error responses the guard found without an envelope, by mode and status.",
        ),
        (
            LOG_REDACTIONS_TOTAL,
            "Values redacted from this service's own log lines, by rule.",
        ),
        (
            config_names::LOAD_ERRORS_TOTAL,
            "Configuration loads that failed as a whole, by kind.",
        ),
        (
            config_names::REFRESH_FAILURES_TOTAL,
            "Configuration refreshes that failed (the last good snapshot stays).",
        ),
    ];
    for (name, text) in counters {
        recorder.describe_counter(name.into(), None, help(text));
    }
    let gauges: [(&'static str, &'static str); 6] = [
        (
            config_names::TOOL_ENABLED,
            "Whether a tool is enabled (1) or disabled (0), by environment.",
        ),
        (
            config_names::TOOL_REASONS,
            "Reasons that disable tools in the current configuration, by kind.",
        ),
        (
            config_names::LAST_REFRESH_SUCCESSFUL,
            "Whether the last configuration load or refresh succeeded (1) or not (0).",
        ),
        (
            config_names::SECRET_LOCAL_FALLBACKS,
            "Secrets read from plain .env files in shadow secrets mode, by tool.",
        ),
        (
            config_names::ROLLOUT_MODE,
            "The active rollout mode of each flag: 1 for the mode in effect, 0 for the others.",
        ),
        (BUILD_INFO, "Build information: always 1."),
    ];
    for (name, text) in gauges {
        recorder.describe_gauge(name.into(), None, help(text));
    }
    recorder.describe_histogram(
        config_names::REFRESH_DURATION_SECONDS.into(),
        Some(Unit::Seconds),
        help("Duration of configuration refreshes, failed ones included."),
    );
}

/// The method label: standard methods by name, anything else `_OTHER` (OpenTelemetry's
/// convention), so a client cannot mint label values.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&custom), "_OTHER");
        assert_eq!(method_label(&Method::GET), "GET");
    }
}
