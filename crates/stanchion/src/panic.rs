//! The panic hook: every panic, on any thread, reported once as a redacted log line.
//!
//! # Why a hook
//!
//! Rust's default hook prints `thread '…' panicked at …: <message>` and, with
//! `RUST_BACKTRACE`, a backtrace, straight to stderr: outside the log format, and raw, so a
//! token in a panic message leaked there even though the request's `stanchion::panic` event
//! was redacted. [`install_panic_hook`] replaces that hook: the panic becomes one ERROR event
//! (target [`PANIC_TARGET`]) that the installed subscriber formats (JSON or pretty) and
//! redacts like any other line. It runs on the panicking thread before unwinding, so an event
//! from a request handler still sees the request's ID (the request-ID layer's task-local and
//! span are current) and carries it.
//!
//! # Once per panic
//!
//! tower-http's catch-panic layer catches the unwinding panic on the same thread right after
//! the hook ran. The hook marks the thread ([`take_reported`]), and [`PanicResponse`] logs only
//! a panic the hook did not report (a service that installed its subscriber without the hook):
//! one panic, one report, in both setups.
//!
//! [`PanicResponse`]: crate::PanicResponse

use std::{
    backtrace::{Backtrace, BacktraceStatus},
    cell::Cell,
    io::Write as _,
    panic::PanicHookInfo,
};

use stanchion_redact::Redactor;
use stanchion_request_id::RequestId;

use crate::stack::PANIC_TARGET;

thread_local! {
    /// Set by the hook on the panicking thread; taken by the catch-panic response.
    static REPORTED: Cell<bool> = const { Cell::new(false) };
}

/// What the payload of a panic that is neither `&str` nor `String` is logged as.
pub(crate) const NON_STRING_PAYLOAD: &str = "(a panic payload that is not a string)";

/// Replaces the process's panic hook (Rust's default one included) with one that reports each
/// panic once, as an ERROR event with target [`PANIC_TARGET`]: fields `panic` (the message),
/// `location` (`file:line:column`), `thread`, and `backtrace` when `RUST_BACKTRACE` (or
/// `RUST_LIB_BACKTRACE`) asks for one. The subscriber current on the panicking thread formats
/// and redacts it; nothing is printed raw.
///
/// [`Telemetry::init`](crate::Telemetry::init) calls it with its redactor. Call it yourself
/// when you install the subscriber another way (`Telemetry::build` with
/// `set_global_default`, or a subscriber per thread).
///
/// When no subscriber would record the event (none installed, or a filter that drops
/// `stanchion::panic` at ERROR), the report is one line on stderr, redacted with `redactor`,
/// so a panic is never silent and never raw.
///
/// The hook is process-wide: a hook installed later replaces this one.
pub fn install_panic_hook(redactor: Redactor) {
    std::panic::set_hook(Box::new(move |info| report(&redactor, info)));
}

/// Whether the hook reported the panic that just unwound on this thread (and clears the mark).
pub(crate) fn take_reported() -> bool {
    REPORTED.with(|reported| reported.replace(false))
}

fn report(redactor: &Redactor, info: &PanicHookInfo<'_>) {
    // `PanicHookInfo::payload_as_str` would do this, but it is newer than the MSRV.
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or(NON_STRING_PAYLOAD);
    let location = info.location().map_or_else(
        || "unknown".to_owned(),
        |location| {
            format!(
                "{}:{}:{}",
                location.file(),
                location.line(),
                location.column()
            )
        },
    );
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("<unnamed>");
    // `capture` honours RUST_BACKTRACE / RUST_LIB_BACKTRACE, as the default hook does.
    let backtrace = Backtrace::capture();
    let backtrace = (backtrace.status() == BacktraceStatus::Captured).then_some(backtrace);
    let summary = if RequestId::current().is_some() {
        "request handler panicked"
    } else {
        "panicked"
    };
    REPORTED.with(|reported| reported.set(true));
    if tracing::enabled!(target: PANIC_TARGET, tracing::Level::ERROR) {
        match &backtrace {
            Some(backtrace) => tracing::error!(
                target: PANIC_TARGET,
                panic = message,
                location,
                thread,
                backtrace = %backtrace,
                "{summary}"
            ),
            None => tracing::error!(
                target: PANIC_TARGET,
                panic = message,
                location,
                thread,
                "{summary}"
            ),
        }
    } else {
        // No subscriber takes the event: one redacted line (control characters, the
        // backtrace's newlines included, made visible), written in one call.
        let mut line = format!(
            "ERROR {PANIC_TARGET}: panicked thread={thread} location={location} panic={message}"
        );
        if let Some(backtrace) = &backtrace {
            line.push_str("\nbacktrace:\n");
            line.push_str(&backtrace.to_string());
        }
        let mut line = redactor.redact_log_line(&line).into_owned();
        line.push('\n');
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}
