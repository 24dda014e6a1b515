//! `RequestId::current()` over the whole request future, and what `tokio::spawn` does with it.

mod common;

use std::convert::Infallible;

use common::{capture_json, echoed, request_span};
use http::{Request, Response};
use stanchion_request_id::{RequestId, RequestIdLayer};
use stanchion_test_support::CapturedLogs;
use tower::{ServiceBuilder, ServiceExt as _, service_fn};

fn with_id(id: &str) -> Request<()> {
    Request::builder()
        .header("x-request-id", id)
        .body(())
        .expect("request")
}

#[tokio::test]
async fn current_is_none_outside_any_request() {
    let _quiet = common::quiet();
    assert_eq!(RequestId::current(), None);
}

#[tokio::test]
async fn current_holds_in_the_call_across_awaits_and_in_outer_response_futures() {
    let _quiet = common::quiet();
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        // An inner layer's response future (runs after the handler's future completes).
        .map_response(|mut response: Response<Vec<Option<RequestId>>>| {
            response.body_mut().push(RequestId::current());
            response
        })
        .service(service_fn(|_: Request<()>| {
            // The synchronous part of `call`, before the future exists.
            let in_call = RequestId::current();
            async move {
                let before = RequestId::current();
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let after = RequestId::current();
                Ok::<_, Infallible>(Response::new(vec![in_call, before, after]))
            }
        }));
    let response = service
        .oneshot(with_id("deep-1"))
        .await
        .expect("infallible");
    let expected = RequestId::parse("deep-1").expect("valid");
    assert_eq!(response.body(), &vec![Some(expected); 4]);
    assert_eq!(
        RequestId::current(),
        None,
        "the scope ends with the request"
    );
}

#[tokio::test]
async fn concurrent_requests_each_see_their_own_id() {
    let _quiet = common::quiet();
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .service(service_fn(|_: Request<()>| async {
            tokio::task::yield_now().await;
            let id = RequestId::current().expect("in scope");
            Ok::<_, Infallible>(Response::new(id.to_string()))
        }));
    let calls = (0..20).map(|i| {
        let service = service.clone();
        async move {
            let id = format!("req-{i}");
            let response = service.oneshot(with_id(&id)).await.expect("infallible");
            (id, response.into_body())
        }
    });
    // Interleaved on this one task: the scope must follow each poll, not the task.
    for (sent, seen) in futures_util::future::join_all(calls).await {
        assert_eq!(sent, seen);
    }
}

#[tokio::test]
async fn plain_tokio_spawn_does_not_inherit_but_the_helpers_do() {
    let logs = CapturedLogs::new();
    let _guard = capture_json(&logs);
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .service(service_fn(|_: Request<()>| async {
            let plain = tokio::spawn(async {
                tracing::info!("plain task");
                RequestId::current()
            })
            .await
            .expect("task");
            let helped = stanchion_request_id::spawn(async {
                tracing::info!("carried task");
                RequestId::current()
            })
            .await
            .expect("task");
            let mut set = tokio::task::JoinSet::new();
            set.spawn(stanchion_request_id::carry(async { RequestId::current() }));
            let in_set = set.join_next().await.expect("one").expect("task");
            Ok::<_, Infallible>(Response::new([plain, helped, in_set]))
        }));
    let response = service
        .oneshot(with_id("parent-1"))
        .await
        .expect("infallible");
    let expected = RequestId::parse("parent-1").ok();
    let [plain, helped, in_set] = response.into_body();
    assert_eq!(plain, None, "tokio::spawn does not inherit task-locals");
    assert_eq!(helped, expected);
    assert_eq!(in_set, expected);

    let lines = logs.json_lines();
    let line = |msg: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == msg)
            .unwrap_or_else(|| panic!("no {msg}"))
            .clone()
    };
    assert!(request_span(&line("plain task")).is_none());
    assert_eq!(
        request_span(&line("carried task")).expect("span carried")["request_id"],
        "parent-1"
    );
}

#[tokio::test]
async fn scope_sets_an_id_for_work_outside_any_request() {
    let _quiet = common::quiet();
    let id = RequestId::parse("job-42").expect("valid");
    let seen = id.clone().scope(async { RequestId::current() }).await;
    assert_eq!(seen, Some(id));
    assert_eq!(RequestId::current(), None);
}

#[tokio::test]
async fn the_echoed_id_is_the_current_id() {
    let _quiet = common::quiet();
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(RequestId::current()))
        }));
    let response = service.oneshot(Request::new(())).await.expect("infallible");
    let echoed = echoed(&response);
    assert_eq!(response.into_body().map(|id| id.to_string()), Some(echoed));
}
