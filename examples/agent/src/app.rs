//! The agent's HTTP surface: routes, the layer stack, `serve`.

use std::{future::Future, io, sync::Arc, time::Instant};

use axum::{Router, extract::State, http::HeaderMap, routing::post};
use serde::{Deserialize, Serialize};
use stanchion::{CheckResult, Draining, Health, Metrics, PROBE_ROUTES, Server, Stack};
use stanchion_config::ConfigService;
use stanchion_errors::{ApiError, GUARD_FLAG, axum::Json, codes};
use stanchion_request_id::RequestId;

use crate::{
    AgentConfig,
    config::{MODEL_TOOL, QUERIES_PER_MINUTE_VAR, QUOTA_TOOL},
    model::{QueryQuota, valid_user_id, validate_prompt},
    provider::Model,
};

/// The header the backend names the caller in. It is not authenticated: the agent only checks
/// its shape ([`valid_user_id`](crate::valid_user_id)) and uses it to key the query quota.
pub const USER_ID_HEADER: &str = "x-user-id";
/// The user of callers the backend did not name (or served without verified claims), and of
/// callers whose `x-user-id` is not a valid user ID: their queries share one quota bucket.
pub const ANONYMOUS: &str = "anonymous";

/// `POST /v1/chat` request body.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// What the user asked.
    pub prompt: String,
}

/// `POST /v1/chat` response body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatResponse {
    /// The model's answer.
    pub answer: String,
    /// The request ID the agent handled the request under (the backend's, propagated).
    pub request_id: String,
}

struct AgentState {
    config: Arc<ConfigService>,
    model: Model,
    quota: Option<QueryQuota>,
}

/// The agent's router with the whole Stanchion stack.
///
/// The request-ID layer keeps inbound IDs that pass the validity rule and replaces every
/// other value ([`TrustPolicy::AcceptIfValid`](stanchion_request_id::TrustPolicy), the
/// stack's default): the backend's IDs always pass, so one request keeps one ID across both
/// services, while a caller that reaches the agent's port directly cannot put arbitrary bytes
/// into its headers, envelopes or logs. Being an internal hop earns no more trust than that.
///
/// The guard's mode is the `GUARD_MODE` flag of the configuration, read on every request.
fn app(config: &AgentConfig, metrics: Metrics, draining: Draining) -> io::Result<Router> {
    let guard = config
        .config()
        .gate(GUARD_FLAG)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let snapshot = config.config().snapshot();
    let quota = snapshot
        .is_enabled(QUOTA_TOOL)
        .then(|| snapshot.value(QUERIES_PER_MINUTE_VAR)?.parse().ok())
        .flatten()
        .map(QueryQuota::per_minute);
    let state = Arc::new(AgentState {
        config: Arc::clone(config.config()),
        model: config.model().clone(),
        quota,
    });
    let model_config = Arc::clone(config.config());
    let health = Health::new()
        .with_draining(draining)
        // `config` and `tools`: the last refresh succeeded, every critical tool is enabled.
        .with_config(config.config())
        .with_check("model", move || {
            let enabled = model_config.current().is_enabled(MODEL_TOOL);
            async move {
                if enabled {
                    CheckResult::pass()
                } else {
                    CheckResult::fail("the model tool is disabled")
                }
            }
        });
    Ok(Router::new()
        .route("/v1/chat", post(chat))
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

/// Serves the agent with [`stanchion::Server`] on `listener` until `shutdown` resolves (then
/// readiness fails, the listener keeps accepting for [`AgentConfig::shutdown_delay`], closes,
/// and the requests in flight finish). Logs go to the current subscriber; metrics to [`AgentConfig::with_metrics`]'s
/// recorder, else the global one (installed if needed).
///
/// # Errors
///
/// The server's I/O error, or another global metrics recorder already installed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: AgentConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let metrics = match config.metrics() {
        Some(metrics) => metrics.clone(),
        None => Metrics::install_global().map_err(io::Error::other)?,
    }
    // The configuration loaded before this recorder existed: it is replayed on every scrape.
    .with_config(config.config())
    .with_redactor(config.redactor())
    .with_build_info("agent", env!("CARGO_PKG_VERSION"));
    let snapshot = config.config().snapshot();
    let addr = listener.local_addr()?;
    tracing::info!(addr = %addr, env = snapshot.env(), "agent listening");
    // Flags and tools change without a restart: on a change in the configuration directory,
    // and at once on SIGHUP (the rollback lever).
    let refresh = stanchion::ConfigRefresh::start(config.config())?;
    // Readiness fails at the signal while new connections are still served for the delay, so
    // a load balancer that polls `/readyz` stops routing here before connections are refused.
    let server = Server::new().with_shutdown_delay(config.shutdown_delay());
    let app = app(&config, metrics, server.draining())?;
    let served = server.serve_with_shutdown(listener, app, shutdown).await;
    drop(refresh);
    served?;
    Ok(())
}

async fn chat(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    Json(request): Json<ChatRequest>,
) -> Result<Json<ChatResponse>, ApiError> {
    validate_prompt(&request.prompt)?;
    if !state.config.current().is_enabled(MODEL_TOOL) {
        return Err(ApiError::new(codes::SERVICE_UNAVAILABLE));
    }
    if let Some(quota) = &state.quota {
        let user = quota_user(&headers);
        if let Err(error) = quota.check(user, Instant::now()) {
            tracing::info!(errorCode = error.code().name(), "query limit reached");
            return Err(error);
        }
    }
    let answer = match state.model.answer(&request.prompt).await {
        Ok(answer) => answer,
        Err(error) => {
            // The cause is ours (a transport error, the provider's status): logs only.
            let cause = std::error::Error::source(&error)
                .map_or_else(|| "none recorded".to_owned(), ToString::to_string);
            tracing::warn!(errorCode = error.code().name(), cause = %cause, "model call failed");
            return Err(error);
        }
    };
    tracing::info!(
        promptChars = request.prompt.chars().count(),
        answerChars = answer.chars().count(),
        "chat answered"
    );
    Ok(Json(ChatResponse {
        answer,
        request_id: RequestId::current()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
    }))
}

/// The quota key of a request: its `x-user-id` when that is a valid user ID (the backend's rule
/// for a token's `sub`), else [`ANONYMOUS`]. A direct caller's arbitrary bytes (up to the 16 KiB
/// header limit) then neither become a key of the quota's map nor spend a named user's quota
/// with a look-alike; a valid ID still can (the header is not authenticated).
fn quota_user(headers: &HeaderMap) -> &str {
    let Some(value) = headers.get(USER_ID_HEADER) else {
        return ANONYMOUS;
    };
    match value.to_str() {
        Ok(user) if valid_user_id(user) => user,
        _ => {
            // The value is whatever a caller sent: its size only, never its bytes.
            tracing::info!(
                valueBytes = value.len(),
                "x-user-id is not a valid user ID; counted as anonymous"
            );
            ANONYMOUS
        }
    }
}
