//! Example backend service.
//!
//! Run with `cargo run -p example-backend`; it listens on `BACKEND_ADDR` (default
//! `127.0.0.1:8080`).
//!
//! **What it does today:** `GET /health` answers `{"status":"pass"}`, and every error — an
//! unknown route, a wrong method, a timeout, a panic — leaves as the Stanchion error envelope
//! through `stanchion_errors::GuardLayer`. The chat proxy to the agent, authentication,
//! request IDs, JSON logs and the tools endpoint arrive with the end-to-end issue.

use std::{net::SocketAddr, time::Duration};

use axum::{Json, Router, http::StatusCode, routing::get};
use stanchion_errors::GuardLayer;
use tower_http::{catch_panic::CatchPanicLayer, timeout::TimeoutLayer};

/// The backend's router with its error guard.
fn app() -> Router {
    Router::new()
        .route("/health", get(|| async { Json(serde_health()) }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .layer(GuardLayer::new())
}

fn serde_health() -> std::collections::BTreeMap<&'static str, &'static str> {
    std::collections::BTreeMap::from([("status", "pass")])
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let addr = std::env::var("BACKEND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let addr: SocketAddr = match addr.parse() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("backend: BACKEND_ADDR is not a socket address ({error})");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("backend: cannot listen on {addr}: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    eprintln!("backend: listening on http://{addr}");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app())
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("backend: server error: {error}");
            std::process::ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn health_passes_and_unknown_routes_are_enveloped() {
        let response = app()
            .oneshot(
                axum::http::Request::get("/health")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let response = app()
            .oneshot(
                axum::http::Request::get("/nope")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["error"]["code"], "NOT_FOUND");
        assert_eq!(value["error"]["statusCode"], 404);
    }
}
