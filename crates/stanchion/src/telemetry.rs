//! Telemetry initialisation: JSON (or pretty) log lines, redacted, filtered.

use std::{fmt, str::FromStr, sync::Arc};

use stanchion_redact::{Redactor, subscriber::RedactingMakeWriter};

use crate::panic::install_panic_hook;
use stanchion_request_id::RequestId;
use tracing_core::{Event, Field, Subscriber, field::Visit};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter,
        format::{JsonFields, Writer},
        time::{FormatTime, SystemTime},
    },
    layer::SubscriberExt as _,
    registry::LookupSpan,
};

/// The filter used when none is given and `RUST_LOG` is unset or empty.
pub const DEFAULT_FILTER: &str = "info";

/// The keys every JSON line owns; an event field with one of these names is written as
/// `field.<name>`.
pub const RESERVED_KEYS: [&str; 6] = [
    "timestamp",
    "level",
    "target",
    "service",
    "requestId",
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
#[error("the log format must be `json` or `pretty`")]
pub struct ParseLogFormatError;

/// Why the telemetry could not be built or installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The filter is not valid `RUST_LOG` syntax.
    #[error("invalid log filter {filter:?}: {reason}")]
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// Why it was refused.
        reason: String,
    },
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
    filter: String,
}

impl Telemetry {
    /// JSON lines for `service`, a fresh [`Redactor`], the filter from `RUST_LOG` (else
    /// [`DEFAULT_FILTER`]).
    pub fn new(service: impl Into<String>) -> Self {
        let filter = std::env::var("RUST_LOG")
            .ok()
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
        Self {
            service: Arc::from(service.into()),
            redactor: Redactor::new(),
            format: LogFormat::Json,
            filter,
        }
    }

    /// [`Telemetry::new`], with the format from `LOG_FORMAT` (`json` or `pretty`; anything
    /// else keeps JSON).
    pub fn from_env(service: impl Into<String>) -> Self {
        let telemetry = Self::new(service);
        match std::env::var("LOG_FORMAT").ok().map(|v| v.parse()) {
            Some(Ok(format)) => telemetry.with_format(format),
            _ => telemetry,
        }
    }

    /// Redacts with `redactor`: register the configuration service's secrets with it (its
    /// `SecretSink`), so their values never reach a line.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Sets the line format.
    pub fn with_format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets the filter, in `RUST_LOG` syntax (`info,stanchion::access=warn`).
    pub fn with_filter(mut self, filter: &str) -> Self {
        filter.clone_into(&mut self.filter);
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

    /// Builds a subscriber writing to `make_writer`, to install with
    /// `tracing::subscriber::set_default` (a service's own thread, a test) or
    /// `set_global_default`.
    ///
    /// Lenient: directives of an invalid filter are skipped. Use [`Telemetry::try_build`] to
    /// refuse one.
    pub fn build<W>(
        self,
        make_writer: W,
    ) -> impl Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let filter = EnvFilter::builder().parse_lossy(&self.filter);
        self.assemble(filter, make_writer)
    }

    /// [`Telemetry::build`], refusing an invalid filter.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::InvalidFilter`], with the parser's reason.
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
        let filter = self.parse_filter()?;
        Ok(self.assemble(filter, make_writer))
    }

    /// Installs the subscriber as the global default, writing to stdout, and the panic hook
    /// ([`install_panic_hook`]): from then on a panic on any thread is one redacted ERROR line
    /// (target `stanchion::panic`) in this format, and Rust's default hook no longer prints
    /// the raw message and backtrace to stderr.
    ///
    /// # Errors
    ///
    /// An invalid filter, or a global subscriber already installed (the panic hook is then
    /// left as it was).
    pub fn init(self) -> Result<(), TelemetryError> {
        let redactor = self.redactor.clone();
        let subscriber = self.try_build(std::io::stdout)?;
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|_| TelemetryError::AlreadyInstalled)?;
        install_panic_hook(redactor);
        Ok(())
    }

    fn parse_filter(&self) -> Result<EnvFilter, TelemetryError> {
        EnvFilter::builder()
            .parse(&self.filter)
            .map_err(|error| TelemetryError::InvalidFilter {
                filter: self.filter.clone(),
                reason: error.to_string(),
            })
    }

    fn assemble<W>(
        self,
        filter: EnvFilter,
        make_writer: W,
    ) -> impl Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let (json, pretty) = match self.format {
            LogFormat::Json => (
                Some(
                    tracing_subscriber::fmt::layer()
                        .event_format(JsonLine {
                            service: self.service,
                        })
                        .fmt_fields(JsonFields::new())
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
        tracing_subscriber::registry()
            .with(filter)
            .with(json)
            .with(pretty)
    }
}

/// The JSON line formatter: fixed keys first, then the event's fields at the top level.
#[derive(Debug)]
struct JsonLine {
    service: Arc<str>,
}

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        // PERF: one buffer per event, sized for a typical access-log line.
        let mut line = String::with_capacity(320);
        line.push_str("{\"timestamp\":\"");
        SystemTime.format_time(&mut Writer::new(&mut line))?;
        line.push_str("\",\"level\":\"");
        line.push_str(metadata.level().as_str());
        line.push_str("\",\"target\":");
        push_json_str(&mut line, metadata.target());
        line.push_str(",\"service\":");
        push_json_str(&mut line, &self.service);
        let request_id = RequestId::current()
            .map(|id| id.as_str().to_owned())
            .or_else(|| span_request_id(ctx));
        if let Some(id) = request_id {
            line.push_str(",\"requestId\":");
            push_json_str(&mut line, &id);
        }
        let mut message = MessageVisitor { line: &mut line };
        event.record(&mut message);
        let mut fields = FieldsVisitor { line: &mut line };
        event.record(&mut fields);
        line.push_str("}\n");
        writer.write_str(&line)
    }
}

/// The `request_id` field of the nearest span that has one (for events outside the
/// request-ID layer's task-local, such as in a span a service opened itself).
fn span_request_id<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    ctx.event_scope()?.find_map(|span| {
        let extensions = span.extensions();
        let fields = extensions.get::<FormattedFields<N>>()?;
        if !fields.contains("\"request_id\"") {
            return None;
        }
        let value: serde_json::Value = serde_json::from_str(fields).ok()?;
        match value.get("request_id")? {
            serde_json::Value::String(id) => Some(id.clone()),
            _ => None,
        }
    })
}

/// Writes `"message":"..."` (the first pass over the fields).
struct MessageVisitor<'a> {
    line: &'a mut String,
}

impl Visit for MessageVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.line.push_str(",\"message\":");
            push_json_str(self.line, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.line.push_str(",\"message\":");
            push_json_str(self.line, &format!("{value:?}"));
        }
    }
}

/// Writes every other field as a top-level member (the second pass).
struct FieldsVisitor<'a> {
    line: &'a mut String,
}

impl FieldsVisitor<'_> {
    /// Writes `,"name":` and returns false for the message (written by the first pass).
    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        if name == "message" {
            return false;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.line.push(',');
        if RESERVED_KEYS.contains(&name) {
            push_json_str(self.line, &format!("field.{name}"));
        } else {
            push_json_str(self.line, name);
        }
        self.line.push(':');
        true
    }
}

impl Visit for FieldsVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.key(field) {
            if value.is_finite() {
                use fmt::Write as _;
                let _ = write!(self.line, "{value}");
            } else {
                push_json_str(self.line, &value.to_string());
            }
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.key(field) {
            self.line.push_str(&value.to_string());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.key(field) {
            self.line.push_str(&value.to_string());
        }
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        if self.key(field) {
            self.line.push_str(&value.to_string());
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        if self.key(field) {
            self.line.push_str(&value.to_string());
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.key(field) {
            self.line.push_str(if value { "true" } else { "false" });
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.key(field) {
            push_json_str(self.line, value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.key(field) {
            let mut text = value.to_string();
            let mut source = value.source();
            while let Some(error) = source {
                text.push_str(": ");
                text.push_str(&error.to_string());
                source = error.source();
            }
            push_json_str(self.line, &text);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.key(field) {
            push_json_str(self.line, &format!("{value:?}"));
        }
    }
}

/// Appends `value` as a JSON string literal.
fn push_json_str(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    for (index, byte) in value.bytes().enumerate() {
        let escape: Option<&str> = match byte {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x00..=0x1f | 0x7f => None,
            _ => continue,
        };
        out.push_str(&value[start..index]);
        match escape {
            Some(escape) => out.push_str(escape),
            None => {
                use fmt::Write as _;
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        start = index + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}e\u{7f}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001e\u007fé""#);
        let parsed: String = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}e\u{7f}é");
    }

    #[test]
    fn log_format_names() {
        assert_eq!("pretty".parse(), Ok(LogFormat::Pretty));
        assert_eq!(" JSON ".parse(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
