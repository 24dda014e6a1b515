//! Routers for health and metrics (feature `axum`).

use axum::{
    Router,
    body::Body,
    response::{IntoResponse, Response},
    routing::get,
};
use http::{HeaderValue, header};

use crate::{Health, HealthReport, Metrics};

/// The content type of `/metrics`: the Prometheus text format, version 0.0.4, in UTF-8.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Health {
    /// A router serving `GET /livez` (liveness), `GET /readyz` (readiness) and `GET /health`
    /// (the same as `/readyz`). Merge it into the service's router before adding the
    /// [`crate::Stack`], so probes get request IDs and access logs too. Generic over the
    /// router's state, so it merges before or after `with_state`:
    ///
    /// ```
    /// use axum::{Router, extract::State, routing::get};
    /// use stanchion::{Health, Metrics};
    ///
    /// #[derive(Clone)]
    /// struct App { name: &'static str }
    ///
    /// let app: Router = Router::new()
    ///     .route("/name", get(|State(app): State<App>| async move { app.name }))
    ///     .merge(Health::new().routes())          // a Router<App>, merged before with_state
    ///     .merge(Metrics::for_current_thread().route())
    ///     .with_state(App { name: "jobs" });
    /// # drop(app);
    /// ```
    pub fn routes<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let live = self.clone();
        let ready = self.clone();
        let health = self;
        Router::new()
            .route("/livez", get(move || async move { live.liveness() }))
            .route(
                "/readyz",
                get(move || {
                    let ready = ready.clone();
                    async move { ready.readiness().await }
                }),
            )
            .route(
                "/health",
                get(move || {
                    let health = health.clone();
                    async move { health.readiness().await }
                }),
            )
    }
}

impl IntoResponse for HealthReport {
    fn into_response(self) -> Response {
        self.to_response().map(Body::from)
    }
}

impl Metrics {
    /// A router serving `GET /metrics` in the Prometheus text format; generic over the
    /// router's state like [`Health::routes`].
    ///
    /// SECURITY: metric labels are bounded and carry no secret, but the endpoint reveals
    /// routes and error rates; expose it on an internal listener or behind the edge.
    pub fn route<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        Router::new().route(
            "/metrics",
            get(move || {
                let metrics = self.clone();
                async move {
                    let mut response = Response::new(Body::from(metrics.render()));
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(PROMETHEUS_TEXT),
                    );
                    response
                }
            }),
        )
    }
}
