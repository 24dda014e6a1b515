//! Telemetry initialisation: JSON (or pretty) log lines, redacted, filtered.

use std::{str::FromStr, sync::Arc};

use stanchion_redact::{Redactor, subscriber::RedactingMakeWriter};

use crate::json_line::{JsonLine, SpanFields};
use crate::panic::install_panic_hook;
use tracing_core::Subscriber;
use tracing_subscriber::{
    EnvFilter, Layer, fmt::MakeWriter, layer::SubscriberExt as _, registry::LookupSpan,
};

#[cfg(feature = "otel")]
use crate::otel::{Otel, OtelConfig, OtelError};

/// The variable [`Telemetry::new`] reads the filter from.
pub const RUST_LOG: &str = "RUST_LOG";

/// The variable [`Telemetry::from_env`] reads the format from (`json` or `pretty`).
pub const LOG_FORMAT: &str = "LOG_FORMAT";

/// The filter used when none is given and `RUST_LOG` is unset or empty.
pub const DEFAULT_FILTER: &str = "info";

/// The keys every JSON line owns; an event field with one of these names is written as
/// `field.<name>`.
pub const RESERVED_KEYS: [&str; 8] = [
    "timestamp",
    "level",
    "target",
    "service",
    "requestId",
    "traceId",
    "spanId",
    "message",
];

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// One JSON object per line (the default; for machines).
    #[default]
    Json,
    /// tracing-subscriber's human-readable text, one event per line, without colours (for a
    /// terminal). Redacted too.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = ParseLogFormatError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            _ => Err(ParseLogFormatError),
        }
    }
}

/// A log format name was not `json` or `pretty`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the log format must be `json` or `pretty` (or `text`)")]
pub struct ParseLogFormatError;

/// Why the telemetry could not be built or installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The filter is not valid `RUST_LOG` syntax.
    #[error(
        "invalid {} {filter:?}: {reason} (expected `RUST_LOG` syntax: comma-separated \
         `level` or `target=level` directives, levels `trace`, `debug`, `info`, `warn`, \
         `error`, `off`)",
        if *from_env { "RUST_LOG" } else { "log filter" }
    )]
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// Why it was refused.
        reason: String,
        /// Whether it came from `RUST_LOG` (else from `with_filter`).
        from_env: bool,
    },
    /// `LOG_FORMAT` is not a format name.
    #[error("invalid LOG_FORMAT {value:?}: expected `json` or `pretty` (or `text`)")]
    InvalidFormat {
        /// The value as given.
        value: String,
    },
    /// The OpenTelemetry configuration was refused or could not be built.
    #[cfg(feature = "otel")]
    #[error(transparent)]
    Otel(#[from] OtelError),
    /// A global subscriber was already installed.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Builds the service's tracing subscriber: JSON lines (or pretty text) with `service` and
/// `requestId`, redaction always on, `RUST_LOG`-style filtering.
///
/// ```
/// use stanchion::Telemetry;
///
/// let logs = stanchion_test_support::CapturedLogs::new();
/// let subscriber = Telemetry::new("backend").with_filter("info").build(logs.clone());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(user = "ana", token = "s3cr3t-value-123", "signed in");
/// });
/// let line = &logs.json_lines()[0];
/// assert_eq!(line["service"], "backend");
/// assert_eq!(line["message"], "signed in");
/// assert_eq!(line["user"], "ana");
/// assert_eq!(line["token"], "[REDACTED:secret-field]");
/// assert!(line.get("requestId").is_none()); // outside any request
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Telemetry {
    service: Arc<str>,
    redactor: Redactor,
    format: LogFormat,
    /// `LOG_FORMAT`'s value when it named no format: refused by the strict builders.
    invalid_format: Option<String>,
    filter: String,
    filter_from_env: bool,
    #[cfg(feature = "otel")]
    otel: OtelSetup,
}

/// The OpenTelemetry part of a [`Telemetry`]: a configuration still to build (its error kept
/// for the strict builders), or a pipeline built by the caller.
#[cfg(feature = "otel")]
#[derive(Clone, Debug)]
enum OtelSetup {
    Config(Result<OtelConfig, OtelError>),
    Built(Option<Otel>),
}

impl Telemetry {
    /// JSON lines for `service`, a fresh [`Redactor`], the filter from `RUST_LOG` (else
    /// [`DEFAULT_FILTER`]).
    ///
    /// OpenTelemetry (feature `otel`) stays off until [`Telemetry::with_otel`] or
    /// [`Telemetry::from_env`].
    pub fn new(service: impl Into<String>) -> Self {
        let from_env = std::env::var(RUST_LOG)
            .ok()
            .filter(|value| !value.trim().is_empty());
        let filter_from_env = from_env.is_some();
        Self {
            service: Arc::from(service.into()),
            redactor: Redactor::new(),
            format: LogFormat::Json,
            invalid_format: None,
            filter: from_env.unwrap_or_else(|| DEFAULT_FILTER.to_owned()),
            filter_from_env,
            #[cfg(feature = "otel")]
            otel: OtelSetup::Built(None),
        }
    }

    /// [`Telemetry::new`], with the format from `LOG_FORMAT` (`json` or `pretty`) and, with
    /// the feature `otel`, OpenTelemetry from the `OTEL_*` variables
    /// ([`OtelConfig::from_env`](crate::otel::OtelConfig::from_env)).
    ///
    /// A `LOG_FORMAT` that names no format is refused by [`init`](Self::init),
    /// [`try_build`](Self::try_build) and [`layer`](Self::layer), as an invalid `RUST_LOG` is
    /// (the lenient [`build`](Self::build) keeps JSON); so is an invalid `OTEL_*` value.
    pub fn from_env(service: impl Into<String>) -> Self {
        let mut telemetry = Self::new(service);
        if let Some(value) = std::env::var(LOG_FORMAT)
            .ok()
            .filter(|value| !value.trim().is_empty())
        {
            match value.parse() {
                Ok(format) => telemetry.format = format,
                Err(ParseLogFormatError) => telemetry.invalid_format = Some(value),
            }
        }
        #[cfg(feature = "otel")]
        {
            telemetry.otel = OtelSetup::Config(OtelConfig::from_env());
        }
        telemetry
    }

    /// Traces with this OpenTelemetry pipeline (feature `otel`): its `tracing` layer joins the
    /// subscriber and every JSON line inside a span carries `traceId` and `spanId`. Keep a
    /// clone to [`force_flush`](Otel::force_flush) or [`shutdown`](Otel::shutdown) it.
    #[cfg(feature = "otel")]
    pub fn with_otel(mut self, otel: Otel) -> Self {
        self.otel = OtelSetup::Built(Some(otel));
        self
    }

    /// Builds OpenTelemetry from `config` for this service when the subscriber is built
    /// (feature `otel`); `OtelConfig::disabled()` turns it off.
    #[cfg(feature = "otel")]
    pub fn with_otel_config(mut self, config: OtelConfig) -> Self {
        self.otel = OtelSetup::Config(Ok(config));
        self
    }

    /// Redacts with `redactor`: register the configuration service's secrets with it (its
    /// `SecretSink`), so their values never reach a line.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Sets the line format (and forgets an invalid `LOG_FORMAT`).
    pub fn with_format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self.invalid_format = None;
        self
    }

    /// Sets the filter, in `RUST_LOG` syntax (`info,stanchion::access=warn`).
    pub fn with_filter(mut self, filter: &str) -> Self {
        filter.clone_into(&mut self.filter);
        self.filter_from_env = false;
        self
    }

    /// The redactor every line goes through (clones share registered secrets).
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The service name written in every line.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The filter.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The line format.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// The telemetry as a [`Layer`] for a registry of your own, writing to stdout: the JSON
    /// (or pretty) lines with `service`, `requestId` (and `traceId`/`spanId` with OpenTelemetry),
    /// redacted, filtered by this telemetry's filter as a per-layer filter (so other layers,
    /// tracing-opentelemetry's, Sentry's or tokio-console's, see what their own filters let
    /// through), and, with the feature `otel`, the OpenTelemetry layer of
    /// [`with_otel`](Self::with_otel) / [`from_env`](Self::from_env).
    ///
    /// [`init`](Self::init) is this layer on a registry, installed globally, plus the panic
    /// hook; a service that composes its own registry calls
    /// [`install_panic_hook`](crate::install_panic_hook) itself.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt as _;
    ///
    /// let logs = stanchion_test_support::CapturedLogs::new();
    /// let telemetry = stanchion::Telemetry::new("backend")
    ///     .with_filter("warn")
    ///     .layer_with_writer(logs.clone())?;
    /// // Any other layer with its own filtering (tracing-opentelemetry, Sentry, tokio-console):
    /// // here tracing-subscriber's text format into a second capture.
    /// let other_logs = stanchion_test_support::CapturedLogs::new();
    /// let other = tracing_subscriber::fmt::layer().with_writer(other_logs.clone());
    ///
    /// let subscriber = tracing_subscriber::registry().with(telemetry).with(other);
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info!("below the telemetry's filter");
    ///     tracing::warn!(password = "hunter2", "signed in");
    /// });
    /// let lines = logs.json_lines();
    /// assert_eq!(lines.len(), 1); // the telemetry's filter applies to its own lines only
    /// assert_eq!(lines[0]["service"], "backend");
    /// assert_eq!(lines[0]["message"], "signed in");
    /// assert_eq!(lines[0]["password"], "[REDACTED:secret-field]");
    /// assert!(other_logs.contents().contains("below the telemetry's filter"));
    /// # Ok::<_, stanchion::TelemetryError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_build`](Self::try_build).
    pub fn layer<S>(self) -> Result<impl Layer<S> + 'static, TelemetryError>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        self.layer_with_writer(std::io::stdout)
    }

    /// [`Telemetry::layer`], writing to `make_writer`.
    ///
    /// # Errors
    ///
    /// As [`try_build`](Self::try_build).
    pub fn layer_with_writer<S, W>(
        self,
        make_writer: W,
    ) -> Result<impl Layer<S> + 'static, TelemetryError>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let (filter, otel) = self.check()?;
        Ok(self.assemble(filter, otel, make_writer))
    }

    /// Builds a subscriber writing to `make_writer`, to install with
    /// `tracing::subscriber::set_default` (a service's own thread, a test) or
    /// `set_global_default`.
    ///
    /// Lenient: directives of an invalid filter are skipped, an invalid `LOG_FORMAT` keeps
    /// JSON, an invalid OpenTelemetry configuration leaves OpenTelemetry off. Use
    /// [`Telemetry::try_build`] to refuse them.
    pub fn build<W>(
        self,
        make_writer: W,
    ) -> impl Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let filter = EnvFilter::builder().parse_lossy(&self.filter);
        #[cfg(feature = "otel")]
        let otel = self.otel_pipeline().ok().flatten();
        #[cfg(not(feature = "otel"))]
        let otel = NoOtel;
        let layer = self.assemble(filter, otel, make_writer);
        tracing_subscriber::registry().with(layer)
    }

    /// [`Telemetry::build`], refusing an invalid filter, `LOG_FORMAT` or OpenTelemetry
    /// configuration.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::InvalidFilter`], with the parser's reason;
    /// [`TelemetryError::InvalidFormat`]; `TelemetryError::Otel` (feature `otel`).
    pub fn try_build<W>(
        self,
        make_writer: W,
    ) -> Result<
        impl Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static,
        TelemetryError,
    >
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let layer = self.layer_with_writer(make_writer)?;
        Ok(tracing_subscriber::registry().with(layer))
    }

    /// Installs the subscriber as the global default, writing to stdout, and the panic hook
    /// ([`install_panic_hook`]): from then on a panic on any thread is one redacted ERROR line
    /// (target `stanchion::panic`) in this format, and Rust's default hook no longer prints
    /// the raw message and backtrace to stderr. With OpenTelemetry (feature `otel`), the
    /// pipeline is kept for `Otel::global()`, which `main` shuts down on the way out.
    ///
    /// # Errors
    ///
    /// An invalid filter, `LOG_FORMAT` or OpenTelemetry configuration, or a global subscriber
    /// already installed (the panic hook is then left as it was).
    pub fn init(self) -> Result<(), TelemetryError> {
        let redactor = self.redactor.clone();
        let (filter, otel) = self.check()?;
        #[cfg(feature = "otel")]
        let global = otel.clone();
        let layer = self.assemble(filter, otel, std::io::stdout);
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .map_err(|_| TelemetryError::AlreadyInstalled)?;
        #[cfg(feature = "otel")]
        if let Some(otel) = global {
            otel.set_global();
        }
        install_panic_hook(redactor);
        Ok(())
    }

    /// The strict checks: the filter parsed, the format named, OpenTelemetry built.
    fn check(&self) -> Result<(EnvFilter, MaybeOtel), TelemetryError> {
        let filter = self.parse_filter()?;
        if let Some(value) = &self.invalid_format {
            return Err(TelemetryError::InvalidFormat {
                value: value.clone(),
            });
        }
        #[cfg(feature = "otel")]
        let otel = self.otel_pipeline()?;
        #[cfg(not(feature = "otel"))]
        let otel = NoOtel;
        Ok((filter, otel))
    }

    #[cfg(feature = "otel")]
    fn otel_pipeline(&self) -> Result<Option<Otel>, OtelError> {
        match &self.otel {
            OtelSetup::Built(otel) => Ok(otel.clone()),
            OtelSetup::Config(Ok(config)) => config.build(&self.service),
            OtelSetup::Config(Err(error)) => Err(error.clone()),
        }
    }

    fn parse_filter(&self) -> Result<EnvFilter, TelemetryError> {
        EnvFilter::builder()
            .parse(&self.filter)
            .map_err(|error| TelemetryError::InvalidFilter {
                filter: self.filter.clone(),
                reason: error.to_string(),
                from_env: self.filter_from_env,
            })
    }

    fn assemble<S, W>(
        self,
        filter: EnvFilter,
        otel: MaybeOtel,
        make_writer: W,
    ) -> impl Layer<S> + 'static
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        #[cfg(feature = "otel")]
        let (trace_ids, otel_layer) = match &otel {
            Some(otel) => (true, Some(otel.layer::<S>())),
            None => (false, None),
        };
        #[cfg(not(feature = "otel"))]
        let (trace_ids, otel_layer) = {
            let NoOtel = otel;
            (false, None::<tracing_subscriber::layer::Identity>)
        };
        let (json, pretty) = match self.format {
            LogFormat::Json => (
                Some(
                    tracing_subscriber::fmt::layer()
                        .fmt_fields(SpanFields)
                        .event_format(JsonLine {
                            service: self.service,
                            trace_ids,
                        })
                        .with_writer(RedactingMakeWriter::json(self.redactor, make_writer)),
                ),
                None,
            ),
            LogFormat::Pretty => (
                None,
                Some(stanchion_redact::subscriber::text_layer(
                    self.redactor,
                    make_writer,
                )),
            ),
        };
        // One filter for the lines and the spans: a span filtered out of the logs (hyper's
        // DEBUG spans at `info`) is not exported either. As a per-layer filter, it leaves the
        // other layers of a composed registry alone.
        Layer::and_then(Layer::and_then(otel_layer, json), pretty).with_filter(filter)
    }
}

/// The OpenTelemetry pipeline a telemetry adds, if any.
#[cfg(feature = "otel")]
type MaybeOtel = Option<Otel>;
#[cfg(not(feature = "otel"))]
type MaybeOtel = NoOtel;

/// Without the feature `otel` there is no pipeline to carry.
#[cfg(not(feature = "otel"))]
#[derive(Clone, Copy)]
struct NoOtel;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_log_format_is_refused_by_the_strict_builders() {
        let mut telemetry = Telemetry::new("svc").with_filter("info");
        telemetry.invalid_format = Some("xml".to_owned());
        let error = telemetry
            .clone()
            .try_build(std::io::sink)
            .err()
            .expect("refused");
        assert_eq!(
            error.to_string(),
            r#"invalid LOG_FORMAT "xml": expected `json` or `pretty` (or `text`)"#
        );
        assert!(
            telemetry
                .clone()
                .layer::<tracing_subscriber::Registry>()
                .is_err()
        );
        // The lenient builder keeps JSON; naming a format clears the refusal.
        let _ = telemetry.clone().build(std::io::sink);
        assert!(
            telemetry
                .with_format(LogFormat::Json)
                .try_build(std::io::sink)
                .is_ok()
        );
    }

    #[test]
    fn an_invalid_filter_names_its_variable_and_the_accepted_levels() {
        let mut telemetry = Telemetry::new("svc").with_filter("info,=loud");
        let message = telemetry
            .clone()
            .try_build(std::io::sink)
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.starts_with("invalid log filter \"info,=loud\""),
            "{message}"
        );
        assert!(
            message.contains("`trace`, `debug`, `info`, `warn`, `error`, `off`"),
            "{message}"
        );
        telemetry.filter_from_env = true;
        let message = telemetry
            .try_build(std::io::sink)
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.starts_with("invalid RUST_LOG \"info,=loud\""),
            "{message}"
        );
    }

    #[test]
    fn log_format_names() {
        assert_eq!("pretty".parse(), Ok(LogFormat::Pretty));
        assert_eq!(" JSON ".parse(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
