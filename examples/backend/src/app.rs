//! The backend's HTTP surface: routes, the layer stack, `serve`.

use std::{future::Future, io, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use example_agent::{AgentConfig, ChatRequest, ServiceThread, shared_taxonomy, validate_prompt};
use serde::Serialize;
use serde_json::json;
use stanchion_config::ConfigService;
use stanchion_errors::{ApiError, GuardLayer, ProxyPolicy, RenderedError, axum::Json, codes};
use stanchion_request_id::RequestIdLayer;
use tower_http::{
    catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer, timeout::TimeoutLayer,
};

use crate::{
    BackendConfig, SUBSCRIPTION_PLAN_LIMIT,
    auth::{Authenticated, HasVerifier, Verifier},
    config::{CHAT_TOOL, TRAINING_PLANS_TOOL},
    upstream::AgentClient,
};

/// The body limit: 1 MiB.
const BODY_LIMIT: usize = 1024 * 1024;
/// The backend's own deadline for one request (agent calls have their own, shorter one).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The plan that does not include training plans.
const FREE_PLAN: &str = "free";

#[derive(Clone)]
struct AppState(Arc<Inner>);

struct Inner {
    config: Arc<ConfigService>,
    verifier: Verifier,
    agent: Option<AgentClient>,
}

impl HasVerifier for AppState {
    fn verifier(&self) -> &Verifier {
        &self.0.verifier
    }
}

/// `POST /api/v1/chat` response body.
#[derive(Debug, Serialize)]
struct ChatAnswer {
    answer: String,
}

/// Builds the router with the whole layer stack, calling `agent` for chat.
fn router(config: &BackendConfig, agent: Option<AgentClient>) -> io::Result<Router> {
    let secret = config.jwt_secret().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the auth tool is disabled: no AUTH_JWT_SECRET",
        )
    })?;
    let state = AppState(Arc::new(Inner {
        config: Arc::clone(config.config()),
        verifier: Verifier::new(&secret),
        agent,
    }));
    Ok(Router::new()
        .route("/api/v1/chat", post(chat))
        .route("/api/v1/training-plans/active", get(active_training_plan))
        .route("/api/v1/tools", get(tools))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/health", get(readyz))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::new())
        .layer(GuardLayer::new())
        .layer(RequestIdLayer::new()))
}

/// Serves the backend on `listener` until `shutdown` resolves (then finishes the requests in
/// flight). Without an agent URL (and with the `chat` tool enabled) it first starts the agent
/// in-process on a free loopback port, on its own thread, logging to stdout; it stops it on
/// the way out.
///
/// # Errors
///
/// The server's I/O error; `InvalidInput` for an unusable agent URL; the in-process agent's
/// start error.
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
    let app = router(&config, agent)?;
    let addr = listener.local_addr()?;
    tracing::info!(
        addr = %addr,
        env = config.config().snapshot().env(),
        agentUrl = agent_url.as_deref().unwrap_or("none (chat disabled)"),
        inProcessAgent = in_process.is_some(),
        "backend listening"
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
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
    let agent = AgentConfig::load(config.env().clone(), stanchion_redact::Redactor::new())
        .map_err(|error| io::Error::other(format!("in-process agent: {error}")))?
        .with_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
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

/// Every tool's status, reasons included; never a value (reasons name variables only).
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
                    "message": reason.message(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    axum::Json(json!({ "env": snapshot.env(), "tools": tools })).into_response()
}

async fn livez() -> Response {
    health(StatusCode::OK, json!({"status": "pass"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let snapshot = state.0.config.snapshot();
    let critical: Vec<_> = snapshot
        .critical_failures()
        .map(|tool| tool.slug())
        .collect();
    let tools = if critical.is_empty() {
        json!([{"status": "pass"}])
    } else {
        json!([{"status": "fail", "output": format!("disabled: {}", critical.join(", "))}])
    };
    let agent = match &state.0.agent {
        Some(agent) => match agent.live().await {
            Ok(()) => json!([{"status": "pass"}]),
            Err(output) => json!([{"status": "fail", "output": output}]),
        },
        None => json!([{"status": "warn", "output": "chat is disabled: no agent"}]),
    };
    let failed = !critical.is_empty() || agent[0]["status"] == "fail";
    let warned = agent[0]["status"] == "warn";
    let status = if failed {
        "fail"
    } else if warned {
        "warn"
    } else {
        "pass"
    };
    let body = json!({
        "status": status,
        "checks": {"config": [{"status": "pass"}], "tools": tools, "agent": agent},
    });
    let code = if failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    health(code, body)
}

fn health(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/health+json"),
            ),
            // A cached readiness answer is a wrong one.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.to_string(),
    )
        .into_response();
    if status.is_server_error() {
        // The rendered SERVICE_UNAVAILABLE in the extensions tells the guard layer this 503
        // is deliberate: a probe needs the checks, so the report is not replaced.
        let rendered = ApiError::new(codes::SERVICE_UNAVAILABLE)
            .to_response()
            .extensions_mut()
            .remove::<RenderedError>();
        if let Some(rendered) = rendered {
            response.extensions_mut().insert(rendered);
        }
    }
    response
}
