//! Metrics through the `metrics` facade, rendered by the Prometheus exporter's recorder.

use std::sync::{Mutex, OnceLock, PoisonError};

use http::Method;
use metrics::{Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use stanchion_config::{ReasonKind, Snapshot};

/// Requests served: a counter labelled `route`, `method`, `status_class`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_server_requests_total";
/// Time to the response head, in seconds: a histogram labelled `route`, `method`,
/// `status_class`, with the buckets of [`DURATION_BUCKETS`].
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_server_request_duration_seconds";
/// Error responses by taxonomy code: a counter labelled `code`.
pub const HTTP_ERRORS_TOTAL: &str = "http_server_errors_total";
/// Whether each tool is enabled (1) or not (0): a gauge labelled `tool`.
pub const TOOLS_ENABLED: &str = "stanchion_tools_enabled";
/// Configuration problems found by loads: a counter labelled `kind` (a closed set, the
/// configuration crate's `ReasonKind`).
pub const CONFIG_ERRORS_TOTAL: &str = "stanchion_config_errors_total";

/// The histogram buckets, in seconds. 2.5 is a boundary so "the share of requests within
/// 2.5 s" is exact (`le="2.5"` over the count), not interpolated.
pub const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often the global recorder's histogram samples are folded into their buckets when
/// nothing scrapes (rendering does it too).
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// A Prometheus recorder for the `metrics` facade, and the handle that renders it.
///
/// Every histogram gets [`DURATION_BUCKETS`] (the exporter would render summaries otherwise,
/// which cannot be aggregated across instances).
///
/// ```
/// let metrics = stanchion::Metrics::for_current_thread();
/// metrics::counter!("jobs_done_total", "queue" => "mail").increment(2);
/// assert!(metrics.render().contains(r#"jobs_done_total{queue="mail"} 2"#));
/// ```
#[derive(Clone, Debug)]
pub struct Metrics {
    handle: PrometheusHandle,
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
    /// return the same handle.
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
        let recorder = build_recorder()?;
        let metrics = Metrics {
            handle: recorder.handle(),
        };
        metrics::set_global_recorder(recorder).map_err(|_| MetricsError::OtherRecorderInstalled)?;
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
    /// threads do not reach it. Histogram samples are folded into buckets when rendering.
    #[must_use]
    pub fn for_current_thread() -> Metrics {
        // `build_recorder` only fails on invalid buckets, and ours are constant and valid.
        let recorder = match build_recorder() {
            Ok(recorder) => recorder,
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let metrics = Metrics {
            handle: recorder.handle(),
        };
        // The thread-local guard borrows the recorder; leaking one recorder per call gives it
        // the `'static` lifetime the "until the thread ends" contract needs, and forgetting
        // the guard keeps it installed (the guard would only restore the previous one).
        let recorder: &'static PrometheusRecorder = Box::leak(Box::new(recorder));
        std::mem::forget(metrics::set_default_local_recorder(recorder));
        metrics
    }

    /// The metrics in the Prometheus text format (version 0.0.4).
    #[must_use]
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// The exporter's handle (to render into a writer, run upkeep, ...).
    #[must_use]
    pub fn handle(&self) -> &PrometheusHandle {
        &self.handle
    }
}

fn build_recorder() -> Result<PrometheusRecorder, MetricsError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets(&DURATION_BUCKETS)
        .map_err(|error| MetricsError::Build(error.to_string()))?
        .build_recorder();
    describe(&recorder);
    Ok(recorder)
}

fn describe(recorder: &PrometheusRecorder) {
    let counters: [(&'static str, &'static str); 3] = [
        (HTTP_REQUESTS_TOTAL, "HTTP requests served."),
        (
            HTTP_ERRORS_TOTAL,
            "HTTP error responses, by error code of the taxonomy.",
        ),
        (
            CONFIG_ERRORS_TOTAL,
            "Configuration problems found by loads, by reason kind.",
        ),
    ];
    for (name, help) in counters {
        recorder.describe_counter(name.into(), None, SharedString::const_str(help));
    }
    recorder.describe_histogram(
        HTTP_REQUEST_DURATION_SECONDS.into(),
        Some(Unit::Seconds),
        SharedString::const_str("Time from the request to the response head."),
    );
    recorder.describe_gauge(
        TOOLS_ENABLED.into(),
        None,
        SharedString::const_str("Whether a tool is enabled (1) or disabled (0)."),
    );
}

/// Records a loaded configuration snapshot: `stanchion_tools_enabled{tool}` (0 or 1) for every
/// tool, and `stanchion_config_errors_total{kind}` increased by the number of reasons of each
/// kind that disable a tool.
///
/// Call it once per load (at start and after each refresh that produced a new snapshot): the
/// counter counts problems seen by loads, so calling it twice for one snapshot counts twice.
pub fn record_tools(snapshot: &Snapshot) {
    for tool in snapshot.tools() {
        metrics::gauge!(TOOLS_ENABLED, "tool" => tool.slug().to_owned())
            .set(if tool.is_enabled() { 1.0 } else { 0.0 });
    }
    for kind in ReasonKind::ALL {
        let count = snapshot
            .tools()
            .iter()
            .flat_map(|tool| tool.reasons())
            .filter(|reason| reason.kind() == kind)
            .count();
        // Registering the zero series too lets `rate()` see the first problem.
        metrics::counter!(CONFIG_ERRORS_TOTAL, "kind" => kind.as_str()).increment(count as u64);
    }
}

/// The `method` label: standard methods by name, anything else `_OTHER` (OpenTelemetry's
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

/// `1xx` .. `5xx`.
pub(crate) fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
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

    #[test]
    fn status_classes() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(101), "1xx");
    }
}
