//! The tower-http stack the facade and instruction benches measure Stanchion against, written
//! once so both compare with the same layers: `SetRequestId(MakeRequestUuid)` → `TraceLayer`
//! (an INFO span carrying the ID, the response event raised to INFO) → `PropagateRequestId` →
//! `CatchPanic` → `Timeout` (408 after 30 s) → `RequestBodyLimit` (1 MiB).

/// A `tower::ServiceBuilder` with the peer layers, for requests with bodies of type `$body`.
macro_rules! tower_http_peer {
    ($body:ty) => {{
        use tower_http::ServiceBuilderExt as _;
        tower::ServiceBuilder::new()
            .set_x_request_id(tower_http::request_id::MakeRequestUuid)
            .layer(
                tower_http::trace::TraceLayer::new_for_http()
                    .make_span_with(|request: &http::Request<$body>| {
                        let request_id = request
                            .extensions()
                            .get::<tower_http::request_id::RequestId>()
                            .and_then(|id| id.header_value().to_str().ok())
                            .unwrap_or_default();
                        tracing::info_span!("request", request_id = %request_id)
                    })
                    .on_response(
                        tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                    ),
            )
            .propagate_x_request_id()
            .layer(tower_http::catch_panic::CatchPanicLayer::new())
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                http::StatusCode::REQUEST_TIMEOUT,
                std::time::Duration::from_secs(30),
            ))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(1024 * 1024))
    }};
}
