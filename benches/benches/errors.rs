//! Error rendering and the guard layer, side by side with what a user would write by hand.
//!
//! - `render`: an `ApiError` with a request ID and one field violation rendered to an
//!   `http::Response<Bytes>`, against a hand-written `serde_json::json!` + `Response::builder`
//!   producing the same body and headers.
//! - `guard`: the per-request cost of `GuardLayer` on a 2xx (must be near zero: the body is
//!   not touched) and on a bare 404 it rewrites, against the same service without the guard.

use std::convert::Infallible;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use stanchion_errors::{ApiError, FieldViolation, GuardLayer, codes};
use tower::{Layer, Service, ServiceExt, service_fn};

fn stanchion_render() -> Response<Bytes> {
    ApiError::new(codes::VALIDATION_ERROR)
        .with_request_id("0190a5b4-7c1e-7d2a-9f3b-5e6d7c8b9a0f")
        .with_violation(FieldViolation::new("prompt", "must not be empty"))
        .to_response()
}

fn hand_written_render() -> Response<Bytes> {
    let body = serde_json::json!({
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "The request has invalid fields.",
            "statusCode": 400,
            "requestId": "0190a5b4-7c1e-7d2a-9f3b-5e6d7c8b9a0f",
            "details": {"fieldViolations": [{"field": "prompt", "description": "must not be empty"}]}
        }
    });
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(
            serde_json::to_vec(&body).expect("serializable"),
        ))
        .expect("valid response")
}

fn render(c: &mut Criterion) {
    // Correctness first: both produce the same status, content type and JSON.
    let (ours, theirs) = (stanchion_render(), hand_written_render());
    assert_eq!(ours.status(), theirs.status());
    assert_eq!(
        ours.headers()[header::CONTENT_TYPE],
        theirs.headers()[header::CONTENT_TYPE]
    );
    let parse =
        |r: &Response<Bytes>| serde_json::from_slice::<serde_json::Value>(r.body()).expect("json");
    assert_eq!(parse(&ours), parse(&theirs));

    let mut group = c.benchmark_group("errors/render");
    group.bench_function("stanchion", |b| {
        b.iter(|| std::hint::black_box(stanchion_render()))
    });
    group.bench_function("hand_written", |b| {
        b.iter(|| std::hint::black_box(hand_written_render()))
    });
    group.finish();
}

fn respond(
    status: StatusCode,
) -> impl Service<
    Request<()>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>>,
> + Clone {
    service_fn(move |_: Request<()>| async move {
        let mut response = Response::new(Full::new(Bytes::from_static(b"hello")));
        *response.status_mut() = status;
        Ok::<_, Infallible>(response)
    })
}

fn call<S, B>(service: &mut S) -> Response<B>
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
{
    let request = Request::get("/")
        .header("x-request-id", "req-1")
        .body(())
        .expect("request");
    service
        .ready()
        .now_or_never()
        .expect("ready at once")
        .expect("infallible")
        .call(request)
        .now_or_never()
        .expect("ready at once")
        .expect("infallible")
}

fn guard(c: &mut Criterion) {
    let layer = GuardLayer::new();
    // Correctness first: 2xx bodies pass, a bare 404 becomes an envelope.
    let ok = call(&mut layer.layer(respond(StatusCode::OK)));
    let ok_body = ok
        .into_body()
        .collect()
        .now_or_never()
        .expect("ready")
        .expect("body");
    assert_eq!(ok_body.to_bytes(), "hello");
    let not_found = call(&mut layer.layer(respond(StatusCode::NOT_FOUND)));
    assert_eq!(
        not_found.headers()[header::CONTENT_TYPE],
        "application/json"
    );

    let mut group = c.benchmark_group("errors/guard");
    for (name, status) in [("2xx", StatusCode::OK), ("404", StatusCode::NOT_FOUND)] {
        let mut bare = respond(status);
        group.bench_function(format!("{name}/bare"), |b| {
            b.iter(|| std::hint::black_box(call(&mut bare)))
        });
        let mut guarded = layer.layer(respond(status));
        group.bench_function(format!("{name}/guarded"), |b| {
            b.iter(|| std::hint::black_box(call(&mut guarded)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1));
    targets = render, guard
}
criterion_main!(benches);
