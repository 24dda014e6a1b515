//! OpenTelemetry traces (feature `otel`): configuration from the standard `OTEL_*` variables,
//! the tracer provider with its batch exporter, and the `tracing` bridge layer.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, OnceLock},
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response, Uri};
use opentelemetry::{KeyValue, trace::TracerProvider as _};
use opentelemetry_http::{HttpClient, HttpError, hyper::HyperClient};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::{
    Resource,
    trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider},
};
use tracing_core::Subscriber;
use tracing_subscriber::registry::LookupSpan;

/// `true` turns OpenTelemetry off: no spans, no export, no `traceId` in lines.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// The service name (the resource's `service.name`); else the name given to `Telemetry`.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// Extra resource attributes, `key=value,key=value`.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `otlp` or `none`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// The collector's base URL; traces go to `<endpoint>/v1/traces`.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The full URL traces are posted to (wins over [`OTEL_EXPORTER_OTLP_ENDPOINT`]).
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `http/protobuf`, the only protocol built in.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// The traces protocol (wins over [`OTEL_EXPORTER_OTLP_PROTOCOL`]).
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// Headers sent with every export, `key=value,key=value` (a collector's token: never logged).
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Headers for traces (added to, and winning over, [`OTEL_EXPORTER_OTLP_HEADERS`]).
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Milliseconds one export may take, connection included.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// The traces export timeout (wins over [`OTEL_EXPORTER_OTLP_TIMEOUT`]).
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";

/// The export timeout when none is given (the specification's 10 s).
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The collector address used when `OTEL_TRACES_EXPORTER=otlp` names no endpoint (the
/// specification's default for OTLP/HTTP).
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";

/// Why the OpenTelemetry configuration was refused or an operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OtelError {
    /// A variable has a value outside its accepted set.
    #[error("invalid {variable}{}: {expected}", value.as_ref().map(|v| format!(" {v:?}")).unwrap_or_default())]
    InvalidVariable {
        /// The variable (`OTEL_SDK_DISABLED` ...).
        variable: &'static str,
        /// The value as given; `None` for variables that may hold secrets (headers).
        value: Option<String>,
        /// What is accepted.
        expected: &'static str,
    },
    /// The exporter could not be built.
    #[error("the OTLP exporter could not be built: {0}")]
    Exporter(String),
    /// Flushing or shutting down the exporter failed (a collector unreachable, a timeout).
    #[error("exporting spans failed: {0}")]
    Export(String),
}

/// The OpenTelemetry configuration: whether spans are made, where they are exported, as which
/// service. Read from the `OTEL_*` variables ([`OtelConfig::from_env`]) or set in code.
///
/// Without an exporter (no endpoint, or `OTEL_TRACES_EXPORTER=none`) spans are still made:
/// an inbound `traceparent` is honoured, logged as `traceId` and passed to the next hop.
///
/// ```
/// use stanchion::otel::OtelConfig;
///
/// let config = OtelConfig::from_vars([
///     ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
///     ("OTEL_SERVICE_NAME", "chat-backend"),
/// ])?;
/// assert_eq!(config.traces_endpoint(), Some("http://collector:4318/v1/traces"));
///
/// let error = OtelConfig::from_vars([("OTEL_SDK_DISABLED", "yes")]).unwrap_err();
/// assert_eq!(error.to_string(), r#"invalid OTEL_SDK_DISABLED "yes": `true` or `false`"#);
/// # Ok::<_, stanchion::otel::OtelError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct OtelConfig {
    disabled: bool,
    traces_endpoint: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    service_name: Option<String>,
    resource_attributes: Vec<(String, String)>,
}

impl fmt::Debug for OtelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are credentials: only their names.
        let header_names: Vec<_> = self.headers.iter().map(|(name, _)| name).collect();
        f.debug_struct("OtelConfig")
            .field("disabled", &self.disabled)
            .field("traces_endpoint", &self.traces_endpoint)
            .field("header_names", &header_names)
            .field("timeout", &self.timeout)
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .finish()
    }
}

impl Default for OtelConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl OtelConfig {
    /// Enabled, no exporter, the service name given to `Telemetry`.
    pub fn new() -> Self {
        Self {
            disabled: false,
            traces_endpoint: None,
            headers: Vec::new(),
            timeout: DEFAULT_EXPORT_TIMEOUT,
            service_name: None,
            resource_attributes: Vec::new(),
        }
    }

    /// OpenTelemetry off (the request ID stays the only correlation key).
    pub fn disabled() -> Self {
        Self {
            disabled: true,
            ..Self::new()
        }
    }

    /// From the process environment (see [`OtelConfig::from_vars`] for the variables).
    ///
    /// # Errors
    ///
    /// As [`OtelConfig::from_vars`].
    pub fn from_env() -> Result<Self, OtelError> {
        Self::from_vars(std::env::vars())
    }

    /// From `vars` instead of the process environment: `OTEL_SDK_DISABLED`,
    /// `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_EXPORTER` (`otlp`, `none`),
    /// `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `..._PROTOCOL` (`http/protobuf`),
    /// `..._HEADERS`, `..._TIMEOUT` (milliseconds). Empty values count as unset. The batch
    /// processor's `OTEL_BSP_*` are read from the process environment by the SDK itself.
    ///
    /// # Errors
    ///
    /// [`OtelError::InvalidVariable`] naming the variable and the accepted values: a word
    /// outside its set, a URL that is not `http://`, a timeout that is not a number of
    /// milliseconds, a header or attribute list that is not `key=value` pairs.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, OtelError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(key, _)| key.as_ref().starts_with("OTEL_"))
            .filter(|(_, value)| !value.as_ref().trim().is_empty())
            .map(|(key, value)| (key.as_ref().to_owned(), value.as_ref().trim().to_owned()))
            .collect();
        let get = |name: &str| vars.get(name).map(String::as_str);
        let mut config = Self::new();

        if let Some(value) = get(OTEL_SDK_DISABLED) {
            config.disabled = match value.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid(OTEL_SDK_DISABLED, value, "`true` or `false`")),
            };
        }
        config.service_name = get(OTEL_SERVICE_NAME).map(str::to_owned);
        if let Some(value) = get(OTEL_RESOURCE_ATTRIBUTES) {
            config.resource_attributes = pairs(value)
                .ok_or_else(|| invalid(OTEL_RESOURCE_ATTRIBUTES, value, "`key=value,...`"))?;
        }
        for variable in [
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
            OTEL_EXPORTER_OTLP_PROTOCOL,
        ] {
            if let Some(value) = get(variable) {
                if value != "http/protobuf" {
                    return Err(invalid(
                        variable,
                        value,
                        "`http/protobuf` (grpc and http/json are not built in)",
                    ));
                }
                break;
            }
        }
        let exporter = match get(OTEL_TRACES_EXPORTER) {
            None => None,
            Some(value) => match value.to_ascii_lowercase().as_str() {
                "otlp" => Some(true),
                "none" => Some(false),
                _ => return Err(invalid(OTEL_TRACES_EXPORTER, value, "`otlp` or `none`")),
            },
        };
        let endpoint = match (
            get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
            get(OTEL_EXPORTER_OTLP_ENDPOINT),
        ) {
            (Some(url), _) => Some(check_url(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, url)?),
            (None, Some(base)) => Some(traces_url(&check_url(OTEL_EXPORTER_OTLP_ENDPOINT, base)?)),
            (None, None) => None,
        };
        // An endpoint alone means export (what an operator who sets one expects); an explicit
        // `otlp` without one means the specification's default collector address.
        config.traces_endpoint = match exporter {
            Some(false) => None,
            Some(true) => Some(endpoint.unwrap_or_else(|| traces_url(DEFAULT_ENDPOINT))),
            None => endpoint,
        };
        for variable in [
            OTEL_EXPORTER_OTLP_HEADERS,
            OTEL_EXPORTER_OTLP_TRACES_HEADERS,
        ] {
            if let Some(value) = get(variable) {
                let headers = pairs(value)
                    .filter(|headers| {
                        headers
                            .iter()
                            .all(|(name, value)| valid_header(name, value))
                    })
                    .ok_or(OtelError::InvalidVariable {
                        variable,
                        value: None,
                        expected: "`name=value,...` with valid HTTP header names and values",
                    })?;
                for (name, value) in headers {
                    config
                        .headers
                        .retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
                    config.headers.push((name, value));
                }
            }
        }
        for variable in [
            OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
            OTEL_EXPORTER_OTLP_TIMEOUT,
        ] {
            if let Some(value) = get(variable) {
                let millis: u64 = value
                    .parse()
                    .ok()
                    .filter(|millis| *millis > 0)
                    .ok_or_else(|| invalid(variable, value, "a positive number of milliseconds"))?;
                config.timeout = Duration::from_millis(millis);
                break;
            }
        }
        Ok(config)
    }

    /// Exports to this URL (the full traces URL, such as `http://collector:4318/v1/traces`).
    ///
    /// # Errors
    ///
    /// When it is not an absolute `http://` URL.
    pub fn with_traces_endpoint(mut self, url: &str) -> Result<Self, OtelError> {
        self.traces_endpoint = Some(check_url(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, url)?);
        Ok(self)
    }

    /// No exporter: spans and trace context only.
    pub fn without_exporter(mut self) -> Self {
        self.traces_endpoint = None;
        self
    }

    /// The service name (`service.name`), instead of the name given to `Telemetry`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// How long one export may take, connection included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether OpenTelemetry is off.
    #[must_use]
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Where spans are exported, if anywhere.
    #[must_use]
    pub fn traces_endpoint(&self) -> Option<&str> {
        self.traces_endpoint.as_deref()
    }

    /// The export timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Builds the tracer provider for `service` (unless [`OTEL_SERVICE_NAME`] named one);
    /// `None` when disabled.
    ///
    /// The exporter sends batches from the SDK's background thread (a bounded queue of 2048
    /// spans by default, `OTEL_BSP_*`; spans beyond it are dropped, never waited for) through
    /// hyper on a one-thread runtime of its own, each export bounded by the timeout: a slow
    /// or unreachable collector costs requests nothing.
    ///
    /// # Errors
    ///
    /// [`OtelError::Exporter`] when the exporter or its runtime cannot be built.
    pub fn build(&self, service: &str) -> Result<Option<Otel>, OtelError> {
        if self.disabled {
            return Ok(None);
        }
        let service_name = self.service_name.as_deref().unwrap_or(service).to_owned();
        let resource = Resource::builder_empty()
            .with_attributes(
                self.resource_attributes
                    .iter()
                    .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
            )
            .with_service_name(service_name.clone())
            .build();
        let mut builder = SdkTracerProvider::builder().with_resource(resource);
        if let Some(endpoint) = &self.traces_endpoint {
            let client = BackgroundClient::new(self.timeout)?;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(client)
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(endpoint.clone())
                .with_timeout(self.timeout)
                .with_headers(self.headers.iter().cloned().collect())
                .build()
                .map_err(|error| OtelError::Exporter(error.to_string()))?;
            let processor = BatchSpanProcessor::builder(exporter)
                .with_batch_config(BatchConfigBuilder::default().build())
                .build();
            builder = builder.with_span_processor(processor);
        }
        let provider = builder.build();
        Ok(Some(Otel {
            tracer: provider.tracer("stanchion"),
            provider,
            service_name: Arc::from(service_name),
            exporting: self.traces_endpoint.is_some(),
        }))
    }
}

/// A built OpenTelemetry pipeline: the tracer provider (and its exporter). Cheap to clone;
/// clones share it. Give it to [`Telemetry::with_otel`](crate::Telemetry::with_otel), or add
/// [`Otel::layer`] to a registry of your own.
#[derive(Clone, Debug)]
pub struct Otel {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    service_name: Arc<str>,
    exporting: bool,
}

/// The pipeline [`Telemetry::init`](crate::Telemetry::init) installed, for [`Otel::global`].
static GLOBAL: OnceLock<Otel> = OnceLock::new();

impl Otel {
    /// The `tracing` layer that turns spans into OpenTelemetry spans (span fields become
    /// attributes: the request span's `request_id` is the `request_id` attribute). Entering a
    /// span makes its context current, which is what the JSON lines' `traceId`/`spanId` and
    /// [`PropagateTraceContextLayer`](crate::PropagateTraceContextLayer) read.
    pub fn layer<S>(&self) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.tracer.clone())
            // Source locations and thread names on every span cost more than they tell here.
            .with_location(false)
            .with_threads(false)
    }

    /// The `service.name` spans are exported as.
    #[must_use]
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// Whether spans are exported (an endpoint is configured).
    #[must_use]
    pub fn is_exporting(&self) -> bool {
        self.exporting
    }

    /// The SDK's tracer provider (for instrumentation that talks to OpenTelemetry directly).
    #[must_use]
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Exports the spans ended so far and waits for the export (bounded by the timeout).
    ///
    /// # Errors
    ///
    /// [`OtelError::Export`] when the collector did not take them.
    pub fn force_flush(&self) -> Result<(), OtelError> {
        self.provider
            .force_flush()
            .map_err(|error| OtelError::Export(error.to_string()))
    }

    /// Flushes and stops the exporter; spans ended later are dropped. Call it on the way out
    /// of `main`, after the server stopped.
    ///
    /// # Errors
    ///
    /// [`OtelError::Export`] when the last export failed.
    pub fn shutdown(&self) -> Result<(), OtelError> {
        self.provider
            .shutdown()
            .map_err(|error| OtelError::Export(error.to_string()))
    }

    /// The pipeline [`Telemetry::init`](crate::Telemetry::init) installed, if it installed
    /// one: `main` calls `shutdown` on it before exiting, so the last batch is not lost.
    #[must_use]
    pub fn global() -> Option<Self> {
        GLOBAL.get().cloned()
    }

    pub(crate) fn set_global(&self) {
        let _ = GLOBAL.set(self.clone());
    }
}

/// opentelemetry-http's hyper client, run on a one-worker tokio runtime of its own: the batch
/// processor exports from a plain thread (`futures_executor::block_on`), where hyper finds no
/// reactor, and a service's runtime may be gone (or busy) when a batch leaves.
struct BackgroundClient {
    inner: HyperClient,
    runtime: Option<tokio::runtime::Runtime>,
}

impl BackgroundClient {
    fn new(timeout: Duration) -> Result<Self, OtelError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stanchion-otlp")
            .enable_all()
            .build()
            .map_err(|error| OtelError::Exporter(format!("its runtime: {error}")))?;
        // Built inside the runtime: hyper-util's client looks for its executor's handle.
        let inner = {
            let _entered = runtime.enter();
            HyperClient::with_default_connector(timeout, None)
        };
        Ok(Self {
            inner,
            runtime: Some(runtime),
        })
    }
}

impl fmt::Debug for BackgroundClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundClient").finish_non_exhaustive()
    }
}

impl Drop for BackgroundClient {
    fn drop(&mut self) {
        // The exporter may be dropped on any thread, even inside another runtime, where
        // dropping a runtime normally (waiting for its tasks) would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for BackgroundClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| HttpError::from("the exporter's runtime has stopped"))?;
        let inner = self.inner.clone();
        runtime
            .spawn(async move { inner.send_bytes(request).await })
            .await
            .map_err(|error| HttpError::from(error.to_string()))?
    }
}

fn invalid(variable: &'static str, value: &str, expected: &'static str) -> OtelError {
    OtelError::InvalidVariable {
        variable,
        value: Some(value.to_owned()),
        expected,
    }
}

/// An absolute `http://` URL, as given (trailing slashes trimmed).
fn check_url(variable: &'static str, url: &str) -> Result<String, OtelError> {
    let parsed: Option<Uri> = url.parse().ok();
    match parsed {
        Some(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => Err(invalid(
            variable,
            url,
            "an absolute http:// URL such as http://127.0.0.1:4318 (https is not built in: send \
             to a collector on the host or in the pod)",
        )),
    }
}

/// `<base>/v1/traces`, the OTLP/HTTP path for traces.
fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

/// `key=value,key=value` (the W3C Baggage-like list the `OTEL_*` lists use), trimmed; `None`
/// when an entry has no `=` or an empty key.
fn pairs(list: &str) -> Option<Vec<(String, String)>> {
    list.split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let (key, value) = entry.split_once('=')?;
            let key = key.trim();
            (!key.is_empty()).then(|| (key.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

fn valid_header(name: &str, value: &str) -> bool {
    http::HeaderName::try_from(name).is_ok() && http::HeaderValue::try_from(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_set_means_spans_without_export() {
        let config = OtelConfig::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert!(!config.is_disabled());
        assert_eq!(config.traces_endpoint(), None);
        assert_eq!(config.timeout(), DEFAULT_EXPORT_TIMEOUT);
    }

    #[test]
    fn endpoints_and_exporter_words() {
        let base = [(OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318/")];
        let config = OtelConfig::from_vars(base).unwrap();
        assert_eq!(
            config.traces_endpoint(),
            Some("http://collector:4318/v1/traces")
        );
        let signal = OtelConfig::from_vars([
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
            (
                OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                "http://other:9999/custom",
            ),
        ])
        .unwrap();
        assert_eq!(signal.traces_endpoint(), Some("http://other:9999/custom"));
        let none = OtelConfig::from_vars([
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318"),
            (OTEL_TRACES_EXPORTER, "none"),
        ])
        .unwrap();
        assert_eq!(none.traces_endpoint(), None);
        let default = OtelConfig::from_vars([(OTEL_TRACES_EXPORTER, "otlp")]).unwrap();
        assert_eq!(
            default.traces_endpoint(),
            Some("http://localhost:4318/v1/traces")
        );
        let disabled = OtelConfig::from_vars([(OTEL_SDK_DISABLED, "TRUE")]).unwrap();
        assert!(disabled.is_disabled());
        assert!(disabled.build("svc").unwrap().is_none());
    }

    #[test]
    fn refusals_name_the_variable_and_the_accepted_values() {
        for (variable, value, expected) in [
            (OTEL_SDK_DISABLED, "1", "`true` or `false`"),
            (OTEL_TRACES_EXPORTER, "jaeger", "`otlp` or `none`"),
            (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc", "`http/protobuf`"),
            (OTEL_EXPORTER_OTLP_ENDPOINT, "https://collector", "http://"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "10s", "milliseconds"),
            (OTEL_RESOURCE_ATTRIBUTES, "novalue", "key=value"),
        ] {
            let error = OtelConfig::from_vars([(variable, value)]).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(variable), "{message}");
            assert!(message.contains(value), "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn header_values_are_never_shown() {
        let error =
            OtelConfig::from_vars([(OTEL_EXPORTER_OTLP_HEADERS, "authorization")]).unwrap_err();
        assert!(error.to_string().contains(OTEL_EXPORTER_OTLP_HEADERS));
        let config =
            OtelConfig::from_vars([(OTEL_EXPORTER_OTLP_HEADERS, "x-token=s3cr3t-value")]).unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
