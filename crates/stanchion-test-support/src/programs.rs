//! The programs operators run (promtool, Prometheus, Alertmanager, amtool, systemd-analyze),
//! for tests: find them (a loud skip when missing, a failure under `CI=true`), give them
//! loopback ports, stop them when the test ends.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

/// The path of the system program `name`, or `None` after a loud message when it is missing.
/// Under CI (`CI=true`) a missing program fails the test instead: `.ci/run` installs them.
///
/// # Panics
///
/// When the program is missing and `CI=true`.
pub fn program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let package = match name {
            "prometheus-alertmanager" | "amtool" => "prometheus-alertmanager",
            "systemd-analyze" => "systemd",
            _ => "prometheus",
        };
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is not installed and CI=true: `.ci/run` installs the Debian package {package}"
        );
        // To the stderr handle itself, not `eprintln!`: libtest captures what a passing test
        // prints that way (shown only with `--nocapture`), so the skip would read as `ok`.
        let _ = writeln!(
            std::io::stderr(),
            "\n\n*** SKIPPED: {name} is not on PATH (install the Debian package {package}); \
             this test proves nothing on this machine ***\n"
        );
    }
    found
}

/// A free loopback port (bound, read, released: the program binds it right after).
///
/// # Panics
///
/// When no loopback port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A child process killed (and reaped) on drop.
#[derive(Debug)]
pub struct Running {
    /// The name given to [`Running::start`].
    pub name: String,
    child: Child,
}

impl Running {
    /// Starts `command` with its output in `log` (a file the test prints on failure).
    ///
    /// # Panics
    ///
    /// When the log file cannot be created or the program cannot be started.
    pub fn start(name: &str, mut command: Command, log: &Path) -> Running {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        Running {
            name: name.to_owned(),
            child,
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the process now.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `program` with `args`, `stdin` piped in; returns (exit code, stdout + stderr).
///
/// # Panics
///
/// When the program cannot be started.
pub fn run(program: &Path, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", program.display()));
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    let output = child.wait_with_output().expect("the program ends");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}
