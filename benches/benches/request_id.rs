//! Request ID per-request overhead: Stanchion's `RequestIdLayer` against the tower-http stack a
//! user writes for the same job (`SetRequestId` + `TraceLayer` with a span carrying the ID +
//! `PropagateRequestId`), over a trivial inner service, plus UUID v4 vs v7 generation.
//!
//! A real subscriber is installed (tracing-subscriber's JSON formatter at INFO, writing to a
//! sink), so both stacks pay for creating and formatting an enabled span, as in production.
//! Every future here is ready on its first poll, so no runtime is needed.
//!
//! Run: `cargo bench -p stanchion-benches --bench request_id`

use std::{convert::Infallible, hint::black_box, time::Duration};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use http::{HeaderValue, Request, Response};
use http_body_util::Empty;
use stanchion_request_id::{IdFormat, RequestId, RequestIdLayer};
use tower::{Service, ServiceBuilder, service_fn};
use tower_http::{
    ServiceBuilderExt as _,
    request_id::{MakeRequestUuid, RequestId as TowerRequestId},
    trace::TraceLayer,
};
use tracing_subscriber::{fmt, layer::SubscriberExt as _};

type Body = Empty<Bytes>;

const INBOUND: &str = "0b6c1c3e-4a5f-4f7e-9c1d-2f3a4b5c6d7e";

async fn handler(_: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::new()))
}

fn request(inbound: bool) -> Request<Body> {
    let mut request = Request::new(Body::new());
    if inbound {
        request
            .headers_mut()
            .insert("x-request-id", HeaderValue::from_static(INBOUND));
    }
    request
}

/// Call a service whose futures are all ready at once; the response's ID header.
fn call<S>(service: &mut S, request: Request<Body>) -> S::Response
where
    S: Service<Request<Body>, Error = Infallible>,
{
    match service.call(request).now_or_never() {
        Some(Ok(response)) => response,
        Some(Err(never)) => match never {},
        None => panic!("a trivial stack completes on its first poll"),
    }
}

fn id_of<B>(response: &Response<B>) -> &str {
    response.headers()["x-request-id"]
        .to_str()
        .expect("an ASCII ID")
}

fn bench(c: &mut Criterion) {
    let subscriber = tracing_subscriber::registry()
        .with(fmt::layer().json().with_writer(std::io::sink))
        .with(tracing_subscriber::filter::LevelFilter::INFO);
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");

    let mut bare = service_fn(handler);

    // What a user writes with tower-http to get the same behaviour (axum's request-id example).
    let mut tower_http = ServiceBuilder::new()
        .set_x_request_id(MakeRequestUuid)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
                let request_id = request
                    .extensions()
                    .get::<TowerRequestId>()
                    .and_then(|id| id.header_value().to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", request_id = %request_id)
            }),
        )
        .propagate_x_request_id()
        .service(service_fn(handler));

    let mut stanchion = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .service(service_fn(handler));

    // First, the output is right.
    for inbound in [false, true] {
        let theirs = call(&mut tower_http, request(inbound));
        let ours = call(&mut stanchion, request(inbound));
        let (theirs, ours) = (id_of(&theirs), id_of(&ours));
        assert!(RequestId::parse(ours).is_ok(), "{ours}");
        if inbound {
            assert_eq!((theirs, ours), (INBOUND, INBOUND));
        } else {
            assert_eq!((theirs.len(), ours.len()), (36, 36));
            assert_ne!(ours, INBOUND);
        }
    }
    let hostile = {
        let mut request = request(false);
        request
            .headers_mut()
            .insert("x-request-id", HeaderValue::from_static("a\" b=c"));
        request
    };
    assert_ne!(id_of(&call(&mut stanchion, hostile)), "a\" b=c");
    assert!(bare.call(request(false)).now_or_never().is_some());

    for (name, inbound) in [("generate", false), ("accept", true)] {
        let mut group = c.benchmark_group(format!("request_id/{name}"));
        group
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1))
            .sample_size(30);
        group.bench_function("bare", |b| {
            b.iter(|| black_box(call(&mut bare, request(inbound))));
        });
        group.bench_function("tower_http", |b| {
            b.iter(|| black_box(call(&mut tower_http, request(inbound))));
        });
        group.bench_function("stanchion", |b| {
            b.iter(|| black_box(call(&mut stanchion, request(inbound))));
        });
        group.finish();
    }

    let mut group = c.benchmark_group("request_id/uuid");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    assert_eq!(
        RequestId::generate(IdFormat::UuidV4).as_str().as_bytes()[14],
        b'4'
    );
    assert_eq!(
        RequestId::generate(IdFormat::UuidV7).as_str().as_bytes()[14],
        b'7'
    );
    group.bench_function("v4", |b| {
        b.iter(|| black_box(RequestId::generate(IdFormat::UuidV4)))
    });
    group.bench_function("v7", |b| {
        b.iter(|| black_box(RequestId::generate(IdFormat::UuidV7)))
    });
    // Two threads generating at once (wall time per ID): v7 shares uuid's global counter mutex.
    for (name, format) in [
        ("v4_2threads", IdFormat::UuidV4),
        ("v7_2threads", IdFormat::UuidV7),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..2 {
                        scope.spawn(|| {
                            for _ in 0..iters.div_ceil(2) {
                                black_box(RequestId::generate(format));
                            }
                        });
                    }
                });
                start.elapsed()
            });
        });
    }
    // tower-http's MakeRequestUuid path, for reference: to_string, then parse.
    group.bench_function("tower_http_v4", |b| {
        b.iter(|| {
            black_box(
                uuid::Uuid::new_v4()
                    .to_string()
                    .parse::<HeaderValue>()
                    .expect("ASCII"),
            )
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
