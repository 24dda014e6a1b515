//! The example backend: a bearer-authenticated API built with Stanchion that proxies chat to
//! the example agent.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use example_backend::{BackendConfig, Verifier, mint_token};
//!
//! // The shipped configuration (examples/backend/config): development secret, chat on.
//! let config = BackendConfig::from_vars([("BACKEND_ADDR", "127.0.0.1:0")])?;
//! assert!(config.config().snapshot().is_enabled("auth"));
//! assert_eq!(config.agent_url(), None); // serve() would start the agent in-process
//!
//! // What `backend mint-token --sub ana --ttl-secs 60` prints.
//! let token = config.mint_token("ana", 60, None)?;
//! let secret = example_backend::DEVELOPMENT_JWT_SECRET.as_bytes();
//! assert_eq!(Verifier::new(secret).verify(&token)?.sub, "ana");
//! # let _ = mint_token(secret, "bo", 1)?;
//! # Ok(()) }
//! ```
//!
//! # Interface (other programs drive the backend through it)
//!
//! | Route | Auth | Answer |
//! |---|---|---|
//! | `POST /api/v1/chat` | bearer | `{"prompt": string}` → `{"answer": string}` from the agent |
//! | `GET /api/v1/training-plans/active` | bearer | the caller's plan; `SUBSCRIPTION_PLAN_LIMIT` for `plan: "free"` tokens |
//! | `GET /api/v1/tools` | none | `{"env", "tools": [{"slug","name","enabled","critical","reasons":[{"kind","variable"}]}]}` (public: no values, no file paths) |
//! | `GET /livez`, `/readyz`, `/health` | none | `application/health+json`; readiness checks `config`, `tools` (critical ones enabled), `agent` (its `/livez`) |
//! | `GET /metrics` | none | Prometheus text: requests by route, status and error code, auth failures, agent calls, tools, configuration, redactions, process (docs/observability.md lists them) |
//!
//! Environment: `BACKEND_ADDR` (default `127.0.0.1:8080`), `BACKEND_SHUTDOWN_DELAY_MS`
//! (default 5000: after SIGTERM the backend keeps accepting this long with `/readyz` failing,
//! then closes its listener; 0 closes it at once), `BACKEND_CONFIG_DIR` (default this
//! crate's `config/`), `APP_ENV`, `RUST_LOG`, and the variables of `config/tools.toml`:
//! `AUTH_JWT_SECRET` (secret, at least 32 characters), `AGENT_URL` (unset: the agent runs
//! in-process on a free loopback port), `AGENT_TIMEOUT_MS` (default 10000), the kill switches
//! `CHAT_DISABLED` and `TRAINING_PLANS_DISABLED`.
//!
//! # Behaviour
//!
//! - **Every failure is an envelope.** Auth: no `Authorization` → `AUTH_REQUIRED`; not a
//!   bearer token, malformed, badly signed, another algorithm → `AUTH_INVALID_TOKEN`; expired
//!   → `AUTH_EXPIRED_TOKEN` (all 401 with `WWW-Authenticate`, checked before the body is
//!   read). Body: over 1 MiB → 413, not JSON → 415, wrong shape or blank prompt →
//!   `VALIDATION_ERROR` naming the field, never echoing it.
//! - **The agent's failures are named, not relayed raw.** Unreachable →
//!   `UPSTREAM_UNAVAILABLE` (502); slower than `AGENT_TIMEOUT_MS` → `UPSTREAM_TIMEOUT` (504);
//!   an agent envelope → [`ProxyPolicy::relay`](stanchion_errors::ProxyPolicy::relay) (the
//!   forwardable `SUBSCRIPTION_QUERY_LIMIT` as is, anything else an upstream code); a 2xx that
//!   is not an answer → `UPSTREAM_ERROR` (502). The agent's body never reaches the caller.
//! - **One request, one ID.** The agent client is wrapped in
//!   [`PropagateRequestIdLayer`](stanchion_request_id::PropagateRequestIdLayer); the ID the
//!   backend sends always passes the agent's validity rule, so both services log the request
//!   under the same `requestId`.
//! - **A production server.** [`stanchion::Server`] serves the API: a slow or idle client
//!   cannot hold a connection, a head over the limits gets `HEADERS_TOO_LARGE` /
//!   `URI_TOO_LONG`, an HTTP/1.1 request without `Host` (or any request with two `Host`
//!   fields or an invalid one) gets `BAD_REQUEST`, and SIGTERM or SIGINT turns `/readyz` to
//!   `fail`, keeps accepting for `BACKEND_SHUTDOWN_DELAY_MS`, lets requests in flight finish
//!   and exits 0.
//! - **No shared-environment start with the development secret.** The development secret is
//!   read only in `development` and `test` (`config/.env.development`, `config/.env.test`);
//!   any other `APP_ENV` (staging, production) with [`DEVELOPMENT_JWT_SECRET`] (or with no
//!   secret) fails [`BackendConfig::from_env`] with a message naming the variable and where to
//!   set a real one (`AUTH_JWT_SECRET_FILE`, a mounted secret file).
//! - **Tools drive features.** A disabled `chat` or `training-plans` tool makes its route
//!   answer `NOT_FOUND`; `/api/v1/tools` says why, naming variables, never values.

mod app;
mod auth;
mod config;
mod upstream;

use std::io;

use example_agent::ServiceThread;
use stanchion::{Metrics, Telemetry};
use tracing_subscriber::fmt::MakeWriter;

#[doc(inline)]
pub use crate::{
    app::serve,
    auth::{
        ANONYMOUS_USER, AUTH_FAILURES_TOTAL, AUTH_MODE_VAR, Authenticated, Claims, HasVerifier,
        MAX_TOKEN_LEN, MintError, Verifier, mint_token, mint_token_with_plan,
    },
    config::{
        ADDR_VAR, AGENT_TIMEOUT_VAR, AGENT_URL_VAR, AUTH_TOOL, BackendConfig, CHAT_TOOL,
        CONFIG_DIR_VAR, DEFAULT_ADDR, DEVELOPMENT_JWT_SECRET, JWT_SECRET_VAR, SHUTDOWN_DELAY_VAR,
        TRAINING_PLANS_TOOL, default_config_dir,
    },
    upstream::{AgentClient, AgentUrlError, UPSTREAM_DURATION_SECONDS},
};
#[doc(inline)]
pub use example_agent::{
    Env, MODEL_PROVIDER_CONNECT_FAILED, SHARED_CODES, SUBSCRIPTION_PLAN_LIMIT,
    SUBSCRIPTION_QUERY_LIMIT, StartError,
};

/// Describes the backend's own metric families (HELP lines) to the current recorder:
/// [`AUTH_FAILURES_TOTAL`] and [`UPSTREAM_DURATION_SECONDS`].
pub fn describe_metrics() {
    metrics::describe_counter!(
        AUTH_FAILURES_TOTAL,
        "Bearer-token verifications that failed, by reason."
    );
    metrics::describe_histogram!(
        UPSTREAM_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Duration of calls to the agent, by outcome (ok or the error code returned)."
    );
}

/// Runs the backend on its own thread (see [`example_agent::runner`]), listening on
/// [`BackendConfig::addr`], logging JSON lines with `"service":"backend"` to `log_writer`,
/// redacted by the configuration's redactor, and recording metrics on the thread's own
/// recorder ([`Metrics::for_current_thread`]) unless [`BackendConfig::with_metrics`] gave one.
///
/// # Errors
///
/// When the address cannot be bound or the thread cannot be spawned.
pub fn spawn_on_thread<W>(config: BackendConfig, log_writer: W) -> io::Result<ServiceThread>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let listener = std::net::TcpListener::bind(config.addr())?;
    let subscriber = Telemetry::new("backend")
        .with_redactor(config.redactor())
        .build(log_writer);
    ServiceThread::spawn(
        "backend",
        listener,
        subscriber,
        move |listener, shutdown| {
            // On the service thread: the thread-local recorder must be set here.
            let config = match config.metrics() {
                Some(_) => config,
                None => config.with_metrics(Metrics::for_current_thread()),
            };
            serve(listener, config, shutdown)
        },
    )
}
