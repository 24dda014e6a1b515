//! Liveness and readiness in the `application/health+json` format.

use std::{collections::BTreeMap, fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use stanchion_errors::{ApiError, RenderedError, codes};
use stanchion_request_id::RequestId;

/// The media type of health reports (draft-inadarei-api-health-check).
pub const APPLICATION_HEALTH_JSON: &str = "application/health+json";

/// The default time a check may take before it counts as failed.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A check's (or a report's) status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy, with a concern worth a look (still HTTP 200).
    Warn,
    /// Not healthy (HTTP 503).
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    status: Status,
    output: Option<String>,
}

impl CheckResult {
    /// The check passed.
    #[must_use]
    pub fn pass() -> Self {
        Self {
            status: Status::Pass,
            output: None,
        }
    }

    /// The check passed with a concern, described by `output`.
    ///
    /// SECURITY: `output` is served to whoever can reach the health endpoint; write a fixed
    /// text, not an upstream's error message.
    #[must_use]
    pub fn warn(output: impl Into<String>) -> Self {
        Self {
            status: Status::Warn,
            output: Some(output.into()),
        }
    }

    /// The check failed, for the reason in `output` (public, as for [`CheckResult::warn`]).
    #[must_use]
    pub fn fail(output: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            output: Some(output.into()),
        }
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> Status {
        self.status
    }

    /// The output, if any.
    #[must_use]
    pub fn output(&self) -> Option<&str> {
        self.output.as_deref()
    }
}

type CheckFuture = Pin<Box<dyn Future<Output = CheckResult> + Send>>;
type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// Named health checks, run concurrently for readiness.
///
/// `/livez` (liveness) says only that the process serves requests: it runs no check, so a
/// failing dependency never gets the process restarted. `/readyz` (readiness) runs every
/// check; one `fail` makes the report `fail` (HTTP 503), a `warn` makes it `warn` (HTTP 200).
///
/// ```
/// use stanchion::{CheckResult, Health, health::Status};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let health = Health::new()
///     .with_check("config", || async { CheckResult::pass() })
///     .with_check("agent", || async { CheckResult::fail("agent unreachable") });
/// let report = health.readiness().await;
/// assert_eq!(report.status(), Status::Fail);
/// assert_eq!(report.http_status(), 503);
/// let body: serde_json::Value = serde_json::from_slice(&report.to_json()).unwrap();
/// assert_eq!(body["checks"]["agent"][0]["output"], "agent unreachable");
/// assert_eq!(health.liveness().status(), Status::Pass);
/// # });
/// ```
#[derive(Clone)]
#[must_use]
pub struct Health {
    checks: Vec<(Arc<str>, CheckFn)>,
    timeout: Duration,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health")
            .field(
                "checks",
                &self.checks.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

impl Health {
    /// No checks; each check may take [`DEFAULT_CHECK_TIMEOUT`].
    pub fn new() -> Self {
        Self {
            checks: Vec::new(),
            timeout: DEFAULT_CHECK_TIMEOUT,
        }
    }

    /// Adds a readiness check: `check` is called on every readiness probe and its future
    /// awaited (concurrently with the others). A check that takes longer than the timeout
    /// fails with the output `timed out`.
    pub fn with_check<F, Fut>(mut self, name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CheckResult> + Send + 'static,
    {
        let check: CheckFn = Arc::new(move || Box::pin(check()));
        self.checks.push((Arc::from(name.into()), check));
        self
    }

    /// Adds the readiness check `shutdown`: `fail` ("the server is shutting down") once
    /// `draining` began, so a load balancer stops sending requests before the listener closes.
    #[cfg(feature = "server")]
    pub fn with_draining(self, draining: crate::Draining) -> Self {
        self.with_check("shutdown", move || {
            let draining = draining.is_draining();
            async move {
                if draining {
                    CheckResult::fail("the server is shutting down")
                } else {
                    CheckResult::pass()
                }
            }
        })
    }

    /// Adds the configuration's readiness checks: `config` (`pass` while the last refresh
    /// succeeded; `warn` when it failed and the service runs on its last good snapshot) and
    /// `tools` (`fail` while a critical tool allowed in this environment is disabled, naming
    /// it with its reasons' kinds and variables: what `critical = true` promises). Both read the current snapshot on
    /// every probe, so a refresh that disables a critical tool takes the instance out of
    /// rotation.
    pub fn with_config(self, config: impl Into<stanchion_config::ConfigService>) -> Self {
        let config = config.into();
        let tools = config.clone();
        self.with_check("config", move || {
            let failures = config.refresh_failures();
            let ok = config.last_refresh_successful();
            async move {
                if ok {
                    CheckResult::pass()
                } else {
                    CheckResult::warn(format!(
                        "the last configuration refresh failed ({failures} since start); \
                         running on the last good snapshot"
                    ))
                }
            }
        })
        .with_check("tools", move || {
            // SECURITY: a health report is public; it names the tools and the kinds of their
            // reasons with the variables, never the messages (they name files and the places
            // searched): operators read those with `stanchion config explain`.
            let snapshot = tools.snapshot();
            let disabled: Vec<String> = snapshot
                .critical_failures()
                .map(|tool| {
                    let reasons: Vec<String> = tool
                        .reasons()
                        .iter()
                        .map(|reason| match reason.variable() {
                            Some(variable) => format!("{} {variable}", reason.kind().as_str()),
                            None => reason.kind().as_str().to_owned(),
                        })
                        .collect();
                    format!("{} ({})", tool.slug(), reasons.join(", "))
                })
                .collect();
            async move {
                if disabled.is_empty() {
                    CheckResult::pass()
                } else {
                    CheckResult::fail(format!("critical tools disabled: {}", disabled.join("; ")))
                }
            }
        })
    }

    /// Sets the time each check may take.
    pub fn with_check_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The liveness report: always `pass`, with no checks.
    #[must_use]
    pub fn liveness(&self) -> HealthReport {
        HealthReport {
            status: Status::Pass,
            checks: BTreeMap::new(),
        }
    }

    /// Runs every check concurrently and gathers the readiness report.
    ///
    /// Needs a tokio runtime with the time driver (for the checks' deadline).
    pub async fn readiness(&self) -> HealthReport {
        let timeout = self.timeout;
        let runs = self.checks.iter().map(|(name, check)| {
            let future = check();
            let name = Arc::clone(name);
            async move {
                let result = tokio::time::timeout(timeout, future)
                    .await
                    .unwrap_or_else(|_| CheckResult::fail("timed out"));
                (name, result)
            }
        });
        let results = futures_util::future::join_all(runs).await;
        let mut checks: BTreeMap<Arc<str>, Vec<CheckResult>> = BTreeMap::new();
        for (name, result) in results {
            checks.entry(name).or_default().push(result);
        }
        let status = checks
            .values()
            .flatten()
            .map(CheckResult::status)
            .max()
            .unwrap_or(Status::Pass);
        HealthReport { status, checks }
    }
}

/// A health report: an overall status and the checks' results by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthReport {
    status: Status,
    checks: BTreeMap<Arc<str>, Vec<CheckResult>>,
}

impl HealthReport {
    /// The overall status: the worst of the checks', `pass` without checks.
    #[must_use]
    pub fn status(&self) -> Status {
        self.status
    }

    /// The results of the check named `name`.
    #[must_use]
    pub fn check(&self, name: &str) -> Option<&[CheckResult]> {
        self.checks.get(name).map(Vec::as_slice)
    }

    /// 200 for `pass` and `warn`, 503 for `fail`.
    #[must_use]
    pub fn http_status(&self) -> StatusCode {
        match self.status {
            Status::Pass | Status::Warn => StatusCode::OK,
            Status::Fail => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The body: `{"status":"pass|warn|fail","checks":{"<name>":[{"status":"...","output":"..."}]}}`
    /// (`output` only when the check gave one).
    #[must_use]
    pub fn to_json(&self) -> Bytes {
        let checks: serde_json::Map<String, serde_json::Value> = self
            .checks
            .iter()
            .map(|(name, results)| {
                let results = results
                    .iter()
                    .map(|result| {
                        let mut object = serde_json::Map::new();
                        object.insert("status".into(), result.status.as_str().into());
                        if let Some(output) = &result.output {
                            object.insert("output".into(), output.as_str().into());
                        }
                        serde_json::Value::Object(object)
                    })
                    .collect();
                (name.to_string(), serde_json::Value::Array(results))
            })
            .collect();
        let body = serde_json::json!({ "status": self.status.as_str(), "checks": checks });
        Bytes::from(body.to_string())
    }

    /// The HTTP response: [`HealthReport::http_status`], `application/health+json`, and
    /// `Cache-Control: no-store` (a cached readiness answer is a wrong one).
    ///
    /// A `fail` report (503) carries, in its extensions, the [`RenderedError`] of
    /// `SERVICE_UNAVAILABLE` with the current request ID: the guard layer then passes the
    /// report through instead of replacing it with an envelope (a probe needs the checks),
    /// and the access log records the code. A client that asks for
    /// `application/problem+json` gets the problem document instead.
    #[must_use]
    pub fn to_response(&self) -> Response<Bytes> {
        let mut response = Response::new(self.to_json());
        *response.status_mut() = self.http_status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(APPLICATION_HEALTH_JSON),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == Status::Fail {
            let mut error = ApiError::new(codes::SERVICE_UNAVAILABLE);
            if let Some(id) = RequestId::current() {
                error = error.with_request_id(id.as_str().to_owned());
            }
            if let Some(rendered) = error
                .to_response()
                .extensions_mut()
                .remove::<RenderedError>()
            {
                response.extensions_mut().insert(rendered);
            }
        }
        response
    }
}
