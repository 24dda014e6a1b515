//! Unpublished test support for Stanchion's own tests: capture real tracing output in memory
//! and parse it, lists of hostile inputs shared by several crates' tests, and helpers for tests
//! of real service binaries (their JSON lines, one-shot requests).
//!
//! The capture is real: events go through `tracing-subscriber`'s own formatters into a buffer,
//! so a test asserts on the bytes an operator would see, not on a mock.
//!
//! ```
//! let logs = stanchion_test_support::CapturedLogs::new();
//! let subscriber = tracing_subscriber::fmt()
//!     .json()
//!     .with_writer(logs.clone())
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || tracing::info!(answer = 42, "hello"));
//! let lines = logs.json_lines();
//! assert_eq!(lines[0]["fields"]["answer"], 42);
//! ```

use std::{
    io,
    sync::{Arc, Mutex, PoisonError},
};

use tracing_subscriber::fmt::MakeWriter;

pub mod child;
pub mod hostile;
pub mod programs;

/// An in-memory sink for `tracing-subscriber`'s formatters; clones share one buffer.
#[derive(Clone, Debug, Default)]
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl CapturedLogs {
    /// An empty capture buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, as text (invalid UTF-8 is replaced, so a test still sees it).
    pub fn contents(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// The non-empty lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.contents()
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Every line parsed as JSON.
    ///
    /// # Panics
    ///
    /// When a line is not valid JSON: for a JSON formatter that is the failure under test, so
    /// the message shows the line.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|line| match serde_json::from_str(line) {
                Ok(value) => value,
                Err(error) => panic!("log line is not valid JSON ({error}): {line}"),
            })
            .collect()
    }

    /// Forget everything captured so far.
    pub fn clear(&self) {
        self.buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// The writer handed to the formatter for one event.
#[derive(Debug)]
pub struct CaptureWriter {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter {
            buffer: Arc::clone(&self.buffer),
        }
    }
}
