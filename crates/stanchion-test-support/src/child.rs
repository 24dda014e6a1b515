//! A real service binary under test: its JSON log lines read as they come, and one-shot HTTP
//! requests on fresh connections, as a client that knows nothing of the service would send.

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    process::{Child, ChildStdout, ExitStatus},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::Value;

/// Reads the child's stdout lines on a thread, each parsed as JSON; a line that is not JSON is
/// kept as a string, so a test's "every line is JSON" check sees it and fails.
#[must_use]
pub fn json_lines(stdout: ChildStdout) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first line whose `message` is `message`, among `seen` and then the lines still to
/// come (each kept in `seen`, so later waits and checks see every line).
///
/// # Panics
///
/// When no such line arrives within `patience`, with every line seen in the message.
pub fn wait_for_message(
    lines: &mpsc::Receiver<Value>,
    seen: &mut Vec<Value>,
    message: &str,
    patience: Duration,
) -> Value {
    wait_for_line(lines, seen, &format!("{message:?}"), patience, |line| {
        line["message"] == message
    })
}

/// The first line matching `wanted` (described as `what` in the panic), among `seen` and then
/// the lines still to come (each kept in `seen`).
///
/// # Panics
///
/// When no such line arrives within `patience`, with every line seen in the message.
pub fn wait_for_line(
    lines: &mpsc::Receiver<Value>,
    seen: &mut Vec<Value>,
    what: &str,
    patience: Duration,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(line) = seen.iter().find(|line| wanted(line)) {
            return line.clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no {what} line within {patience:?}; saw {seen:#?}"),
        }
    }
}

/// The `server started` line of a `stanchion::Server` and the address it names (the port the
/// OS chose for `127.0.0.1:0`).
///
/// # Panics
///
/// When no such line arrives within `patience`, or its `addr` is not an address.
pub fn wait_for_start(
    lines: &mpsc::Receiver<Value>,
    seen: &mut Vec<Value>,
    patience: Duration,
) -> (Value, SocketAddr) {
    let started = wait_for_message(lines, seen, "server started", patience);
    let addr = started["addr"]
        .as_str()
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {started}"));
    (started, addr)
}

/// `GET path` with `Host: host` on a new connection (`Connection: close`): the status and the
/// body, or `None` when the connection is refused.
///
/// # Panics
///
/// When the answer does not come within `patience` or has no status line.
#[must_use]
pub fn get_once(
    addr: SocketAddr,
    host: &str,
    path: &str,
    patience: Duration,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(patience))
        .expect("a read timeout can be set");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is written");
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .expect("the answer is read");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {reply:?}"));
    let body = reply
        .split_once("\r\n\r\n")
        .map_or_else(String::new, |(_, body)| body.to_owned());
    Some((status, body))
}

/// Waits until `addr` refuses connections (the listener closed).
///
/// # Panics
///
/// When it still accepts after `patience`.
pub fn wait_until_refused(addr: SocketAddr, patience: Duration) {
    let deadline = Instant::now() + patience;
    while TcpStream::connect(addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts connections after {patience:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The child's exit status, waited for at most `patience`.
///
/// # Panics
///
/// When the child has not exited by then.
pub fn wait_for_exit(child: &mut Child, patience: Duration) -> ExitStatus {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(status) = child.try_wait().expect("the child's status can be read") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the child {} did not exit within {patience:?}",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that a service is inside its drain delay: a new connection is still accepted and
/// served, `/readyz` answers 503 with its `shutdown` check failing, and `/livez` answers 200,
/// so a load balancer stops routing to it before its listener closes.
///
/// # Panics
///
/// When any of that does not hold.
pub fn assert_draining(addr: SocketAddr, host: &str, patience: Duration) {
    let (status, body) = get_once(addr, host, "/readyz", patience)
        .expect("a new connection is accepted during the drain delay");
    assert_eq!(status, 503, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(
        health["checks"]["shutdown"][0]["status"], "fail",
        "{health}"
    );
    let (status, body) = get_once(addr, host, "/livez", patience).expect("still accepting");
    assert_eq!(status, 200, "{body}");
}

/// Asserts that everything the child wrote is JSON lines on stdout (the ones in `seen` and
/// those still arriving) and nothing is on stderr: a JSON-only log pipeline reads all of it.
///
/// # Panics
///
/// On a line that is not a JSON object, on anything written to stderr, or when stderr was not
/// piped.
pub fn assert_only_json_lines(
    child: &mut Child,
    lines: &mpsc::Receiver<Value>,
    seen: &mut Vec<Value>,
) {
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
        seen.push(line);
    }
    for line in seen.iter() {
        assert!(line.is_object(), "a line that is not JSON: {line}");
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("the child's stderr is piped")
        .read_to_string(&mut stderr)
        .expect("the child's stderr is read");
    assert_eq!(stderr, "", "the child {} wrote to stderr", child.id());
}
