//! The model behind `/v1/chat`: the deterministic local model, or a remote provider reached
//! over HTTP (a third party, whose connect failure has its own code).

use std::{fmt, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Request, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use stanchion_config::Snapshot;
use stanchion_errors::{ApiError, codes};

use crate::{LocalModel, MODEL_PROVIDER_CONNECT_FAILED, StartError};

/// `MODEL_PROVIDER`: `local` or `http`.
pub const PROVIDER_VAR: &str = "MODEL_PROVIDER";
/// `MODEL_ENDPOINT`: the remote provider's URL (with `MODEL_PROVIDER=http`).
pub const ENDPOINT_VAR: &str = "MODEL_ENDPOINT";
/// `MODEL_API_KEY`: the provider's key (a secret).
pub const API_KEY_VAR: &str = "MODEL_API_KEY";
/// `MODEL_TIMEOUT_MS`: how long one remote call may take (default 20000).
pub const TIMEOUT_VAR: &str = "MODEL_TIMEOUT_MS";

/// The largest provider answer read, in bytes.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// What went wrong with the remote provider: the internal cause of the error (logs only).
#[derive(Debug, thiserror::Error)]
enum ProviderFailure {
    #[error("model provider did not answer within {0:?}")]
    Timeout(Duration),
    #[error("model provider request failed: {0}")]
    Transport(#[source] hyper_util::client::legacy::Error),
    #[error("model provider answered {0}")]
    Status(u16),
    #[error("model provider answer could not be read")]
    Unreadable,
}

#[derive(Deserialize)]
struct ProviderAnswer {
    answer: String,
}

/// The model the agent answers with, chosen by `MODEL_PROVIDER`.
#[derive(Clone)]
#[non_exhaustive]
pub enum Model {
    /// The deterministic in-process model.
    Local(LocalModel),
    /// A remote provider over HTTP (boxed: it holds a connection pool).
    Remote(Box<RemoteModel>),
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(_) => f.write_str("Model::Local"),
            Self::Remote(remote) => f.debug_tuple("Model::Remote").field(remote).finish(),
        }
    }
}

impl Model {
    /// The model a configuration snapshot asks for (the `model` tool must be enabled).
    ///
    /// # Errors
    ///
    /// [`StartError::Setting`] for `MODEL_PROVIDER=http` without a usable `MODEL_ENDPOINT`.
    pub fn from_snapshot(snapshot: &Snapshot) -> Result<Self, StartError> {
        if snapshot.value(PROVIDER_VAR) != Some("http") {
            return Ok(Self::Local(LocalModel::new()));
        }
        let endpoint = snapshot
            .value(ENDPOINT_VAR)
            .filter(|endpoint| !endpoint.is_empty())
            .and_then(|endpoint| endpoint.parse::<Uri>().ok())
            .ok_or_else(|| StartError::Setting {
                var: ENDPOINT_VAR,
                message: "must be an http:// URL when MODEL_PROVIDER=http".to_owned(),
            })?;
        let key = snapshot.secret(API_KEY_VAR).cloned().unwrap_or_default();
        let timeout = snapshot
            .value(TIMEOUT_VAR)
            .and_then(|ms| ms.parse().ok())
            .map_or(Duration::from_secs(20), Duration::from_millis);
        Ok(Self::Remote(Box::new(RemoteModel::new(
            endpoint, key, timeout,
        ))))
    }

    /// The answer to `prompt`.
    ///
    /// # Errors
    ///
    /// For a remote provider: `MODEL_PROVIDER_CONNECT_FAILED` (502) when it cannot be
    /// reached, `UPSTREAM_TIMEOUT` (504) when it is too slow, `UPSTREAM_ERROR` (502) for an
    /// error status or an unreadable answer. The local model does not fail.
    pub async fn answer(&self, prompt: &str) -> Result<String, ApiError> {
        match self {
            Self::Local(model) => Ok(model.answer(prompt)),
            Self::Remote(model) => model.answer(prompt).await,
        }
    }
}

/// A remote model provider: `POST {"prompt"}` to its endpoint with the key as a bearer
/// token, `{"answer"}` back.
#[derive(Clone)]
pub struct RemoteModel {
    endpoint: Uri,
    key: SecretString,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl fmt::Debug for RemoteModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY: the key is a secret; `SecretString` prints a placeholder anyway.
        f.debug_struct("RemoteModel")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RemoteModel {
    /// A provider at `endpoint`, authenticated with `key`, giving up after `timeout`.
    pub fn new(endpoint: Uri, key: SecretString, timeout: Duration) -> Self {
        Self {
            endpoint,
            key,
            timeout,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn answer(&self, prompt: &str) -> Result<String, ApiError> {
        let body = serde_json::json!({ "prompt": prompt }).to_string();
        let mut request = Request::post(self.endpoint.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(ApiError::internal)?;
        let bearer = format!("Bearer {}", self.key.expose_secret());
        if let Ok(mut value) = HeaderValue::from_str(&bearer) {
            // SECURITY: marks the header for HTTP/2 HPACK and for tools that honour it.
            value.set_sensitive(true);
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        let exchange = async {
            let response = self.client.request(request).await.map_err(|error| {
                let code = if error.is_connect() {
                    MODEL_PROVIDER_CONNECT_FAILED
                } else {
                    codes::UPSTREAM_ERROR
                };
                ApiError::new(code).with_cause(ProviderFailure::Transport(error))
            })?;
            let status = response.status();
            if !status.is_success() {
                return Err(ApiError::new(codes::UPSTREAM_ERROR)
                    .with_cause(ProviderFailure::Status(status.as_u16())));
            }
            let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|_| {
                    ApiError::new(codes::UPSTREAM_ERROR).with_cause(ProviderFailure::Unreadable)
                })?
                .to_bytes();
            serde_json::from_slice::<ProviderAnswer>(&bytes)
                .map(|answer| answer.answer)
                .map_err(|_| {
                    ApiError::new(codes::UPSTREAM_ERROR).with_cause(ProviderFailure::Unreadable)
                })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::new(codes::UPSTREAM_TIMEOUT)
                    .with_cause(ProviderFailure::Timeout(self.timeout)))
            })
    }
}
