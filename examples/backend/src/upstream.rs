//! The backend's client for the agent: the request ID propagated, every failure mapped to a
//! code (unreachable, slow, relayed error, unreadable answer).

use std::{
    fmt,
    time::{Duration, Instant},
};

use bytes::Bytes;
use example_agent::USER_ID_HEADER;
use http::{HeaderValue, Request, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde::Deserialize;
use stanchion::{PropagateTraceContext, PropagateTraceContextLayer};
use stanchion_errors::{ApiError, ProxyPolicy, codes};
use stanchion_request_id::{PropagateRequestId, PropagateRequestIdLayer};
use tower::{Layer as _, ServiceExt as _};
use tracing::Instrument as _;

/// The largest agent answer read, in bytes. An answer is a few KiB; anything far larger is
/// not an answer worth relaying (and an error envelope over 64 KiB is not parsed anyway).
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Calls to the agent, in seconds, labelled `upstream="agent"` and `outcome` (`ok`, or the
/// error code the caller got: `UPSTREAM_UNAVAILABLE`, `UPSTREAM_TIMEOUT`, ...): a histogram.
/// Failures are the calls whose `outcome` is not `ok`.
pub const UPSTREAM_DURATION_SECONDS: &str = "backend_upstream_request_duration_seconds";

type HttpClient = PropagateRequestId<PropagateTraceContext<Client<HttpConnector, Full<Bytes>>>>;

/// Why a base URL cannot be used for the agent.
#[derive(Debug, thiserror::Error)]
#[error(
    "the agent URL must be an absolute http:// URL without a query, such as http://127.0.0.1:8081"
)]
pub struct AgentUrlError;

/// What went wrong talking to the agent, kept as an error's internal cause (logs only).
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("agent did not answer within {0:?}")]
    Timeout(Duration),
    #[error("agent request failed: {0}")]
    Transport(#[source] hyper_util::client::legacy::Error),
    #[error("agent answer could not be read: {0}")]
    Body(String),
    #[error("agent answered 2xx with a body that is not a chat answer")]
    NotAnAnswer,
}

#[derive(Deserialize)]
struct ChatAnswer {
    answer: String,
}

/// Calls the agent's `POST /v1/chat` and `GET /livez`.
///
/// The hyper-util client is wrapped in [`PropagateRequestIdLayer`], so the current request's
/// ID travels in `x-request-id` and the agent logs under the same ID, and in
/// [`PropagateTraceContextLayer`], so each call's `agent call` span travels in `traceparent`
/// and the agent's spans join the backend's trace.
#[derive(Clone)]
pub struct AgentClient {
    base: String,
    client: HttpClient,
    timeout: Duration,
    policy: ProxyPolicy,
}

impl fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentClient")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AgentClient {
    /// A client for the agent at `base_url` (`http://host:port`, optionally with a path
    /// prefix), giving up after `timeout` per call, relaying agent errors with `policy`.
    ///
    /// # Errors
    ///
    /// When `base_url` is not an absolute `http://` URL without a query.
    pub fn new(
        base_url: &str,
        timeout: Duration,
        policy: ProxyPolicy,
    ) -> Result<Self, AgentUrlError> {
        let uri: Uri = base_url.trim().parse().map_err(|_| AgentUrlError)?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() || uri.query().is_some() {
            return Err(AgentUrlError);
        }
        let base = uri.to_string().trim_end_matches('/').to_owned();
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self {
            base,
            client: PropagateRequestIdLayer::new()
                .layer(PropagateTraceContextLayer::new().layer(client)),
            timeout,
            policy,
        })
    }

    /// The agent's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Asks the agent; `user` keys its per-user quota.
    ///
    /// # Errors
    ///
    /// `UPSTREAM_UNAVAILABLE` (502) when the agent cannot be reached, `UPSTREAM_TIMEOUT` (504)
    /// when it does not answer in time, the [`ProxyPolicy`]'s answer to an agent error
    /// (a forwardable shared code as is, else an upstream code), `UPSTREAM_ERROR` (502) for a
    /// 2xx that is not a chat answer.
    pub async fn chat(&self, prompt: &str, user: &str) -> Result<String, ApiError> {
        let started = Instant::now();
        let result = self.ask(prompt, user).await;
        // The outcome is `ok` or the code the caller gets: a closed set (the taxonomy).
        let outcome = match &result {
            Ok(_) => "ok",
            Err(error) => error.code().name(),
        };
        metrics::histogram!(UPSTREAM_DURATION_SECONDS, "upstream" => "agent", "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn ask(&self, prompt: &str, user: &str) -> Result<String, ApiError> {
        let body = serde_json::json!({ "prompt": prompt }).to_string();
        let mut request = Request::post(format!("{}/v1/chat", self.base))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(ApiError::internal)?;
        // The verifier only accepts visible-ASCII subjects, so this conversion succeeds.
        if let Ok(user) = HeaderValue::from_str(user) {
            request.headers_mut().insert(USER_ID_HEADER, user);
        }
        let (status, headers, body) = self.exchange(request).await?;
        if !status.is_success() {
            return Err(self.policy.relay(status, &headers, &body));
        }
        serde_json::from_slice::<ChatAnswer>(&body)
            .map(|answer| answer.answer)
            .map_err(|_| ApiError::new(codes::UPSTREAM_ERROR).with_cause(Failure::NotAnAnswer))
    }

    /// Whether the agent's `/livez` answers 2xx within the timeout.
    ///
    /// # Errors
    ///
    /// The reason, as a short sentence for a health check's output (no body of the agent).
    pub async fn live(&self) -> Result<(), String> {
        let request = Request::get(format!("{}/livez", self.base))
            .body(Full::new(Bytes::new()))
            .map_err(|error| error.to_string())?;
        match self.exchange(request).await {
            Ok((status, _, _)) if status.is_success() => Ok(()),
            Ok((status, _, _)) => Err(format!("agent /livez answered {}", status.as_u16())),
            Err(error) => Err(format!("agent unreachable ({})", error.code().name())),
        }
    }

    /// Sends `request` and reads the whole (bounded) body, all within the timeout.
    async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes), ApiError> {
        // The client side of the hop, as its own span: the agent's request span becomes its
        // child (`otel.kind` is read by the OpenTelemetry bridge).
        let span = tracing::info_span!(
            target: "example_backend::upstream",
            "agent call",
            otel.kind = "client",
            http.request.method = request.method().as_str(),
            upstream = "agent",
        );
        let exchange = async {
            let response = self
                .client
                .clone()
                .oneshot(request)
                .await
                .map_err(|error| {
                    // Connection refused, reset or DNS failure: the agent is not there.
                    let code = if error.is_connect() {
                        codes::UPSTREAM_UNAVAILABLE
                    } else {
                        codes::UPSTREAM_ERROR
                    };
                    ApiError::new(code).with_cause(Failure::Transport(error))
                })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|error| {
                    ApiError::new(codes::UPSTREAM_ERROR)
                        .with_cause(Failure::Body(error.to_string()))
                })?
                .to_bytes();
            Ok((parts.status, parts.headers, body))
        };
        tokio::time::timeout(self.timeout, exchange.instrument(span))
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::new(codes::UPSTREAM_TIMEOUT)
                    .with_cause(Failure::Timeout(self.timeout)))
            })
    }
}
