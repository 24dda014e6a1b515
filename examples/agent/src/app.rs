//! The agent's HTTP surface: routes, the layer stack, `serve`.

use std::{future::Future, io, sync::Arc, time::Instant};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use stanchion_config::ConfigService;
use stanchion_errors::{ApiError, GuardLayer, RenderedError, axum::Json, codes};
use stanchion_request_id::{RequestId, RequestIdLayer, TrustPolicy};
use tower_http::{
    catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer, timeout::TimeoutLayer,
};

use crate::{
    AgentConfig,
    config::{MODEL_TOOL, QUERIES_PER_MINUTE_VAR, QUOTA_TOOL},
    model::{LocalModel, QueryQuota, validate_prompt},
};

/// The header the backend names the caller in (a trusted internal hop, like the request ID).
pub const USER_ID_HEADER: &str = "x-user-id";
/// Queries of callers the backend did not name share this quota bucket.
const ANONYMOUS: &str = "anonymous";
/// The body limit, as the facade's default: 1 MiB.
const BODY_LIMIT: usize = 1024 * 1024;
/// The agent's own deadline for one request.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

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
    model: LocalModel,
    quota: Option<QueryQuota>,
}

/// The agent's router with the whole layer stack, ready to serve.
///
/// The request-ID layer trusts inbound IDs ([`TrustPolicy::AlwaysAccept`]): the agent is
/// reached only through the backend, which validated the ID at the edge, so one request keeps
/// one ID across both services.
pub fn app(config: &AgentConfig) -> Router {
    let snapshot = config.config().snapshot();
    let quota = snapshot
        .is_enabled(QUOTA_TOOL)
        .then(|| snapshot.value(QUERIES_PER_MINUTE_VAR)?.parse().ok())
        .flatten()
        .map(QueryQuota::per_minute);
    let state = Arc::new(AgentState {
        config: Arc::clone(config.config()),
        model: LocalModel::new(),
        quota,
    });
    Router::new()
        .route("/v1/chat", post(chat))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::new())
        .layer(GuardLayer::new())
        .layer(RequestIdLayer::new().with_trust_policy(TrustPolicy::AlwaysAccept))
}

/// Serves the agent on `listener` until `shutdown` resolves (then finishes the requests in
/// flight).
///
/// # Errors
///
/// The server's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: AgentConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(addr = %addr, env = config.config().snapshot().env(), "agent listening");
    axum::serve(listener, app(&config))
        .with_graceful_shutdown(shutdown)
        .await
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
        let user = headers
            .get(USER_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or(ANONYMOUS);
        if let Err(error) = quota.check(user, Instant::now()) {
            tracing::info!(errorCode = error.code().name(), "query limit reached");
            return Err(error);
        }
    }
    let answer = state.model.answer(&request.prompt);
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

async fn livez() -> Response {
    health(StatusCode::OK, r#"{"status":"pass"}"#.to_owned())
}

async fn readyz(State(state): State<Arc<AgentState>>) -> Response {
    let model = state.config.current().is_enabled(MODEL_TOOL);
    let (status, check) = if model {
        ("pass", "pass")
    } else {
        ("fail", "fail")
    };
    let body = serde_json::json!({
        "status": status,
        "checks": {
            "config:loaded": [{"status": "pass"}],
            "tool:model": [{"status": check}],
        }
    });
    let code = if model {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    health(code, body.to_string())
}

fn health(status: StatusCode, body: String) -> Response {
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
        body,
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
