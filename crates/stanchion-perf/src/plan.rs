//! The plan: a TOML file of scenarios, read strictly (an unknown field is an error, so a typo
//! never silently changes the load) and checked before any request is sent.

use std::{collections::BTreeMap, fmt, path::Path, time::Duration};

use http::{HeaderName, HeaderValue, Method};
use serde::Deserialize;

use crate::threshold::Threshold;

/// Requests in flight at once in an open-model scenario unless the plan says otherwise. A send
/// that would exceed it is dropped and reported, never queued behind a stalled server.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1000;
/// How long one request (connect, send, whole response body) may take unless the plan says
/// otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A checked plan: what [`run`](crate::run) executes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Plan {
    /// The base URL the scenarios' paths are appended to (`--base-url` replaces it).
    pub base_url: Option<String>,
    /// The scenarios, run one after the other in file order.
    pub scenarios: Vec<Scenario>,
}

/// One scenario: a request repeated under one load model.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Scenario {
    /// Unique within the plan; names the scenario in reports.
    pub name: String,
    /// The request method.
    pub method: Method,
    /// The path (and query), starting with `/`.
    pub path: String,
    /// Extra request headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The request body (empty when the plan has none).
    pub body: String,
    /// Open (arrival rate) or closed (concurrent clients).
    pub model: LoadModel,
    /// Load applied before the measurement, excluded from the figures and counted apart.
    pub warmup: Duration,
    /// The measured period.
    pub duration: Duration,
    /// The limit on one request.
    pub timeout: Duration,
    /// How the bearer token is obtained, if any.
    pub auth: Option<Auth>,
    /// Checks on the scenario's figures.
    pub thresholds: Vec<Threshold>,
}

/// How load is applied.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum LoadModel {
    /// Requests start on a timetable at `rate` per second whatever the server does; latency is
    /// measured from each request's intended start, so a stall is not hidden (no coordinated
    /// omission).
    Open {
        /// Requests per second.
        rate: f64,
        /// Requests in flight at once; a send beyond it is dropped and counted.
        max_in_flight: usize,
    },
    /// `clients` loops each send a request, wait for the whole response, pause `think_time`,
    /// and repeat. A slow server slows the load down, so a stall is under-sampled.
    Closed {
        /// Concurrent clients.
        clients: usize,
        /// Pause between a response and the client's next request.
        think_time: Duration,
    },
}

impl fmt::Display for LoadModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { rate, .. } => write!(f, "open model, {rate}/s"),
            Self::Closed {
                clients,
                think_time,
            } if think_time.is_zero() => write!(f, "closed model, {clients} clients"),
            Self::Closed {
                clients,
                think_time,
            } => write!(
                f,
                "closed model, {clients} clients, {} think time",
                humantime::format_duration(*think_time)
            ),
        }
    }
}

/// Where the bearer token comes from. The token itself is never printed or written to a report.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Auth {
    /// One token for every request, read from this environment variable.
    Env(String),
    /// One token for every request: the trimmed standard output of this command (argv, no shell).
    Command(Vec<String>),
    /// One token per closed-model client: the command is run once per client with `{client}` in
    /// its arguments replaced by the client's index (0, 1, ...), so a per-user quota applies to
    /// each client separately.
    PerClientCommand(Vec<String>),
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "bearer token from environment variable {var}"),
            Self::Command(argv) => write!(f, "bearer token from command `{}`", argv.join(" ")),
            Self::PerClientCommand(argv) => write!(
                f,
                "one bearer token per client from command `{}`",
                argv.join(" ")
            ),
        }
    }
}

/// Why a plan cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The file cannot be read.
    #[error("cannot read the plan {path}: {source}")]
    Read {
        /// The plan's path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML of the plan's shape (the message names the line and the field).
    #[error("the plan {path} is not a valid plan: {message}")]
    Syntax {
        /// The plan's path.
        path: String,
        /// The parser's message, with line, column and field.
        message: String,
    },
    /// A scenario's values do not make sense together.
    #[error("the plan {path}, scenario `{scenario}`: {message}")]
    Scenario {
        /// The plan's path.
        path: String,
        /// The scenario's name (or its position when it has none).
        scenario: String,
        /// What is wrong.
        message: String,
    },
    /// The plan as a whole is unusable (no scenarios, duplicate names).
    #[error("the plan {path}: {message}")]
    Plan {
        /// The plan's path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    base_url: Option<String>,
    #[serde(default)]
    scenario: Vec<RawScenario>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default = "default_method")]
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    model: RawModel,
    rate: Option<f64>,
    max_in_flight: Option<usize>,
    clients: Option<usize>,
    think_time: Option<String>,
    warmup: Option<String>,
    duration: String,
    timeout: Option<String>,
    auth: Option<Auth>,
    #[serde(default)]
    thresholds: Vec<String>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawModel {
    Open,
    Closed,
}

fn default_method() -> String {
    "GET".to_owned()
}

impl Plan {
    /// Reads and checks the plan at `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be read, is not a plan (unknown field, wrong type), or a scenario
    /// is inconsistent (an open model without a rate, a bad threshold expression, ...).
    pub fn from_file(path: &Path) -> Result<Self, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks a plan; `origin` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`from_file`](Self::from_file), without the read.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, PlanError> {
        let raw: RawPlan = toml::from_str(text).map_err(|error| PlanError::Syntax {
            path: origin.to_owned(),
            message: error.to_string().trim_end().replace('\n', "\n  "),
        })?;
        if raw.scenario.is_empty() {
            return Err(PlanError::Plan {
                path: origin.to_owned(),
                message: "it has no [[scenario]]".to_owned(),
            });
        }
        let mut scenarios: Vec<Scenario> = Vec::with_capacity(raw.scenario.len());
        for raw_scenario in raw.scenario {
            let name = raw_scenario.name.clone();
            let scenario = check_scenario(raw_scenario).map_err(|message| PlanError::Scenario {
                path: origin.to_owned(),
                scenario: name.clone(),
                message,
            })?;
            if scenarios.iter().any(|s| s.name == scenario.name) {
                return Err(PlanError::Plan {
                    path: origin.to_owned(),
                    message: format!("two scenarios are named `{name}`"),
                });
            }
            scenarios.push(scenario);
        }
        Ok(Self {
            base_url: raw.base_url,
            scenarios,
        })
    }

    /// Replaces every scenario's measured duration (`--duration`).
    pub fn override_duration(&mut self, duration: Duration) {
        for scenario in &mut self.scenarios {
            scenario.duration = duration;
        }
    }

    /// Replaces every scenario's warm-up (`--warmup`).
    pub fn override_warmup(&mut self, warmup: Duration) {
        for scenario in &mut self.scenarios {
            scenario.warmup = warmup;
        }
    }
}

fn duration(field: &str, text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|error| {
        format!("{field} = {text:?} is not a duration like \"500ms\" or \"60s\": {error}")
    })
}

fn check_scenario(raw: RawScenario) -> Result<Scenario, String> {
    if raw.name.trim().is_empty() {
        return Err("name must not be empty".to_owned());
    }
    let method = Method::from_bytes(raw.method.as_bytes())
        .map_err(|_| format!("method {:?} is not an HTTP method", raw.method))?;
    if !raw.path.starts_with('/') {
        return Err(format!("path {:?} must start with `/`", raw.path));
    }
    http::uri::PathAndQuery::try_from(raw.path.as_str())
        .map_err(|error| format!("path {:?} is not a valid path: {error}", raw.path))?;
    let mut headers = Vec::with_capacity(raw.headers.len());
    for (name, value) in &raw.headers {
        let header_name = HeaderName::try_from(name.as_str())
            .map_err(|_| format!("header name {name:?} is not valid"))?;
        if header_name == http::header::AUTHORIZATION && raw.auth.is_some() {
            return Err("both `auth` and an authorization header are set".to_owned());
        }
        let header_value = HeaderValue::try_from(value.as_str())
            .map_err(|_| format!("the value of header {name} is not valid"))?;
        headers.push((header_name, header_value));
    }
    let think_time = raw
        .think_time
        .as_deref()
        .map(|t| duration("think_time", t))
        .transpose()?;
    let model = match raw.model {
        RawModel::Open => {
            if raw.clients.is_some() || think_time.is_some() {
                return Err("`clients` and `think_time` belong to model = \"closed\"; an open model takes `rate`".to_owned());
            }
            let rate = raw
                .rate
                .ok_or("model = \"open\" needs `rate` (requests per second)")?;
            if !(rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0) {
                return Err(format!("rate = {rate} must be above 0 and at most 1000000"));
            }
            let max_in_flight = raw.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
            if max_in_flight == 0 {
                return Err("max_in_flight must be at least 1".to_owned());
            }
            LoadModel::Open {
                rate,
                max_in_flight,
            }
        }
        RawModel::Closed => {
            if raw.rate.is_some() || raw.max_in_flight.is_some() {
                return Err("`rate` and `max_in_flight` belong to model = \"open\"; a closed model takes `clients`".to_owned());
            }
            let clients = raw
                .clients
                .ok_or("model = \"closed\" needs `clients` (concurrent clients)")?;
            if !(1..=10_000).contains(&clients) {
                return Err(format!("clients = {clients} must be between 1 and 10000"));
            }
            LoadModel::Closed {
                clients,
                think_time: think_time.unwrap_or_default(),
            }
        }
    };
    match &raw.auth {
        Some(Auth::PerClientCommand(argv)) => {
            if !matches!(model, LoadModel::Closed { .. }) {
                return Err(
                    "auth.per_client_command needs model = \"closed\" (one token per client)"
                        .to_owned(),
                );
            }
            if !argv.iter().any(|arg| arg.contains("{client}")) {
                return Err("auth.per_client_command must contain `{client}` in an argument, or every client gets the same token".to_owned());
            }
        }
        Some(Auth::Command(argv)) if argv.is_empty() => {
            return Err("auth.command is empty".to_owned());
        }
        Some(Auth::Env(var)) if var.is_empty() => {
            return Err("auth.env names no variable".to_owned());
        }
        _ => {}
    }
    let warmup = raw
        .warmup
        .as_deref()
        .map(|t| duration("warmup", t))
        .transpose()?
        .unwrap_or_default();
    let measured = duration("duration", &raw.duration)?;
    if measured.is_zero() {
        return Err("duration must be above zero".to_owned());
    }
    let timeout = raw
        .timeout
        .as_deref()
        .map(|t| duration("timeout", t))
        .transpose()?
        .unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() {
        return Err("timeout must be above zero".to_owned());
    }
    let thresholds = raw
        .thresholds
        .iter()
        .map(|expression| {
            expression
                .parse::<Threshold>()
                .map_err(|error| error.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scenario {
        name: raw.name,
        method,
        path: raw.path,
        headers,
        body: raw.body.unwrap_or_default(),
        model,
        warmup,
        duration: measured,
        timeout,
        auth: raw.auth,
        thresholds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        Plan::from_toml(text, "plan.toml")
            .expect_err("the plan should be refused")
            .to_string()
    }

    const OPEN: &str = "[[scenario]]\nname = \"h\"\npath = \"/health\"\nmodel = \"open\"\nrate = 5\nduration = \"1s\"\n";

    #[test]
    fn a_minimal_open_scenario_gets_the_defaults() {
        let plan = Plan::from_toml(OPEN, "plan.toml").expect("valid plan");
        let scenario = &plan.scenarios[0];
        assert_eq!(scenario.method, Method::GET);
        assert_eq!(scenario.timeout, DEFAULT_TIMEOUT);
        assert_eq!(scenario.warmup, Duration::ZERO);
        assert_eq!(
            scenario.model,
            LoadModel::Open {
                rate: 5.0,
                max_in_flight: DEFAULT_MAX_IN_FLIGHT
            }
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_its_line() {
        let error = error_of(&format!("{OPEN}rps = 3\n"));
        assert!(error.contains("unknown field `rps`"), "{error}");
        assert!(error.contains("line 7"), "{error}");
    }

    #[test]
    fn inconsistent_models_are_refused_with_the_reason() {
        let error = error_of(&OPEN.replace("rate = 5\n", ""));
        assert!(error.contains("needs `rate`"), "{error}");
        let error = error_of(&format!("{OPEN}clients = 3\n"));
        assert!(error.contains("belong to model = \"closed\""), "{error}");
        let error = error_of(&OPEN.replace("model = \"open\"\nrate = 5", "model = \"closed\""));
        assert!(error.contains("needs `clients`"), "{error}");
    }

    #[test]
    fn per_client_tokens_need_clients_and_the_placeholder() {
        let open = format!("{OPEN}auth = {{ per_client_command = [\"mint\", \"{{client}}\"] }}\n");
        assert!(error_of(&open).contains("needs model = \"closed\""));
        let closed = "[[scenario]]\nname = \"c\"\npath = \"/\"\nmodel = \"closed\"\nclients = 2\nduration = \"1s\"\nauth = { per_client_command = [\"mint\", \"u\"] }\n";
        assert!(error_of(closed).contains("must contain `{client}`"));
    }

    #[test]
    fn bad_durations_paths_and_duplicate_names_are_refused() {
        assert!(error_of(&OPEN.replace("\"1s\"", "\"soon\"")).contains("duration = \"soon\""));
        assert!(error_of(&OPEN.replace("/health", "health")).contains("must start with `/`"));
        assert!(error_of(&format!("{OPEN}{OPEN}")).contains("two scenarios are named `h`"));
        assert!(error_of("base_url = \"http://x\"\n").contains("no [[scenario]]"));
    }
}
