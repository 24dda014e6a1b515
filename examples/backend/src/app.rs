//! The backend's HTTP surface: routes, the layer stack, `serve`.

use std::{future::Future, io, sync::Arc};

use axum::{
    Router,
    extract::State,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use example_agent::{AgentConfig, ChatRequest, ServiceThread, shared_taxonomy, validate_prompt};
use serde::Serialize;
use serde_json::json;
use stanchion::rollout::Gate;
use stanchion::{CheckResult, Draining, Health, Metrics, PROBE_ROUTES, Server, Stack};
use stanchion_config::ConfigService;
use stanchion_errors::{ApiError, GUARD_FLAG, ProxyPolicy, axum::Json, codes};

use crate::{
    BackendConfig, SUBSCRIPTION_PLAN_LIMIT,
    auth::{AUTH_MODE_VAR, Authenticated, HasVerifier, Verifier},
    config::{CHAT_TOOL, TRAINING_PLANS_TOOL},
    upstream::AgentClient,
};

/// The plan that does not include training plans.
const FREE_PLAN: &str = "free";

#[derive(Clone)]
struct AppState(Arc<Inner>);

struct Inner {
    config: Arc<ConfigService>,
    verifier: Verifier,
    auth_gate: Gate,
    agent: Option<AgentClient>,
}

impl HasVerifier for AppState {
    fn verifier(&self) -> &Verifier {
        &self.0.verifier
    }

    fn auth_gate(&self) -> &Gate {
        &self.0.auth_gate
    }
}

/// `POST /api/v1/chat` response body.
#[derive(Debug, Serialize)]
struct ChatAnswer {
    answer: String,
}

/// Builds the router with the whole Stanchion stack (request ID, access log, guard, panic
/// catcher, 30 s timeout, 1 MiB body limit), calling `agent` for chat. Bearer authentication
/// and the guard follow the `AUTH_MODE` and `GUARD_MODE` flags of the configuration, read on
/// every request.
fn router(
    config: &BackendConfig,
    agent: Option<AgentClient>,
    metrics: Metrics,
    draining: Draining,
) -> io::Result<Router> {
    let secret = config.jwt_secret().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the auth tool is disabled: no AUTH_JWT_SECRET",
        )
    })?;
    let gate = |flag| {
        config
            .config()
            .gate(flag)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))
    };
    let guard = gate(GUARD_FLAG)?;
    let health = health(config.config(), agent.clone()).with_draining(draining);
    let state = AppState(Arc::new(Inner {
        config: Arc::clone(config.config()),
        verifier: Verifier::new(&secret),
        auth_gate: gate(AUTH_MODE_VAR)?,
        agent,
    }));
    Ok(Router::new()
        .route("/api/v1/chat", post(chat))
        .route("/api/v1/training-plans/active", get(active_training_plan))
        .route("/api/v1/tools", get(tools))
        .with_state(state)
        .merge(health.routes())
        .merge(metrics.route())
        .layer(
            Stack::new()
                .with_guard_gate(guard)
                // Probes every few seconds and scrapes: DEBUG while they succeed.
                .with_quiet_routes(PROBE_ROUTES),
        ))
}

/// Readiness: `config` and `tools` (the library's: the last refresh succeeded, every critical
/// tool enabled), `agent` (its `/livez` answers; `warn` when chat is off and there is no
/// agent), and `shutdown` (`fail` once the server is draining).
fn health(config: &Arc<ConfigService>, agent: Option<AgentClient>) -> Health {
    Health::new()
        .with_config(config)
        .with_check("agent", move || {
            let agent = agent.clone();
            async move {
                match agent {
                    Some(agent) => match agent.live().await {
                        Ok(()) => CheckResult::pass(),
                        Err(output) => CheckResult::fail(output),
                    },
                    None => CheckResult::warn("chat is disabled: no agent"),
                }
            }
        })
}

/// Serves the backend with [`stanchion::Server`] on `listener` until `shutdown` resolves
/// (then readiness fails, the listener keeps accepting for [`BackendConfig::shutdown_delay`],
/// closes, and the requests in flight finish). Logs go to the current subscriber; metrics to [`BackendConfig::with_metrics`]'s
/// recorder, else the global one (installed if needed). Without an agent URL (and with the `chat` tool enabled) it first starts the agent
/// in-process on a free loopback port, on its own thread, logging to stdout; it stops it on
/// the way out.
///
/// # Errors
///
/// The server's I/O error; `InvalidInput` for an unusable agent URL; the in-process agent's
/// start error; another global metrics recorder already installed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: BackendConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let chat_enabled = config.config().snapshot().is_enabled(CHAT_TOOL);
    let mut in_process: Option<ServiceThread> = None;
    let agent_url = match config.agent_url() {
        Some(url) => Some(url.to_owned()),
        None if chat_enabled => {
            let agent = start_in_process_agent(&config)?;
            let url = agent.base_url();
            in_process = Some(agent);
            Some(url)
        }
        None => None,
    };
    let policy = ProxyPolicy::new(shared_taxonomy().map_err(io::Error::other)?);
    let agent = agent_url
        .as_deref()
        .map(|url| AgentClient::new(url, config.agent_timeout(), policy))
        .transpose()
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let metrics = match config.metrics() {
        Some(metrics) => metrics.clone(),
        None => Metrics::install_global().map_err(io::Error::other)?,
    }
    // The configuration loaded before this recorder existed: it is replayed on every scrape.
    .with_config(config.config())
    .with_redactor(config.redactor())
    .with_build_info("backend", env!("CARGO_PKG_VERSION"));
    metrics.within(crate::describe_metrics);
    // Flags and tools change without a restart: on a change in the configuration directory,
    // and at once on SIGHUP (the rollback lever).
    let refresh = stanchion::ConfigRefresh::start(config.config())?;
    // Readiness fails at the signal while new connections are still served for the delay, so
    // a load balancer that polls `/readyz` stops routing here before connections are refused.
    let server = Server::new().with_shutdown_delay(config.shutdown_delay());
    let app = router(&config, agent, metrics, server.draining())?;
    let addr = listener.local_addr()?;
    tracing::info!(
        addr = %addr,
        env = config.config().snapshot().env(),
        agentUrl = agent_url.as_deref().unwrap_or("none (chat disabled)"),
        inProcessAgent = in_process.is_some(),
        "backend listening"
    );
    let served = server
        .serve_with_shutdown(listener, app, shutdown)
        .await
        .map(drop)
        .map_err(io::Error::from);
    drop(refresh);
    if let Some(agent) = in_process {
        // Joining waits for the agent's graceful stop: off the async threads.
        let stopped = tokio::task::spawn_blocking(move || agent.shutdown())
            .await
            .unwrap_or_else(|_| Err(io::Error::other("the agent's shutdown panicked")));
        if let Err(error) = stopped {
            tracing::warn!(error = %error, "the in-process agent stopped with an error");
        }
    }
    served
}

fn start_in_process_agent(config: &BackendConfig) -> io::Result<ServiceThread> {
    let agent = AgentConfig::load(config.env().clone(), stanchion::redact::Redactor::new())
        .map_err(|error| io::Error::other(format!("in-process agent: {error}")))?
        .with_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        // Only this backend calls it, and it is stopped after the backend drained: no load
        // balancer polls its readiness, so a delay would only slow the stop.
        .with_shutdown_delay(std::time::Duration::ZERO);
    example_agent::spawn_on_thread(agent, std::io::stdout)
}

async fn chat(
    State(state): State<AppState>,
    caller: Authenticated,
    Json(request): Json<ChatRequest>,
) -> Result<Json<ChatAnswer>, ApiError> {
    let agent = match &state.0.agent {
        Some(agent) if state.0.config.current().is_enabled(CHAT_TOOL) => agent,
        // A feature that is off is a route that is not there.
        _ => return Err(ApiError::new(codes::NOT_FOUND)),
    };
    validate_prompt(&request.prompt)?;
    match agent.chat(&request.prompt, &caller.claims.sub).await {
        Ok(answer) => {
            tracing::info!(
                answerChars = answer.chars().count(),
                "chat answered by the agent"
            );
            Ok(Json(ChatAnswer { answer }))
        }
        Err(error) => {
            // The cause is ours (a transport error, the agent's sanitized code): logs only.
            let cause = std::error::Error::source(&error)
                .map_or_else(|| "none recorded".to_owned(), ToString::to_string);
            tracing::warn!(errorCode = error.code().name(), cause = %cause, "agent call failed");
            Err(error)
        }
    }
}

async fn active_training_plan(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<Response, ApiError> {
    if !state.0.config.current().is_enabled(TRAINING_PLANS_TOOL) {
        return Err(ApiError::new(codes::NOT_FOUND));
    }
    if caller.claims.plan.as_deref() == Some(FREE_PLAN) {
        return Err(ApiError::new(SUBSCRIPTION_PLAN_LIMIT));
    }
    let plan = json!({
        "plan": {
            "id": "base-building-8w",
            "name": "8-week base building",
            "userId": caller.claims.sub,
            "weeks": 8,
            "sessions": [
                {"day": "Mon", "kind": "rest"},
                {"day": "Tue", "kind": "intervals", "minutes": 45},
                {"day": "Wed", "kind": "easy", "minutes": 40},
                {"day": "Thu", "kind": "strength", "minutes": 30},
                {"day": "Fri", "kind": "rest"},
                {"day": "Sat", "kind": "long", "minutes": 90},
                {"day": "Sun", "kind": "easy", "minutes": 30}
            ]
        }
    });
    Ok(axum::Json(plan).into_response())
}

/// Every tool's status and the kind of each reason, naming variables, never values. It is
/// public (clients use it to know which features are on), so the reasons' messages, which name
/// files and the places searched, are left out: operators read them with `stanchion config
/// explain` or in the `stanchion_config` log events.
async fn tools(State(state): State<AppState>) -> Response {
    let snapshot = state.0.config.snapshot();
    let tools: Vec<_> = snapshot
        .tools()
        .iter()
        .map(|tool| {
            json!({
                "slug": tool.slug(),
                "name": tool.name(),
                "enabled": tool.is_enabled(),
                "critical": tool.is_critical(),
                "reasons": tool.reasons().iter().map(|reason| json!({
                    "kind": reason.kind().as_str(),
                    "variable": reason.variable(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    axum::Json(json!({ "env": snapshot.env(), "tools": tools })).into_response()
}
