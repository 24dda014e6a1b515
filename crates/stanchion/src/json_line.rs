//! The JSON line: the event formatter [`JsonLine`] and the span-field formatter [`SpanFields`]
//! that [`Telemetry`](crate::Telemetry) installs.

use std::{fmt, sync::Arc};

use stanchion_request_id::RequestId;
use tracing_core::{Event, Field, Subscriber, field::Visit, span::Record};
use tracing_subscriber::{
    field::RecordFields,
    fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, format::Writer},
    registry::LookupSpan,
};

use crate::telemetry::RESERVED_KEYS;

/// The JSON line formatter: fixed keys first, then the event's fields at the top level.
#[derive(Debug)]
pub(crate) struct JsonLine {
    pub(crate) service: Arc<str>,
    /// Whether an OpenTelemetry layer makes spans (then the current trace context is logged).
    pub(crate) trace_ids: bool,
}

impl<S> FormatEvent<S, SpanFields> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, SpanFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        // PERF: one buffer per event, sized for a typical access-log line.
        let mut line = String::with_capacity(320);
        line.push_str("{\"timestamp\":\"");
        push_timestamp(&mut line, std::time::SystemTime::now());
        line.push_str("\",\"level\":\"");
        line.push_str(metadata.level().as_str());
        line.push_str("\",\"target\":");
        push_json_str(&mut line, metadata.target());
        line.push_str(",\"service\":");
        push_json_str(&mut line, &self.service);
        // PERF: the task-local's ID is a cheap clone (shared bytes); no `String` per line.
        if let Some(id) = RequestId::current() {
            line.push_str(",\"requestId\":");
            push_json_str(&mut line, id.as_str());
        } else {
            span_request_id(ctx, |id| {
                line.push_str(",\"requestId\":");
                push_json_str(&mut line, id);
            });
        }
        if self.trace_ids {
            push_trace_ids(&mut line);
        }
        let message_at = line.len();
        event.record(&mut FieldsVisitor {
            line: &mut line,
            message_at,
        });
        line.push_str("}\n");
        writer.write_str(&line)
    }
}

/// Writes `time` in RFC 3339 with microseconds, UTC (`2026-12-01T20:35:12.123456Z`, the format
/// tracing-subscriber's `SystemTime` timer writes).
///
/// PERF: the date and time to the second are formatted by humantime once a second per thread
/// and kept; a line adds the microseconds from a stack buffer. Formatting the whole timestamp
/// through `fmt` for each line cost ~500 instructions (tracing-subscriber's timer ~2,400),
/// measured by benches/benches/instructions.rs.
fn push_timestamp(line: &mut String, time: std::time::SystemTime) {
    use std::cell::RefCell;
    // This thread's last second: its Unix time and its `YYYY-MM-DDTHH:MM:SS.`.
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let Ok(since_epoch) = time.duration_since(std::time::UNIX_EPOCH) else {
        // A clock before 1970: humantime's own text (the cache keys on seconds after it).
        use fmt::Write as _;
        let _ = write!(line, "{}", humantime::format_rfc3339_micros(time));
        return;
    };
    let seconds = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != seconds {
            // `YYYY-MM-DDTHH:MM:SSZ`: all but the `Z` is the date and time to the second.
            text.clear();
            use fmt::Write as _;
            let _ = write!(
                text,
                "{}",
                humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds)
                )
            );
            text.pop();
            text.push('.');
            *cached = seconds;
        }
        line.push_str(text);
    });
    // Six digits with their leading zeros: a million added, its leading `1` dropped.
    let mut digits = itoa::Buffer::new();
    let micros = digits.format(1_000_000 + since_epoch.subsec_micros());
    line.push_str(&micros[1..]);
    line.push('Z');
}

/// Writes `"traceId"` and `"spanId"` of the current OpenTelemetry context: the span entered
/// now (the bridge makes an entered span's context current), or, outside any span, a caller's
/// remote context attached by the `Stack` (its trace only: its span is the caller's).
#[cfg(feature = "otel")]
fn push_trace_ids(line: &mut String) {
    use opentelemetry::trace::TraceContextExt as _;
    use std::fmt::Write as _;
    let context = opentelemetry::Context::current();
    let span = context.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return;
    }
    let _ = write!(line, ",\"traceId\":\"{}\"", span_context.trace_id());
    if !span_context.is_remote() {
        let _ = write!(line, ",\"spanId\":\"{}\"", span_context.span_id());
    }
}

#[cfg(not(feature = "otel"))]
fn push_trace_ids(_line: &mut String) {}

/// Calls `found` with the `request_id` field of the nearest span that has one (for events
/// outside the request-ID layer's task-local, such as in a span a service opened itself).
fn span_request_id<S>(ctx: &FmtContext<'_, S, SpanFields>, found: impl FnOnce(&str))
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(scope) = ctx.event_scope() else {
        return;
    };
    for span in scope {
        let extensions = span.extensions();
        if let Some(id) = extensions
            .get::<FormattedFields<SpanFields>>()
            .and_then(|fields| fields.strip_prefix(SpanFields::MARK))
        {
            found(id);
            return;
        }
    }
}

/// The span-field formatter: keeps a span's `request_id` (as text), the one span field a
/// JSON line reads.
///
/// PERF: tracing-subscriber's `JsonFields` serialized every span's fields into a `serde_json`
/// map when the span was created (~3,400 instructions for the request span, on every request,
/// measured by benches/benches/instructions.rs), and the line read them back by parsing that
/// JSON. Span fields are never written to a line, so only the ID is kept.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SpanFields;

impl SpanFields {
    /// Marks a kept ID, so that an empty `request_id` is still one.
    const MARK: &str = "=";
}

impl<'writer> FormatFields<'writer> for SpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut result = Ok(());
        fields.record(&mut SpanRequestId {
            keep: |id: &str| {
                result = writer
                    .write_str(Self::MARK)
                    .and_then(|()| writer.write_str(id));
            },
        });
        result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        // A `request_id` recorded later replaces the one kept (the last value is the span's).
        fields.record(&mut SpanRequestId {
            keep: |id: &str| {
                current.fields.clear();
                current.fields.push_str(Self::MARK);
                current.fields.push_str(id);
            },
        });
        Ok(())
    }
}

/// Hands a string (or `Debug`-formatted) `request_id` among a span's fields to `keep`, without
/// a copy of its own.
struct SpanRequestId<F> {
    keep: F,
}

impl<F: FnMut(&str)> Visit for SpanRequestId<F> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "request_id" {
            (self.keep)(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "request_id" {
            (self.keep)(&format!("{value:?}"));
        }
    }
}

/// Writes the event's fields as top-level members, in one pass: the message right after the
/// fixed keys (at `message_at`), every other field after it in the event's order.
struct FieldsVisitor<'a> {
    line: &'a mut String,
    message_at: usize,
}

impl FieldsVisitor<'_> {
    /// Writes the message at its place. The macros put it first, so it is normally appended;
    /// a message recorded after other fields is inserted before them.
    fn message(&mut self, value: &str) {
        if self.line.len() == self.message_at {
            self.line.push_str(",\"message\":");
            push_json_str(self.line, value);
        } else {
            let mut member = String::from(",\"message\":");
            push_json_str(&mut member, value);
            self.line.insert_str(self.message_at, &member);
        }
    }

    /// Writes `,"name":` and returns true; returns false for the message, which
    /// [`Self::message`] writes.
    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        if name == "message" {
            return false;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.line.push(',');
        if is_reserved(name) {
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
                // PERF: ryu's shortest digits, not `Display` through `fmt` (~600 instructions
                // for the access line's `latencyMs`). The same number; written with an
                // exponent only where `Display` would spell out more than 16 zeros.
                self.line.push_str(ryu::Buffer::new().format_finite(value));
            } else {
                push_json_str(self.line, &value.to_string());
            }
        } else {
            // A message that is not text is written as its `Debug`, like any other.
            self.message(&format!("{value:?}"));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.key(field) {
            // PERF: digits from a stack buffer, not a `String` per field.
            self.line.push_str(itoa::Buffer::new().format(value));
        } else {
            // A message that is not text is written as its `Debug`, like any other.
            self.message(&format!("{value:?}"));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.key(field) {
            // PERF: digits from a stack buffer, not a `String` per field.
            self.line.push_str(itoa::Buffer::new().format(value));
        } else {
            // A message that is not text is written as its `Debug`, like any other.
            self.message(&format!("{value:?}"));
        }
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        if self.key(field) {
            // PERF: digits from a stack buffer, not a `String` per field.
            self.line.push_str(itoa::Buffer::new().format(value));
        } else {
            // A message that is not text is written as its `Debug`, like any other.
            self.message(&format!("{value:?}"));
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        if self.key(field) {
            // PERF: digits from a stack buffer, not a `String` per field.
            self.line.push_str(itoa::Buffer::new().format(value));
        } else {
            // A message that is not text is written as its `Debug`, like any other.
            self.message(&format!("{value:?}"));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.key(field) {
            self.line.push_str(if value { "true" } else { "false" });
        } else {
            // A message that is not text is written as its `Debug`, like any other.
            self.message(&format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.key(field) {
            push_json_str(self.line, value);
        } else {
            self.message(value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !self.key(field) {
            // An error as the message is its own text, without its sources.
            self.message(&value.to_string());
            return;
        }
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(error) = source {
            text.push_str(": ");
            text.push_str(&error.to_string());
            source = error.source();
        }
        push_json_str(self.line, &text);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if self.key(field) {
            push_json_str(self.line, &text);
        } else {
            self.message(&text);
        }
    }
}

/// Whether `name` is one of [`RESERVED_KEYS`].
///
/// PERF: a `match` compiles to a switch on the length and one comparison, where
/// `RESERVED_KEYS.contains` compared with each key in turn for every field of every line.
fn is_reserved(name: &str) -> bool {
    let reserved = matches!(
        name,
        "timestamp"
            | "level"
            | "target"
            | "service"
            | "requestId"
            | "traceId"
            | "spanId"
            | "message"
    );
    debug_assert_eq!(reserved, RESERVED_KEYS.contains(&name));
    reserved
}

/// Appends `value` as a JSON string literal.
fn push_json_str(out: &mut String, value: &str) {
    out.push('"');
    // PERF: most values (keys, targets, routes, IDs, messages) need no escaping. A branch-free
    // scan that the compiler vectorizes decides that for the whole string, which is then
    // copied in one piece; only a string that needs it takes the byte loop below.
    let clean = !value.bytes().fold(false, |dirty, byte| {
        dirty | (byte < 0x20) | (byte == b'"') | (byte == b'\\') | (byte == 0x7f)
    });
    if clean {
        out.push_str(value);
        out.push('"');
        return;
    }
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
    fn the_reserved_key_match_is_the_reserved_key_list() {
        for key in RESERVED_KEYS {
            assert!(is_reserved(key), "{key}");
        }
        for other in ["", "time", "levels", "Target", "request_id", "route"] {
            assert!(!is_reserved(other), "{other}");
        }
    }

    #[test]
    fn floats_are_written_as_json_numbers_of_the_same_value() {
        for value in [0.0, 0.012, 1.5, 2500.0, 123_456.789, 1e-7, 1e300, -3.25] {
            let mut line = String::new();
            line.push_str(ryu::Buffer::new().format_finite(value));
            let parsed: f64 = serde_json::from_str(&line).unwrap();
            assert_eq!(parsed, value, "{line}");
        }
    }

    #[test]
    fn timestamps_are_humantimes_rfc_3339_with_microseconds() {
        let base = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000);
        // Twice the same second (the cached date), the next second, and the edges of a second.
        for offset in [0, 5, 999_999, 1_000_000, 1_000_001, 86_399_999_999] {
            let time = base + std::time::Duration::from_micros(offset);
            let mut line = String::new();
            push_timestamp(&mut line, time);
            assert_eq!(line, humantime::format_rfc3339_micros(time).to_string());
        }
    }
}
