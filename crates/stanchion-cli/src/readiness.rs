//! `stanchion rollout readiness`: the snapshot an operator takes before each rollout step. It
//! answers the readiness questions from the files and the running service, never from memory:
//! the flags for the target environment (set or defaulted, and where), the secret sources each
//! enabled tool needs (present or not, never a value), the configuration check, the live modes
//! and rollout counters from `/metrics`, and the declared command checks. It writes a Markdown
//! report and its JSON twin, and exits 1 when a blocking item fails.

use std::{
    fmt::Write as _,
    io::{Read as _, Write as _},
    net::{TcpStream, ToSocketAddrs},
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use stanchion_config::{Snapshot, SourceKind};
use stanchion_redact::Redactor;

use crate::{
    civil::{Moment, date_argument},
    config::SourceArgs,
    output,
    rollout_file::Rollout,
};

/// Arguments of `stanchion rollout`.
#[derive(Debug, Args)]
pub(crate) struct RolloutArgs {
    #[command(subcommand)]
    command: RolloutCommand,
}

#[derive(Debug, Subcommand)]
enum RolloutCommand {
    /// Write the readiness snapshot before a rollout step: flags, secret sources, the
    /// configuration check, live modes and counters (`--url`), command checks (`--checks`).
    ///
    /// Writes DIR/production-hardening-rollout-readiness-YYYY-MM-DD.md and .json. Exits 0 when
    /// no blocking item fails, 1 when one does, 2 when an input is unusable (a missing rollout
    /// file or registry, a date in the future).
    #[command(after_help = "Examples:
  stanchion rollout readiness --env production --out ops/evidence
  stanchion rollout readiness --env production --url http://127.0.0.1:8080 --checks --out ops/evidence
  stanchion rollout readiness --rollout services/api/rollout.toml --registry services/api/tools.toml --dir services/api --out evidence")]
    Readiness(ReadinessArgs),
}

#[derive(Debug, Args)]
struct ReadinessArgs {
    /// The rollout file: its `[service]` table names the registry and configuration directory,
    /// its `[[checks]]` are run with `--checks`.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "examples/backend/ops/rollout.toml"
    )]
    rollout: PathBuf,
    /// The tools registry (default: the rollout file's `service.registry`).
    #[arg(long, value_name = "FILE")]
    registry: Option<PathBuf>,
    /// The configuration directory (default: the rollout file's `service.dir`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The target environment (default: `APP_ENV`, else `development`).
    #[arg(long, value_name = "ENV")]
    env: Option<String>,
    /// A directory of secret files, as the service mounts it.
    #[arg(long, value_name = "DIR")]
    secrets_dir: Option<PathBuf>,
    /// A running service's base URL (`http://host:port`): its `/readyz`, live modes and
    /// rollout counters from `/metrics`. A service that does not answer is a failing item.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Run the rollout file's command checks (the workspace tests, the rules tests).
    #[arg(long)]
    checks: bool,
    /// Where the report goes (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The day the snapshot is for (UTC; default today, never in the future).
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// One line per item, then the paths written.
    Text,
    /// The JSON report.
    Json,
}

/// One answer of the snapshot.
struct Item {
    section: &'static str,
    name: String,
    status: Status,
    /// A failing blocking item makes the snapshot fail.
    blocking: bool,
    detail: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Warn,
    Fail,
    Info,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Info => "info",
        }
    }
}

pub(crate) fn run(args: RolloutArgs) -> ExitCode {
    let redactor = Redactor::new();
    let RolloutCommand::Readiness(args) = args.command;
    readiness(&redactor, &args).unwrap_or_else(|why| {
        output::eprintln(&redactor, &format!("stanchion rollout readiness: {why}"));
        ExitCode::from(2)
    })
}

fn readiness(redactor: &Redactor, args: &ReadinessArgs) -> Result<ExitCode, String> {
    let now = Moment::now();
    let date = match &args.date {
        Some(text) => date_argument(text, "--date", now.date)?,
        None => now.date,
    };
    let rollout = Rollout::load(&args.rollout)?;
    let registry = args
        .registry
        .clone()
        .or_else(|| rollout.service.as_ref().map(|s| s.registry.clone()))
        .ok_or_else(|| {
            format!(
                "no registry: pass --registry or add a [service] table to {}",
                args.rollout.display()
            )
        })?;
    if !registry.is_file() {
        return Err(format!(
            "the registry {} does not exist",
            registry.display()
        ));
    }
    let dir = args
        .dir
        .clone()
        .or_else(|| rollout.service.as_ref().map(|s| s.dir.clone()))
        .unwrap_or_else(|| PathBuf::from("."));
    if !dir.is_dir() {
        return Err(format!(
            "the configuration directory {} does not exist",
            dir.display()
        ));
    }
    let sources = SourceArgs::new(registry, dir, args.env.clone(), args.secrets_dir.clone());

    let mut items = Vec::new();
    if rollout.service.is_some() {
        let agreement = rollout.agrees_with_registry();
        items.push(Item {
            section: "configuration",
            name: "rollout-file".into(),
            status: if agreement.is_ok() {
                Status::Pass
            } else {
                Status::Fail
            },
            blocking: true,
            detail: agreement.map_or_else(
                |why| why,
                |()| {
                    format!(
                        "{} agrees with the registry's flags",
                        args.rollout.display()
                    )
                },
            ),
        });
    }
    let snapshot = match sources.load(redactor) {
        Ok(snapshot) => Some(snapshot),
        Err(error) => {
            items.push(Item {
                section: "configuration",
                name: "config-check".into(),
                status: Status::Fail,
                blocking: true,
                detail: format!("the configuration does not load: {error}"),
            });
            None
        }
    };
    if let Some(snapshot) = &snapshot {
        configuration_items(snapshot, &mut items);
    }
    if let Some(url) = &args.url {
        service_items(url, snapshot.as_ref(), &mut items);
    }
    if args.checks {
        for check in &rollout.checks {
            let passed = check.run();
            items.push(Item {
                section: "checks",
                name: check.name.clone(),
                status: if passed { Status::Pass } else { Status::Fail },
                blocking: true,
                detail: format!(
                    "`{}` {}",
                    check.command,
                    if passed { "exited 0" } else { "failed" }
                ),
            });
        }
    }

    let env = snapshot
        .as_ref()
        .map_or_else(|| "unknown".to_owned(), |s| s.env().to_owned());
    let failed = items
        .iter()
        .any(|item| item.blocking && item.status == Status::Fail);
    let mut report = json!({
        "date": date.to_string(),
        "generated": format!("{date}T{}", now.time_of_day()),
        "env": env,
        "ready": !failed,
        "checks_run": args.checks,
        "url": args.url,
        "items": items.iter().map(|item| json!({
            "section": item.section,
            "name": item.name,
            "status": item.status.as_str(),
            "blocking": item.blocking,
            "detail": item.detail,
        })).collect::<Vec<_>>(),
    });
    // SECURITY: details name variables and sources, never values; the redactor (which knows
    // every secret the load read) is the second line of defence, for the JSON and Markdown.
    output::redact_json(redactor, &mut report);
    std::fs::create_dir_all(&args.out)
        .map_err(|error| format!("cannot create {}: {error}", args.out.display()))?;
    let base = args
        .out
        .join(format!("production-hardening-rollout-readiness-{date}"));
    let markdown = output::redact_text(redactor, &render_markdown(&report));
    let json_text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n";
    write_atomically(&base.with_extension("md"), &markdown)?;
    write_atomically(&base.with_extension("json"), &json_text)?;
    match args.format {
        Format::Json => output::print_unchanged(&json_text),
        Format::Text => {
            let mut text = String::new();
            for item in &items {
                let _ = writeln!(
                    text,
                    "{:<4} {}{}: {}",
                    item.status.as_str(),
                    item.name,
                    if item.blocking { "" } else { " (advisory)" },
                    item.detail
                );
            }
            let _ = writeln!(
                text,
                "{} for {env}; wrote {} and {}",
                if failed { "NOT READY" } else { "ready" },
                base.with_extension("md").display(),
                base.with_extension("json").display()
            );
            output::print(redactor, &text);
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The configuration check, every flag, and the secret sources of every tool.
fn configuration_items(snapshot: &Snapshot, items: &mut Vec<Item>) {
    items.push(Item {
        section: "configuration",
        name: "config-check".into(),
        status: if snapshot.passes_check() {
            Status::Pass
        } else {
            Status::Fail
        },
        blocking: true,
        detail: format!(
            "environment {}: {} of {} tools enabled{}",
            snapshot.env(),
            snapshot.tools().iter().filter(|t| t.is_enabled()).count(),
            snapshot.tools().len(),
            snapshot
                .critical_failures()
                .map(|tool| format!("; critical tool {} disabled", tool.slug()))
                .collect::<String>()
        ),
    });
    for flag in snapshot.flags() {
        let explicit = flag.source().is_explicit();
        items.push(Item {
            section: "flags",
            name: flag.name().to_owned(),
            // A defaulted flag is legitimate but should be a decision: say so, not block.
            status: if explicit { Status::Info } else { Status::Warn },
            blocking: false,
            detail: format!(
                "{} ({})",
                flag.mode(),
                if explicit {
                    format!("set in {}", flag.source())
                } else {
                    "defaulted: not set in any source".to_owned()
                }
            ),
        });
    }
    for tool in snapshot.tools() {
        for name in tool.variables() {
            let Some(variable) = snapshot.variable(name).filter(|v| v.is_secret()) else {
                continue;
            };
            let (status, detail) = match variable.origin() {
                Some(origin) if variable.is_set() => {
                    let plain_file = origin.kind() == SourceKind::DotenvFile;
                    let shared = !matches!(snapshot.env(), "development" | "test");
                    let status = if plain_file && shared {
                        Status::Warn
                    } else {
                        Status::Pass
                    };
                    (status, format!("present, from {}", origin.kind().as_str()))
                }
                // A critical tool without its secret stops the service from starting.
                _ if tool.is_critical() => (
                    Status::Fail,
                    "absent: the critical tool is disabled and the service will not start"
                        .to_owned(),
                ),
                _ => (Status::Warn, "absent: the tool stays disabled".to_owned()),
            };
            items.push(Item {
                section: "secrets",
                name: format!("{name} ({})", tool.slug()),
                status,
                blocking: tool.is_critical() || tool.is_enabled(),
                detail,
            });
        }
    }
}

/// The running service: readiness, live modes (compared with the configuration's) and the
/// rollout counters.
fn service_items(url: &str, snapshot: Option<&Snapshot>, items: &mut Vec<Item>) {
    let ready = http_get(url, "/readyz");
    items.push(match &ready {
        Ok((status, _)) => Item {
            section: "service",
            name: "readyz".into(),
            status: if *status == 200 {
                Status::Pass
            } else {
                Status::Fail
            },
            blocking: true,
            detail: format!("{url}/readyz answered {status}"),
        },
        Err(why) => Item {
            section: "service",
            name: "reachable".into(),
            status: Status::Fail,
            blocking: true,
            detail: format!("{url} did not answer: {why}"),
        },
    });
    if ready.is_err() {
        return;
    }
    let metrics = match http_get(url, "/metrics") {
        Ok((200, body)) => body,
        Ok((status, _)) => {
            items.push(Item {
                section: "service",
                name: "metrics".into(),
                status: Status::Fail,
                blocking: true,
                detail: format!("{url}/metrics answered {status}"),
            });
            return;
        }
        Err(why) => {
            items.push(Item {
                section: "service",
                name: "metrics".into(),
                status: Status::Fail,
                blocking: true,
                detail: format!("{url}/metrics did not answer: {why}"),
            });
            return;
        }
    };
    for sample in samples(&metrics, "stanchion_rollout_mode") {
        if sample.value != 1.0 {
            continue;
        }
        let (Some(flag), Some(mode)) = (sample.label("flag"), sample.label("mode")) else {
            continue;
        };
        let configured = snapshot.and_then(|s| s.mode(flag)).map(|m| m.as_str());
        // The service runs what it last loaded; a difference means it has not refreshed
        // since the files changed (or reads another directory).
        let (status, detail) = match configured {
            Some(configured) if configured != mode => (
                Status::Fail,
                format!(
                    "live {mode}, but the configuration says {configured}: refresh the service (SIGHUP) or check its directory"
                ),
            ),
            _ => (Status::Pass, format!("live {mode}")),
        };
        items.push(Item {
            section: "live modes",
            name: flag.to_owned(),
            status,
            blocking: true,
            detail,
        });
    }
    for (family, what) in [
        ("stanchion_rollout_decisions_total", "decisions"),
        ("stanchion_rollout_switches_total", "switches"),
    ] {
        let mut lines: Vec<String> = samples(&metrics, family)
            .iter()
            .map(|s| format!("{} {}", s.labels.join(","), s.value))
            .collect();
        lines.sort();
        items.push(Item {
            section: "counters",
            name: what.into(),
            status: Status::Info,
            blocking: false,
            detail: if lines.is_empty() {
                "none yet".into()
            } else {
                lines.join("; ")
            },
        });
    }
    let failures: f64 = samples(&metrics, "stanchion_config_refresh_failures_total")
        .iter()
        .map(|s| s.value)
        .sum();
    let last_ok = samples(&metrics, "stanchion_config_last_refresh_successful")
        .first()
        .map(|s| s.value);
    items.push(Item {
        section: "counters",
        name: "refresh".into(),
        status: if last_ok == Some(0.0) {
            Status::Fail
        } else {
            Status::Pass
        },
        blocking: true,
        detail: format!(
            "last refresh {}; {failures} failed since start",
            match last_ok {
                Some(1.0) => "succeeded",
                Some(_) => "FAILED (the service runs on its last good configuration)",
                None => "not reported",
            }
        ),
    });
}

/// One sample of the Prometheus text format.
struct Sample {
    labels: Vec<String>,
    value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.trim_matches('"'))
        })
    }
}

/// The samples of `family` (label values are simple words here: flags, modes, outcomes).
fn samples(text: &str, family: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(family)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            Some(Sample {
                labels: labels
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
                value: value.trim().parse().ok()?,
            })
        })
        .collect()
}

/// A plain-HTTP GET with a deadline: the status and body. HTTP/1.0, so the answer is never
/// chunked; enough for a service's own `/readyz` and `/metrics` on the private network, which
/// does not justify an HTTP client dependency in the operator's CLI.
fn http_get(base: &str, path: &str) -> Result<(u16, String), String> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("{base} is not an http:// URL"))?
        .trim_end_matches('/');
    let timeout = Duration::from_secs(5);
    let addr = authority
        .to_socket_addrs()
        .map_err(|error| error.to_string())?
        .next()
        .ok_or("no address")?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).map_err(|e| e.to_string())?;
    let reply = String::from_utf8_lossy(&reply);
    let status = reply
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or("not an HTTP answer")?;
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.to_owned()))
}

fn render_markdown(report: &serde_json::Value) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Rollout readiness, {} ({})\n\nGenerated {} by `stanchion rollout readiness`. Verdict: **{}**.{}\n",
        report["date"].as_str().unwrap_or_default(),
        report["env"].as_str().unwrap_or_default(),
        report["generated"].as_str().unwrap_or_default(),
        if report["ready"] == true {
            "ready"
        } else {
            "NOT READY (a blocking item fails)"
        },
        if report["checks_run"] == true {
            ""
        } else {
            " Command checks not run (`--checks`)."
        }
    );
    let mut section = "";
    for item in report["items"].as_array().into_iter().flatten() {
        let this = item["section"].as_str().unwrap_or_default();
        if this != section {
            section = this;
            let _ = writeln!(
                md,
                "\n## {section}\n\n| item | status | blocking | detail |\n|---|---|---|---|"
            );
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            item["name"].as_str().unwrap_or_default(),
            item["status"].as_str().unwrap_or_default(),
            if item["blocking"] == true {
                "yes"
            } else {
                "no"
            },
            item["detail"]
                .as_str()
                .unwrap_or_default()
                .replace('|', "\\|")
        );
    }
    md
}

/// Writes `text` to a temporary file beside `path`, then renames it: a reader never sees half
/// a report.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}
