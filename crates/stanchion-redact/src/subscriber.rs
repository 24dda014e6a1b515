//! The tracing-subscriber integration (feature `tracing`): redaction after formatting, before
//! any byte reaches the writer.
//!
//! # Design
//!
//! tracing-subscriber's JSON formatter ignores custom field formatters for event fields, and a
//! layer cannot change an event before its sibling layers see it. So redaction sits where
//! every formatter's output passes: the writer. [`RedactingMakeWriter`] wraps any
//! [`MakeWriter`]; each `write` carries one whole formatted event (that is how the fmt layer
//! writes: it formats into a buffer, then writes it once), and the writer redacts it and hands
//! it, newline included, to the inner writer in one `write_all` (so lines from concurrent
//! threads never interleave on stdout, a pipe or a shared file):
//!
//! - **JSON lines** ([`LineFormat::Json`]): runs [`Redactor::redact_json_line`] per line: one
//!   prefilter scan for a clean line, else a validating scan that decodes each string, redacts
//!   it, and re-encodes it, and that replaces the value of every member whose key names a
//!   secret (`"password"`, `"api_key"`, ... in `fields`, `span` and `spans`). Output stays
//!   valid JSON with the members in their order.
//! - **Text lines** ([`LineFormat::Text`]): runs [`Redactor::redact_log_line`] on the event
//!   without its final newline: the engine's `key=value` rules see `field=value` and
//!   `span{field="value"}`, and CR, LF and other control characters become visible escapes,
//!   so one event is always one line.
//!
//! This covers the message, event fields (by name and by value), span fields, values added
//! later with `Span::record`, and anything a third-party formatter prints.
//!
//! The text formatter gets one more piece, [`RedactingFields`]: it formats event and span
//! fields like tracing-subscriber's default, except that a field whose name says secret
//! (`password`, `api_key`, ...) is written as a marker before any text exists. The line pass
//! alone could only redact such a value up to its first space when it was recorded with `%`.
//! (JSON needs no such piece: members are redacted whole by key.)
//!
//! ```
//! use stanchion_redact::{Redactor, subscriber};
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! let logs = stanchion_test_support::CapturedLogs::new();
//! let redactor = Redactor::new();
//! let subscriber = tracing_subscriber::registry()
//!     .with(subscriber::json_layer(redactor, logs.clone()));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(password = "hunter22", user = "ana", "login");
//! });
//! let line = &logs.json_lines()[0];
//! assert_eq!(line["fields"]["password"], "[REDACTED:secret-field]");
//! assert_eq!(line["fields"]["user"], "ana");
//! ```

use std::io;

use tracing_core::{Field, Metadata, Subscriber, field::Visit};
use tracing_subscriber::{
    field::RecordFields,
    fmt::{
        self, FormatFields, MakeWriter,
        format::{Format, Full, Json, JsonFields, Writer},
    },
    registry::LookupSpan,
};

use crate::{Redactor, is_sensitive_key};

/// What the wrapped formatter writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineFormat {
    /// One JSON document per line (tracing-subscriber's `.json()` formatter).
    Json,
    /// Human-readable text, one event per write (the default `Full`, `Compact` formatters).
    Text,
}

/// A [`MakeWriter`] that redacts every formatted event before the inner writer sees it.
#[derive(Clone, Debug)]
pub struct RedactingMakeWriter<M> {
    redactor: Redactor,
    inner: M,
    format: LineFormat,
}

impl<M> RedactingMakeWriter<M> {
    /// Wraps a writer that receives JSON lines.
    pub fn json(redactor: Redactor, inner: M) -> Self {
        Self {
            redactor,
            inner,
            format: LineFormat::Json,
        }
    }

    /// Wraps a writer that receives text lines.
    pub fn text(redactor: Redactor, inner: M) -> Self {
        Self {
            redactor,
            inner,
            format: LineFormat::Text,
        }
    }

    /// The redactor (for example to register secrets or read counters).
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<'a, M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            redactor: &self.redactor,
            inner: self.inner.make_writer(),
            format: self.format,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        RedactingWriter {
            redactor: &self.redactor,
            inner: self.inner.make_writer_for(meta),
            format: self.format,
        }
    }
}

/// The writer of one event; see [`RedactingMakeWriter`].
#[derive(Debug)]
pub struct RedactingWriter<'a, W> {
    redactor: &'a Redactor,
    inner: W,
    format: LineFormat,
}

impl<W: io::Write> io::Write for RedactingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // PERF: formatters write UTF-8, so `from_utf8` (a validating scan, no copy) decodes
        // every line; `from_utf8_lossy` runs its chunk iterator even on valid input (~2,000
        // instructions per access line, measured with `benches/benches/instructions.rs`).
        // A JSON write is one line; when it needs no redaction (the usual case,
        // `Cow::Borrowed`) it goes to the inner writer as it came, without a copy into a
        // second buffer.
        let text = match std::str::from_utf8(buf) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            // Lossy decoding keeps a stray byte from disabling redaction.
            Err(_) => String::from_utf8_lossy(buf),
        };
        if self.format == LineFormat::Json
            && let Some(body) = text.strip_suffix('\n')
            && !body.contains('\n')
        {
            match self.redactor.redact_json_line(body) {
                std::borrow::Cow::Borrowed(_) if matches!(text, std::borrow::Cow::Borrowed(_)) => {
                    self.inner.write_all(buf)?;
                }
                redacted => {
                    let mut out = String::with_capacity(redacted.len() + 1);
                    out.push_str(&redacted);
                    out.push('\n');
                    self.inner.write_all(out.as_bytes())?;
                }
            }
            return Ok(buf.len());
        }
        // One `write_all` of the whole event, newline included: `Stdout` takes its lock per
        // call and a shared file or pipe is written per call, so a line written in two calls
        // lets another thread's line in between (two events on one line, then an empty one).
        let mut out = String::with_capacity(text.len() + 16);
        match self.format {
            LineFormat::Json => {
                for line in text.split_inclusive('\n') {
                    let (body, newline) = match line.strip_suffix('\n') {
                        Some(body) => (body, "\n"),
                        None => (line, ""),
                    };
                    out.push_str(&self.redactor.redact_json_line(body));
                    out.push_str(newline);
                }
            }
            LineFormat::Text => {
                let (body, newline) = match text.strip_suffix('\n') {
                    Some(body) => (body, "\n"),
                    None => (text.as_ref(), ""),
                };
                out.push_str(&self.redactor.redact_log_line(body));
                out.push_str(newline);
            }
        }
        self.inner.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Formats event and span fields as `name=value` pairs (tracing-subscriber's default text
/// shape), writing a marker instead of the value of every field whose name says secret
/// ([`is_sensitive_key`]).
#[derive(Clone, Debug)]
pub struct RedactingFields {
    redactor: Redactor,
}

impl RedactingFields {
    /// Field formatting that redacts by name with `redactor`'s method and counters.
    pub fn new(redactor: Redactor) -> Self {
        Self { redactor }
    }
}

impl<'writer> FormatFields<'writer> for RedactingFields {
    fn format_fields<R: RecordFields>(
        &self,
        writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut visitor = FieldVisitor {
            redactor: &self.redactor,
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct FieldVisitor<'a, 'writer> {
    redactor: &'a Redactor,
    writer: Writer<'writer>,
    first: bool,
    result: std::fmt::Result,
}

impl Visit for FieldVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        let name = field.name().strip_prefix("r#").unwrap_or(field.name());
        self.result = if name == "message" {
            write!(self.writer, "{separator}{value:?}")
        } else if is_sensitive_key(name) {
            let mut marker = String::new();
            self.redactor
                .render_field(&mut marker, &format!("{value:?}"));
            write!(self.writer, "{separator}{name}={marker}")
        } else {
            write!(self.writer, "{separator}{name}={value:?}")
        };
    }
}

/// A JSON fmt layer (one object per line) whose output is redacted by `redactor`.
///
/// The layer is returned unfinished, so callers keep configuring it
/// (`.flatten_event(true)`, `.with_current_span(false)`, ...).
pub fn json_layer<S, W>(
    redactor: Redactor,
    writer: W,
) -> fmt::Layer<S, JsonFields, Format<Json>, RedactingMakeWriter<W>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fmt::layer()
        .json()
        .with_writer(RedactingMakeWriter::json(redactor, writer))
}

/// A text fmt layer whose output is redacted by `redactor`: fields by name through
/// [`RedactingFields`], then the whole line through [`RedactingMakeWriter`]. ANSI colours are
/// off (their escape sequences would be neutralized as control characters).
pub fn text_layer<S, W>(
    redactor: Redactor,
    writer: W,
) -> fmt::Layer<S, RedactingFields, Format<Full>, RedactingMakeWriter<W>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fmt::layer()
        .with_ansi(false)
        .fmt_fields(RedactingFields::new(redactor.clone()))
        .with_writer(RedactingMakeWriter::text(redactor, writer))
}
