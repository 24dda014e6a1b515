//! Many threads logging at once through the real redacting writer into a real pipe and a real
//! file: every line read back is one whole JSON event (no two events on one line, no empty
//! line), and every event arrives.
#![cfg(feature = "tracing")]
#![allow(clippy::unwrap_used)]

use std::{
    fs::{File, OpenOptions},
    io::Read as _,
    sync::{Arc, Barrier},
};

use stanchion_redact::{Redactor, subscriber};
use tracing::Dispatch;
use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt as _};

const THREADS: usize = 16;
const EVENTS_PER_THREAD: usize = 400;

/// Logs `EVENTS_PER_THREAD` events (each with a secret to redact) on each of `THREADS`
/// threads, all released at once, through a JSON or text layer writing to `writer`.
fn log_concurrently<W>(writer: W, json: bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let dispatch = if json {
        Dispatch::new(
            tracing_subscriber::registry().with(subscriber::json_layer(Redactor::new(), writer)),
        )
    } else {
        Dispatch::new(
            tracing_subscriber::registry().with(subscriber::text_layer(Redactor::new(), writer)),
        )
    };
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let dispatch = dispatch.clone();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    start.wait();
                    for event in 0..EVENTS_PER_THREAD {
                        tracing::info!(thread, event, password = "hunter22-x", "request done");
                    }
                });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Checks that `output` holds exactly one well-formed line per event.
fn assert_one_event_per_line(output: &str, json: bool) {
    assert!(!output.contains("hunter22"), "a secret reached the output");
    let mut seen = vec![0_usize; THREADS];
    for (number, line) in output.lines().enumerate() {
        let thread = if json {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("line {} is not one JSON event ({e}): {line}", number + 1)
            });
            assert_eq!(value["fields"]["password"], "[REDACTED:secret-field]");
            value["fields"]["thread"].as_u64().unwrap()
        } else {
            assert_eq!(
                line.matches("request done").count(),
                1,
                "line {} is not one event: {line:?}",
                number + 1
            );
            let rest = line.split("thread=").nth(1).unwrap();
            rest.split(' ').next().unwrap().parse().unwrap()
        };
        seen[usize::try_from(thread).unwrap()] += 1;
    }
    assert_eq!(
        seen,
        vec![EVENTS_PER_THREAD; THREADS],
        "events lost or merged"
    );
}

#[test]
fn json_lines_from_sixteen_threads_through_a_pipe_are_whole() {
    let (mut reader, writer) = std::io::pipe().unwrap();
    // The pipe is read while it is written (its buffer holds far less than the output).
    let drain = std::thread::spawn(move || {
        let mut output = String::new();
        reader.read_to_string(&mut output).unwrap();
        output
    });
    log_concurrently(Arc::new(writer), true);
    // Every writer clone is dropped with the dispatch, so the reader sees the end of the pipe.
    let output = drain.join().unwrap();
    assert_one_event_per_line(&output, true);
}

#[test]
fn json_and_text_lines_from_sixteen_threads_to_one_file_are_whole() {
    for json in [true, false] {
        let dir = tempfile_dir();
        let path = dir.join(if json { "log.json" } else { "log.txt" });
        let file: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        log_concurrently(Arc::new(file), json);
        let output = std::fs::read_to_string(&path).unwrap();
        assert_one_event_per_line(&output, json);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A fresh directory under the target's temp dir (no extra dev-dependency for one test).
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "concurrent-writes-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
