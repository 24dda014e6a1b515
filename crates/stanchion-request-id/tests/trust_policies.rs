//! The three trust policies, the header rewrite, the ID format and `traceparent` seeding.

mod common;

use common::{Seen, echoed, is_uuid, report};
use http::{HeaderName, HeaderValue, Request, Response};
use stanchion_request_id::{IdFormat, RequestIdLayer, TrustPolicy};
use tower::{Layer as _, ServiceExt as _, service_fn};

async fn call(layer: RequestIdLayer, request: Request<()>) -> (Response<()>, Seen) {
    let service = layer.layer(service_fn(report));
    let response = service.oneshot(request).await.expect("infallible");
    let seen = response.extensions().get::<Seen>().expect("seen").clone();
    (response, seen)
}

fn with_id(value: &str) -> Request<()> {
    Request::builder()
        .header("x-request-id", value)
        .body(())
        .expect("request")
}

const VALID: &str = "backend-7f3a.req:0042_x";

#[tokio::test]
async fn accept_if_valid_keeps_a_valid_inbound_id_everywhere() {
    let (response, seen) = call(RequestIdLayer::new(), with_id(VALID)).await;
    assert_eq!(echoed(&response), VALID);
    assert_eq!(seen.header.as_deref(), Some(VALID));
    assert_eq!(seen.extension.as_ref().map(|id| id.as_str()), Some(VALID));
    assert_eq!(seen.current, seen.extension);
}

#[tokio::test]
async fn missing_id_is_generated_as_uuid_v4_and_written_into_the_request_header() {
    let (response, seen) = call(RequestIdLayer::new(), Request::new(())).await;
    let id = echoed(&response);
    assert!(is_uuid(&id, '4'), "{id}");
    assert_eq!(seen.header.as_deref(), Some(id.as_str()));
    assert_eq!(
        seen.extension.as_ref().map(|i| i.as_str()),
        Some(id.as_str())
    );
}

#[tokio::test]
async fn accept_if_valid_replaces_an_invalid_id_and_inner_layers_see_only_the_new_one() {
    let (response, seen) = call(RequestIdLayer::new(), with_id("a=b")).await;
    let id = echoed(&response);
    assert!(is_uuid(&id, '4'), "{id}");
    assert_eq!(seen.header.as_deref(), Some(id.as_str()));
    assert_eq!(seen.header_count, 1);
}

#[tokio::test]
async fn always_generate_replaces_even_a_valid_inbound_id() {
    let layer = RequestIdLayer::new().with_trust_policy(TrustPolicy::AlwaysGenerate);
    let (response, seen) = call(layer, with_id(VALID)).await;
    let id = echoed(&response);
    assert_ne!(id, VALID);
    assert!(is_uuid(&id, '4'), "{id}");
    assert_eq!(seen.header.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn always_accept_keeps_a_trusted_hops_id_outside_the_charset() {
    let layer = RequestIdLayer::new().with_trust_policy(TrustPolicy::AlwaysAccept);
    let trusted = "tenant=7;trace\"x\"";
    let (response, seen) = call(layer, with_id(trusted)).await;
    assert_eq!(echoed(&response), trusted);
    assert_eq!(seen.current.as_ref().map(|id| id.as_str()), Some(trusted));
}

#[tokio::test]
async fn always_accept_still_replaces_what_fails_the_safety_floor() {
    let layer = RequestIdLayer::new().with_trust_policy(TrustPolicy::AlwaysAccept);
    let over_long = "a".repeat(129);
    let values = [
        HeaderValue::from_static(""),
        HeaderValue::from_static("has space"),
        HeaderValue::from_static("has\ttab"),
        HeaderValue::from_bytes(b"latin1-\xe9").expect("obs-text is a valid header value"),
        HeaderValue::from_str(&over_long).expect("header"),
    ];
    for value in values {
        let mut request = Request::new(());
        request.headers_mut().insert("x-request-id", value.clone());
        let (response, _) = call(layer.clone(), request).await;
        let id = echoed(&response);
        assert!(is_uuid(&id, '4'), "{value:?} was not replaced: {id}");
    }
}

#[tokio::test]
async fn a_header_sent_twice_is_replaced_by_one_id() {
    let mut request = Request::new(());
    request
        .headers_mut()
        .append("x-request-id", HeaderValue::from_static("first"));
    request
        .headers_mut()
        .append("x-request-id", HeaderValue::from_static("second"));
    let (response, seen) = call(RequestIdLayer::new(), request).await;
    let id = echoed(&response);
    assert!(is_uuid(&id, '4'), "{id}");
    assert_eq!(seen.header_count, 1);
    assert_eq!(seen.header.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn the_limit_is_configurable_and_applies_to_inbound_ids() {
    let at_limit = "x".repeat(40);
    let over_limit = "x".repeat(41);
    let layer = RequestIdLayer::new().with_max_len(40).expect("in range");
    let (response, _) = call(layer.clone(), with_id(&at_limit)).await;
    assert_eq!(echoed(&response), at_limit);
    let (response, _) = call(layer, with_id(&over_limit)).await;
    assert_ne!(echoed(&response), over_limit);
}

#[tokio::test]
async fn a_custom_header_name_is_read_and_echoed() {
    let name = HeaderName::from_static("x-correlation-id");
    let layer = RequestIdLayer::new().with_header_name(name.clone());
    let request = Request::builder()
        .header(&name, VALID)
        .body(())
        .expect("request");
    let service = layer.layer(service_fn(report));
    let response = service.oneshot(request).await.expect("infallible");
    assert_eq!(response.headers()[&name], VALID);
    assert!(response.headers().get("x-request-id").is_none());
}

#[tokio::test]
async fn uuid_v7_is_generated_when_configured() {
    let layer = RequestIdLayer::new().with_format(IdFormat::UuidV7);
    let (first, _) = call(layer.clone(), Request::new(())).await;
    let (second, _) = call(layer, Request::new(())).await;
    let (first, second) = (echoed(&first), echoed(&second));
    assert!(
        is_uuid(&first, '7') && is_uuid(&second, '7'),
        "{first} {second}"
    );
    // Time-ordered: uuid's v7 counter makes IDs of one process strictly increase.
    assert!(first < second, "{first} !< {second}");
}

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn with_traceparent(value: &str) -> Request<()> {
    Request::builder()
        .header("traceparent", value)
        .body(())
        .expect("request")
}

#[tokio::test]
async fn a_valid_traceparent_seeds_the_id_only_when_enabled_and_no_id_arrives() {
    let seeded = RequestIdLayer::new().with_traceparent_seed(true);
    let (response, _) = call(seeded.clone(), with_traceparent(TRACEPARENT)).await;
    assert_eq!(echoed(&response), "0af7651916cd43dd8448eb211c80319c");

    // Off by default.
    let (response, _) = call(RequestIdLayer::new(), with_traceparent(TRACEPARENT)).await;
    assert!(is_uuid(&echoed(&response), '4'));

    // An explicit ID wins.
    let mut request = with_traceparent(TRACEPARENT);
    request
        .headers_mut()
        .insert("x-request-id", HeaderValue::from_static(VALID));
    let (response, _) = call(seeded.clone(), request).await;
    assert_eq!(echoed(&response), VALID);

    // An edge that trusts no inbound ID trusts no inbound trace-id.
    let edge = seeded
        .clone()
        .with_trust_policy(TrustPolicy::AlwaysGenerate);
    let (response, _) = call(edge, with_traceparent(TRACEPARENT)).await;
    assert!(is_uuid(&echoed(&response), '4'));
}

#[tokio::test]
async fn an_invalid_traceparent_is_ignored_whole() {
    let seeded = RequestIdLayer::new().with_traceparent_seed(true);
    for bad in [
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 x=1",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    ] {
        let (response, _) = call(seeded.clone(), with_traceparent(bad)).await;
        assert!(is_uuid(&echoed(&response), '4'), "{bad}");
    }
}
