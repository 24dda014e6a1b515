//! The full `stanchion::Stack` per request against the tower-http layers a user would compose
//! for the same skeleton (request ID set + trace span + propagate, catch-panic, timeout, body
//! limit), over a trivial inner service, on a 200 and on a 404.
//!
//! Both stacks log through a real subscriber writing to a sink at INFO: tower-http's
//! `TraceLayer` with its response event raised to INFO and tracing-subscriber's JSON formatter;
//! Stanchion with `Telemetry` (its JSON line, redacted) and a Prometheus recorder for the
//! access log's metrics. Stanchion does more per request (envelope on errors, metrics,
//! redaction); the bench says what that costs. Every future is ready on its first poll; a
//! runtime is entered only because the timeout layers create a timer.
//!
//! Run: `cargo bench -p stanchion-benches --bench facade`

use std::{convert::Infallible, hint::black_box, time::Duration};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use stanchion::{Metrics, Stack, Telemetry};
use tower::{Service, ServiceBuilder, service_fn};
use tracing_subscriber::{fmt, layer::SubscriberExt as _};

#[macro_use]
#[path = "common/tower_http_peer.rs"]
mod tower_http_peer;

type Body = Full<Bytes>;

async fn handler<B>(request: Request<B>) -> Result<Response<Body>, Infallible> {
    let status = if request.uri().path() == "/missing" {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok(Response::builder()
        .status(status)
        .body(Body::from("ok"))
        .expect("valid response"))
}

fn request(path: &str) -> Request<Body> {
    Request::get(path)
        .body(Body::default())
        .expect("valid request")
}

fn call<S, B>(service: &mut S, request: Request<Body>) -> Response<B>
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible>,
{
    match service.call(request).now_or_never() {
        Some(Ok(response)) => response,
        Some(Err(never)) => match never {},
        None => panic!("a trivial stack completes on its first poll"),
    }
}

fn body_of<B>(response: Response<B>) -> Bytes
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    response
        .into_body()
        .collect()
        .now_or_never()
        .expect("a full body is ready")
        .expect("no body error")
        .to_bytes()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();

    let mut tower_http = tower_http_peer!(Body).service(service_fn(handler));

    let mut stanchion = ServiceBuilder::new()
        .layer(Stack::new())
        .service(service_fn(handler));

    let plain = tracing_subscriber::registry()
        .with(fmt::layer().json().with_writer(std::io::sink))
        .with(tracing_subscriber::filter::LevelFilter::INFO);
    let ours = Telemetry::new("bench")
        .with_filter("info")
        .build(std::io::sink);
    let metrics = Metrics::for_current_thread();

    // First, the output is right.
    tracing::subscriber::with_default(ours, || {
        let ok = call(&mut stanchion, request("/"));
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()["x-request-id"].len(), 36);
        assert_eq!(body_of(ok), "ok");
        let missing = call(&mut stanchion, request("/missing"));
        assert_eq!(missing.status(), 404);
        let id = missing.headers()["x-request-id"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        let body: serde_json::Value =
            serde_json::from_slice(&body_of(missing)).expect("an envelope");
        assert_eq!(body["error"]["code"], "NOT_FOUND");
        assert_eq!(body["error"]["requestId"], id.as_str());
    });
    assert!(metrics.render().contains(r#"error_code="NOT_FOUND"}"#));
    tracing::subscriber::with_default(plain, || {
        let ok = call(&mut tower_http, request("/"));
        assert_eq!(ok.headers()["x-request-id"].len(), 36);
        assert_eq!(body_of(ok), "ok");
    });

    let ours = Telemetry::new("bench")
        .with_filter("info")
        .build(std::io::sink);
    let _ours = tracing::subscriber::set_default(ours);
    for (name, path) in [("ok", "/"), ("not_found", "/missing")] {
        let mut group = c.benchmark_group(format!("facade/{name}"));
        group
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1))
            .sample_size(30);
        group.bench_function("tower_http", |b| {
            let plain = tracing_subscriber::registry()
                .with(fmt::layer().json().with_writer(std::io::sink))
                .with(tracing_subscriber::filter::LevelFilter::INFO);
            tracing::subscriber::with_default(plain, || {
                b.iter(|| black_box(body_of(call(&mut tower_http, request(path)))));
            });
        });
        group.bench_function("stanchion", |b| {
            b.iter(|| black_box(body_of(call(&mut stanchion, request(path)))));
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
