//! The tracing-subscriber integration (feature `tracing`): redaction after formatting, before
//! any byte reaches the writer.
//!
//! # Design
//!
//! tracing-subscriber's JSON formatter ignores custom field formatters for event fields, and a
//! layer cannot change an event before its sibling layers see it. So redaction sits where
//! every formatter's output passes: the writer. [`RedactingMakeWriter`] wraps any
//! [`MakeWriter`]; each `write` carries one whole formatted event (that is how the fmt layer
//! writes: it formats into a buffer, then writes it once), and the writer:
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

use tracing_core::{Metadata, Subscriber};
use tracing_subscriber::{
    fmt::{
        self, MakeWriter,
        format::{DefaultFields, Format, Full, Json, JsonFields},
    },
    registry::LookupSpan,
};

use crate::Redactor;

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
        // Formatters write UTF-8; lossy decoding keeps a stray byte from disabling redaction.
        let text = String::from_utf8_lossy(buf);
        match self.format {
            LineFormat::Json => {
                for line in text.split_inclusive('\n') {
                    let (body, newline) = match line.strip_suffix('\n') {
                        Some(body) => (body, "\n"),
                        None => (line, ""),
                    };
                    let redacted = self.redactor.redact_json_line(body);
                    self.inner.write_all(redacted.as_bytes())?;
                    self.inner.write_all(newline.as_bytes())?;
                }
            }
            LineFormat::Text => {
                let (body, newline) = match text.strip_suffix('\n') {
                    Some(body) => (body, "\n"),
                    None => (text.as_ref(), ""),
                };
                let redacted = self.redactor.redact_log_line(body);
                self.inner.write_all(redacted.as_bytes())?;
                self.inner.write_all(newline.as_bytes())?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
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

/// A text fmt layer whose output is redacted by `redactor`, with ANSI colours off (their
/// escape sequences would be neutralized as control characters).
pub fn text_layer<S, W>(
    redactor: Redactor,
    writer: W,
) -> fmt::Layer<S, DefaultFields, Format<Full>, RedactingMakeWriter<W>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fmt::layer()
        .with_ansi(false)
        .with_writer(RedactingMakeWriter::text(redactor, writer))
}
