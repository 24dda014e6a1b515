//! The example agent: a deterministic local "model" behind `POST /v1/chat`, built with
//! Stanchion, called by the example backend.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use example_agent::{AgentConfig, LocalModel, spawn_on_thread};
//!
//! // The shipped configuration (examples/agent/config) with a free loopback port, and no
//! // drain delay: nothing polls this agent's readiness before it stops.
//! let config = AgentConfig::from_vars([
//!     ("AGENT_ADDR", "127.0.0.1:0"),
//!     ("AGENT_SHUTDOWN_DELAY_MS", "0"),
//! ])?;
//! assert!(config.config().snapshot().is_enabled("model"));
//! let agent = spawn_on_thread(config, std::io::sink)?;
//! assert!(agent.addr().port() != 0);
//! agent.shutdown()?;
//!
//! // The same prompt always gets the same answer.
//! let model = LocalModel::new();
//! assert_eq!(model.answer("easy run?"), model.answer("easy run?"));
//! # Ok(()) }
//! ```
//!
//! # Interface (other programs drive the agent through it)
//!
//! - `POST /v1/chat` with `{"prompt": string}` (JSON, at most 1 MiB, prompt not blank and at
//!   most 4000 characters) answers `{"answer": string, "requestId": string}`. No bearer token:
//!   the backend hop's `x-user-id` keys the per-user query quota. It is not authenticated; a
//!   value that is not 1-128 visible ASCII characters counts as `anonymous`, and at most
//!   [`DEFAULT_MAX_TRACKED_USERS`] users are tracked at once (see [`QueryQuota`]). An
//!   inbound `x-request-id` is kept only when it passes the validity rule
//!   ([`TrustPolicy::AcceptIfValid`](stanchion_request_id::TrustPolicy); the backend's IDs
//!   always do) and replaced otherwise, so a caller reaching the port directly cannot forge
//!   log lines or echo markup through the ID.
//! - `GET /livez`, `GET /readyz`, `GET /health` (`application/health+json`; readiness checks
//!   `config`, `model` and `shutdown`), `GET /metrics` (Prometheus text).
//! - Served by [`stanchion::Server`]: header-read and idle timeouts, a connection limit,
//!   request-head limits answered with envelopes, HTTP/1.1 and h2c, graceful shutdown on
//!   SIGTERM/SIGINT with JSON `server started` / `server stopped` events.
//! - Errors are Stanchion envelopes; the agent's own codes are [`SHARED_CODES`]:
//!   `SUBSCRIPTION_QUERY_LIMIT` (429, `Retry-After`) when a user exceeds
//!   `AGENT_QUERIES_PER_MINUTE` (default 60), which the backend forwards as is;
//!   `MODEL_PROVIDER_CONNECT_FAILED` (502) when a remote provider (`MODEL_PROVIDER=http`,
//!   `MODEL_ENDPOINT`) cannot be reached, which the backend does not forward
//!   (`UPSTREAM_ERROR`).
//! - Environment: `AGENT_ADDR` (default `127.0.0.1:8081`), `AGENT_SHUTDOWN_DELAY_MS` (default
//!   5000: after SIGTERM the agent keeps accepting this long with `/readyz` failing, then
//!   closes its listener; 0 closes it at once), `AGENT_CONFIG_DIR` (default this crate's
//!   `config/`), `APP_ENV`, `RUST_LOG`, and the variables of `config/tools.toml`.
//!
//! # Behaviour
//!
//! - **No start without a model.** The `model` tool is critical: when it is disabled,
//!   [`AgentConfig::from_env`] fails with every reason.
//! - **The model key never reaches a log.** Every secret the configuration loads is
//!   registered with the agent's redactor, which filters every log line.
//! - **Deterministic answers by default.** With `MODEL_PROVIDER=local` (the shipped
//!   configuration), [`LocalModel`] uses no network and no randomness. `MODEL_PROVIDER=http`
//!   sends the prompt to `MODEL_ENDPOINT` with `MODEL_API_KEY` as a bearer token instead.
//! - **One thread per service.** [`spawn_on_thread`] runs the agent on its own thread with a
//!   current-thread runtime and its own thread-default subscriber, so a backend (or a test)
//!   can host it in-process while each service's logs stay apart.

mod app;
pub mod codes;
mod config;
mod model;
mod provider;
pub mod runner;

use std::io;

use stanchion::{Metrics, Telemetry};
use tracing_subscriber::fmt::MakeWriter;

#[doc(inline)]
pub use crate::{
    app::{ANONYMOUS, ChatRequest, ChatResponse, USER_ID_HEADER, serve},
    codes::{
        MODEL_PROVIDER_CONNECT_FAILED, SHARED_CODES, SUBSCRIPTION_PLAN_LIMIT,
        SUBSCRIPTION_QUERY_LIMIT, shared_taxonomy,
    },
    config::{
        ADDR_VAR, AgentConfig, CONFIG_DIR_VAR, DEFAULT_ADDR, DEFAULT_SHUTDOWN_DELAY, Env,
        MODEL_TOOL, QUERIES_PER_MINUTE_VAR, QUOTA_TOOL, SHUTDOWN_DELAY_VAR, StartError,
        default_config_dir, shutdown_delay, socket_addr, start_config,
    },
    model::{
        DEFAULT_MAX_TRACKED_USERS, LocalModel, MAX_PROMPT_CHARS, MAX_USER_ID_LEN, QueryQuota,
        valid_user_id, validate_prompt,
    },
    provider::{API_KEY_VAR, ENDPOINT_VAR, Model, PROVIDER_VAR, RemoteModel, TIMEOUT_VAR},
    runner::{ServiceThread, Shutdown},
};

/// Runs the agent on its own thread (see [`runner`]), listening on
/// [`AgentConfig::addr`], logging JSON lines with `"service":"agent"` to `log_writer` (e.g.
/// `std::io::stdout`, or a test's capture buffer), redacted by the configuration's redactor,
/// and recording metrics on the thread's own recorder ([`Metrics::for_current_thread`])
/// unless [`AgentConfig::with_metrics`] gave one.
///
/// # Errors
///
/// When the address cannot be bound or the thread cannot be spawned.
pub fn spawn_on_thread<W>(config: AgentConfig, log_writer: W) -> io::Result<ServiceThread>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let listener = std::net::TcpListener::bind(config.addr())?;
    let subscriber = Telemetry::new("agent")
        .with_redactor(config.redactor())
        .build(log_writer);
    ServiceThread::spawn("agent", listener, subscriber, move |listener, shutdown| {
        // On the service thread: the thread-local recorder must be set here.
        let config = match config.metrics() {
            Some(_) => config,
            None => config.with_metrics(Metrics::for_current_thread()),
        };
        serve(listener, config, shutdown)
    })
}
