//! The runner: applies each scenario's load model against the target and records every
//! request's outcome.

use std::{
    io::Write as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use tokio::{task::JoinSet, time::Instant};

use crate::{
    auth::{self, AuthError},
    metadata,
    plan::{LoadModel, Plan, Scenario},
    process,
    report::{Rate, Report, ScenarioReport},
    stats::{Outcome, Phase, Recorder},
};

/// An open-model send that starts more than this after its scheduled time counts as late.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(10);
/// How long the preflight check waits for a TCP connection to the target.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(5);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// How to run a plan, beyond the plan itself.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunOptions {
    /// Names the plan in the report (its path).
    pub plan_name: String,
    /// The base URL; replaces the plan's when set.
    pub base_url: Option<String>,
    /// The target's process ID, for CPU time and peak RSS from `/proc`.
    pub pid: Option<u32>,
    /// Whether to draw a live progress line on standard error.
    pub progress: bool,
}

impl RunOptions {
    /// Options for the plan named `plan_name`, with no overrides and no progress line.
    pub fn new(plan_name: impl Into<String>) -> Self {
        Self {
            plan_name: plan_name.into(),
            base_url: None,
            pid: None,
            progress: false,
        }
    }

    /// Replaces the plan's base URL.
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Watches this process's CPU time and RSS.
    #[must_use]
    pub fn with_pid(mut self, pid: u32) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Draws a live progress line on standard error.
    #[must_use]
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }
}

/// Why a run could not start: the input is unusable (exit code 2 in the CLI).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Neither `--base-url` nor the plan's `base_url` is set.
    #[error("no base URL: set `base_url` in the plan or pass --base-url")]
    NoBaseUrl,
    /// The base URL is not an `http://host[:port]` URL.
    #[error("base URL {url:?} is not usable: {reason}")]
    BaseUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// Nothing accepts connections at the target.
    #[error("target {url} is down: cannot connect to {authority}: {reason}")]
    TargetDown {
        /// The base URL.
        url: String,
        /// The host and port tried.
        authority: String,
        /// The connection error.
        reason: String,
    },
    /// `--pid` names no running process.
    #[error("--pid {0}: no such process in /proc")]
    NoSuchProcess(u32),
    /// A scenario's token could not be obtained.
    #[error("scenario `{scenario}`: {source}")]
    Auth {
        /// The scenario.
        scenario: String,
        /// The token error.
        source: AuthError,
    },
}

fn base_uri(url: &str) -> Result<Uri, RunError> {
    let fail = |reason: &str| RunError::BaseUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|_| fail("not a URL like http://127.0.0.1:8080"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(fail("https is not supported; use a plain http:// address")),
        _ => return Err(fail("the scheme must be http://")),
    }
    if uri.authority().is_none() {
        return Err(fail("no host"));
    }
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(fail(
            "a base URL has no path; put it in each scenario's `path`",
        ));
    }
    Ok(uri)
}

async fn preflight(url: &str, uri: &Uri) -> Result<(), RunError> {
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let authority = format!("{host}:{port}");
    let down = |reason: String| RunError::TargetDown {
        url: url.to_owned(),
        authority: authority.clone(),
        reason,
    };
    match tokio::time::timeout(
        PREFLIGHT_TIMEOUT,
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(down(error.to_string())),
        Err(_) => Err(down(format!("no answer within {PREFLIGHT_TIMEOUT:?}"))),
    }
}

/// Runs every scenario of `plan`, one after the other, and returns the report with each
/// threshold evaluated.
///
/// # Errors
///
/// When the run cannot start: no or a bad base URL, a target that refuses connections, an
/// unknown `--pid`, a token that cannot be obtained. Nothing is sent in that case.
pub async fn run(plan: &Plan, options: &RunOptions) -> Result<Report, RunError> {
    let url = options
        .base_url
        .clone()
        .or_else(|| plan.base_url.clone())
        .ok_or(RunError::NoBaseUrl)?;
    let url = url.trim_end_matches('/').to_owned();
    let uri = base_uri(&url)?;
    if let Some(pid) = options.pid
        && !process::exists(pid)
    {
        return Err(RunError::NoSuchProcess(pid));
    }
    // Tokens first: a failing token command must stop the run before any load.
    let mut tokens = Vec::with_capacity(plan.scenarios.len());
    for scenario in &plan.scenarios {
        let clients = match scenario.model {
            LoadModel::Closed { clients, .. } => clients,
            LoadModel::Open { .. } => 1,
        };
        let scenario_tokens = match &scenario.auth {
            Some(auth) => auth::tokens(auth, clients).map_err(|source| RunError::Auth {
                scenario: scenario.name.clone(),
                source,
            })?,
            None => Vec::new(),
        };
        tokens.push(scenario_tokens);
    }
    preflight(&url, &uri).await?;

    let started = SystemTime::now();
    let mut metadata = metadata::collect(&options.plan_name, &url, options.pid, started);
    let mut scenarios = Vec::with_capacity(plan.scenarios.len());
    for (scenario, tokens) in plan.scenarios.iter().zip(tokens) {
        scenarios.push(run_scenario(&url, scenario, tokens, options).await);
    }
    metadata.finished_at = metadata::timestamp(SystemTime::now());
    let passed = scenarios.iter().all(|s| s.passed);
    Ok(Report {
        metadata,
        scenarios,
        passed,
    })
}

/// What every request of a scenario shares.
struct Target {
    client: HttpClient,
    uri: Uri,
    scenario: Scenario,
    body: Bytes,
}

impl Target {
    fn request(&self, token: Option<&HeaderValue>) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.scenario.method.clone();
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        for (name, value) in &self.scenario.headers {
            headers.append(name.clone(), value.clone());
        }
        if let Some(token) = token {
            headers.insert(header::AUTHORIZATION, token.clone());
        }
        request
    }

    /// Sends one request and reads the whole response; returns how it ended.
    async fn send(&self, token: Option<&HeaderValue>) -> Outcome {
        let request = self.request(token);
        let exchange = async {
            let response = self.client.request(request).await.map_err(|error| {
                if error.is_connect() {
                    Outcome::Connect
                } else {
                    Outcome::Transport
                }
            })?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|_| Outcome::Transport)?
                .to_bytes();
            let code = (status >= 400).then(|| envelope_code(&body)).flatten();
            Ok::<_, Outcome>(Outcome::Response { status, code })
        };
        match tokio::time::timeout(self.scenario.timeout, exchange).await {
            Ok(Ok(outcome) | Err(outcome)) => outcome,
            Err(_) => Outcome::Timeout,
        }
    }
}

/// The `error.code` of a `{"error":{"code":...}}` envelope.
fn envelope_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(value.get("error")?.get("code")?.as_str()?.to_owned())
}

struct Shared {
    recorder: Mutex<Recorder>,
}

impl Shared {
    fn recorder(&self) -> std::sync::MutexGuard<'_, Recorder> {
        // A panic while holding the lock cannot leave the counters half-updated in a way that
        // matters more than losing the run: keep going with what is there.
        self.recorder
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn run_scenario(
    url: &str,
    scenario: &Scenario,
    tokens: Vec<HeaderValue>,
    options: &RunOptions,
) -> ScenarioReport {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(scenario.timeout));
    let client = Client::builder(TokioExecutor::new()).build(connector);
    // The path was checked when the plan was read, and the base URL before the run.
    let uri: Uri = format!("{url}{}", scenario.path)
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/"));
    let target = Arc::new(Target {
        client,
        uri,
        scenario: scenario.clone(),
        body: Bytes::from(scenario.body.clone()),
    });
    let shared = Arc::new(Shared {
        recorder: Mutex::new(Recorder::new()),
    });
    let tokens: Arc<[HeaderValue]> = tokens.into();

    let start = Instant::now();
    let measure_from = start + scenario.warmup;
    let end = measure_from + scenario.duration;

    let watcher = options.pid.map(|pid| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from).await;
            process::watch(pid, end).await
        })
    });
    let progress = options.progress.then(|| {
        let shared = Arc::clone(&shared);
        let name = scenario.name.clone();
        tokio::spawn(progress_line(name, shared, start, measure_from, end))
    });

    match scenario.model {
        LoadModel::Open {
            rate,
            max_in_flight,
        } => {
            open_model(
                &target,
                &shared,
                &tokens,
                rate,
                max_in_flight,
                start,
                measure_from,
                end,
            )
            .await;
        }
        LoadModel::Closed {
            clients,
            think_time,
        } => {
            closed_model(
                &target,
                &shared,
                &tokens,
                clients,
                think_time,
                measure_from,
                end,
            )
            .await;
        }
    }

    if let Some(progress) = progress {
        progress.abort();
        let _ = progress.await;
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "\r\x1b[2K");
        let _ = stderr.flush();
    }
    let target_process = match watcher {
        Some(watcher) => watcher.await.ok(),
        None => None,
    };
    let recorder = match Arc::try_unwrap(shared) {
        Ok(shared) => shared
            .recorder
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        // Every task holding a clone has been joined above; this branch cannot be taken.
        Err(shared) => std::mem::replace(&mut *shared.recorder(), Recorder::new()),
    };
    // Open model only: a closed-loop client never starts a send at or after `end`, so its
    // measured period is the nominal one.
    let window = measured_window(measure_from, end, recorder.last_measured_send());
    let open = matches!(scenario.model, LoadModel::Open { .. });
    let (requests, errors, statuses, latency, service_time) = recorder.finish(open);
    let (model, target_rate, clients) = match scenario.model {
        LoadModel::Open { rate, .. } => ("open", Some(rate), None),
        LoadModel::Closed { clients, .. } => ("closed", None, Some(clients)),
    };
    let achieved = achieved_rate(requests.measured, window);
    let error_rate = errors.rate();
    let mut report = ScenarioReport {
        name: scenario.name.clone(),
        method: scenario.method.to_string(),
        path: scenario.path.clone(),
        load_model: scenario.model.to_string(),
        model,
        clients,
        warmup_seconds: scenario.warmup.as_secs_f64(),
        duration_seconds: scenario.duration.as_secs_f64(),
        timeout_seconds: scenario.timeout.as_secs_f64(),
        auth: scenario.auth.as_ref().map(|auth| match auth {
            crate::plan::Auth::PerClientCommand(_) => format!("{auth} ({} tokens)", tokens.len()),
            _ => auth.to_string(),
        }),
        requests,
        rate: Rate {
            target: target_rate,
            achieved,
            measured_seconds: window.as_secs_f64(),
        },
        latency,
        service_time,
        errors,
        error_rate,
        statuses,
        target_process,
        thresholds: Vec::new(),
        passed: true,
    };
    report.thresholds = scenario
        .thresholds
        .iter()
        .map(|threshold| threshold.evaluate(&report))
        .collect();
    report.passed = report.thresholds.iter().all(|t| t.passed);
    report
}

/// The measured period as it really ran: from its start to its nominal end or, when the
/// harness fell behind and was still sending measured requests after that end, to the last of
/// those sends. A rate computed over the nominal duration instead would equal the target
/// whenever nothing is dropped, however late the sends went out.
fn measured_window(measure_from: Instant, end: Instant, last_send: Option<Instant>) -> Duration {
    last_send.map_or(end, |last| last.max(end)) - measure_from
}

/// Measured requests sent per second of the real measured period.
fn achieved_rate(measured: u64, window: Duration) -> f64 {
    let seconds = window.as_secs_f64();
    if seconds > 0.0 {
        measured as f64 / seconds
    } else {
        0.0
    }
}

/// Sends on a timetable: request `i` is due at `start + i / rate`. Latency counts from the due
/// time, so when the server (or the harness) stalls, the requests that should have gone out
/// meanwhile carry the stall in their latency instead of never being sent.
#[allow(clippy::too_many_arguments)]
async fn open_model(
    target: &Arc<Target>,
    shared: &Arc<Shared>,
    tokens: &Arc<[HeaderValue]>,
    rate: f64,
    max_in_flight: usize,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for i in 0u64.. {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        if due >= end {
            break;
        }
        if due > Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        while tasks.try_join_next().is_some() {}
        let phase = if due < measure_from {
            Phase::Warmup
        } else {
            Phase::Measured
        };
        if in_flight.load(Ordering::Acquire) >= max_in_flight {
            shared.recorder().dropped(phase);
            continue;
        }
        in_flight.fetch_add(1, Ordering::AcqRel);
        let (target, shared, in_flight) = (
            Arc::clone(target),
            Arc::clone(shared),
            Arc::clone(&in_flight),
        );
        let token = tokens.first().cloned();
        tasks.spawn(async move {
            // The send starts when this task first runs, not when it was spawned: when the
            // harness is short of CPU, a burst of overdue slots is spawned at once and the
            // tasks wait for a worker thread, and that wait is part of the lag.
            let sent_at = Instant::now();
            let outcome = target.send(token.as_ref()).await;
            let done = Instant::now();
            let mut recorder = shared.recorder();
            recorder.record(phase, &outcome, done - due, done - sent_at);
            recorder.send_started(phase, sent_at - due, sent_at);
            drop(recorder);
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// `clients` loops, each sending its next request only after the previous response (and the
/// think time). Latency counts from the actual send: a stall delays the next requests, so it
/// is sampled once per client, which is the coordinated omission the open model avoids.
async fn closed_model(
    target: &Arc<Target>,
    shared: &Arc<Shared>,
    tokens: &Arc<[HeaderValue]>,
    clients: usize,
    think_time: Duration,
    measure_from: Instant,
    end: Instant,
) {
    let mut tasks = JoinSet::new();
    for client in 0..clients {
        let (target, shared) = (Arc::clone(target), Arc::clone(shared));
        let token = (!tokens.is_empty()).then(|| tokens[client % tokens.len()].clone());
        tasks.spawn(async move {
            loop {
                let sent_at = Instant::now();
                if sent_at >= end {
                    break;
                }
                let phase = if sent_at < measure_from {
                    Phase::Warmup
                } else {
                    Phase::Measured
                };
                let outcome = target.send(token.as_ref()).await;
                let latency = sent_at.elapsed();
                shared.recorder().record(phase, &outcome, latency, latency);
                if !think_time.is_zero() {
                    // A pause that would end past the scenario ends the client instead.
                    if Instant::now() + think_time >= end {
                        break;
                    }
                    tokio::time::sleep(think_time).await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn progress_line(
    name: String,
    shared: Arc<Shared>,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) {
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    let total = (end - start).as_secs_f64();
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let elapsed = (now - start).as_secs_f64();
        let (sent, errors) = {
            let recorder = shared.recorder();
            (recorder.sent(), recorder.measured_errors())
        };
        let line = progress_text(&name, now >= measure_from, elapsed, total, sent, errors);
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "\r\x1b[2K{line}");
        let _ = stderr.flush();
    }
}

/// One progress line, without the carriage return and erase sequence that redraw it.
fn progress_text(
    name: &str,
    measuring: bool,
    elapsed: f64,
    total: f64,
    sent: u64,
    errors: u64,
) -> String {
    let phase = if measuring { "measuring" } else { "warm-up" };
    let rate = sent as f64 / elapsed.max(1e-3);
    format!(
        "[{name}] {phase} {elapsed:.1}s/{total:.0}s  sent {sent}  rate {rate:.1}/s  errors {errors}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_plain_http_without_a_path() {
        assert!(base_uri("http://127.0.0.1:8080").is_ok());
        let https = base_uri("https://example.invalid").expect_err("https");
        assert!(https.to_string().contains("https is not supported"));
        let path = base_uri("http://127.0.0.1/api").expect_err("path");
        assert!(path.to_string().contains("has no path"));
        assert!(base_uri("not a url").is_err());
    }

    #[test]
    fn a_measured_send_past_the_nominal_end_stretches_the_window_and_lowers_the_rate() {
        let measure_from = Instant::now();
        let end = measure_from + Duration::from_secs(2);
        // On time: the last measured send went out before the end, the window is nominal.
        let on_time = measured_window(measure_from, end, Some(end - Duration::from_millis(5)));
        assert_eq!(on_time, Duration::from_secs(2));
        assert!((achieved_rate(400, on_time) - 200.0).abs() < 1e-9);
        // Half a second behind: the same 400 requests took 2.5 s, so 160/s, not the 200/s
        // that counting timetable slots over the nominal duration would claim.
        let behind = measured_window(measure_from, end, Some(end + Duration::from_millis(500)));
        assert_eq!(behind, Duration::from_millis(2500));
        assert!((achieved_rate(400, behind) - 160.0).abs() < 1e-9);
        // Nothing measured was sent (every slot dropped, or a closed model).
        assert_eq!(
            measured_window(measure_from, end, None),
            Duration::from_secs(2)
        );
        assert_eq!(achieved_rate(0, Duration::ZERO), 0.0);
    }

    #[test]
    fn the_progress_line_shows_phase_elapsed_sent_rate_and_errors() {
        assert_eq!(
            progress_text("health", false, 1.0, 62.0, 25, 0),
            "[health] warm-up 1.0s/62s  sent 25  rate 25.0/s  errors 0"
        );
        assert_eq!(
            progress_text("chat", true, 10.0, 62.0, 40, 3),
            "[chat] measuring 10.0s/62s  sent 40  rate 4.0/s  errors 3"
        );
    }

    #[test]
    fn envelope_codes_are_read_and_anything_else_ignored() {
        let body = br#"{"error":{"code":"AUTH_INVALID_TOKEN","message":"m","statusCode":401,"requestId":"r"}}"#;
        assert_eq!(envelope_code(body).as_deref(), Some("AUTH_INVALID_TOKEN"));
        assert_eq!(envelope_code(b"<html>"), None);
        assert_eq!(envelope_code(br#"{"error":"x"}"#), None);
    }
}
