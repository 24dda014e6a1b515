//! Client-side propagation over a real hyper connection on loopback: a hyper "agent" server on
//! 127.0.0.1:0 records the ID header it receives; a hyper-util legacy client behind
//! `PropagateRequestIdLayer` calls it from inside a request handled by `RequestIdLayer`.

mod common;

use std::{convert::Infallible, net::SocketAddr};

use bytes::Bytes;
use common::echoed;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use stanchion_request_id::{
    PropagateRequestIdLayer, RequestId, RequestIdLayer, fill_headers, fill_headers_named,
};
use tokio::net::TcpListener;
use tower::{Layer as _, Service as _, ServiceBuilder, ServiceExt as _, service_fn};

/// A real HTTP/1 server answering with the `x-request-id` it received (or `-`).
async fn start_agent() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |request: Request<hyper::body::Incoming>| async move {
                        let seen = request
                            .headers()
                            .get_all("x-request-id")
                            .iter()
                            .map(|v| v.to_str().unwrap_or("<bytes>").to_owned())
                            .collect::<Vec<_>>()
                            .join(",");
                        let seen = if seen.is_empty() {
                            "-".to_owned()
                        } else {
                            seen
                        };
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(seen))))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Send through the propagating client; return what the agent saw.
async fn call_agent(
    client: HttpClient,
    addr: SocketAddr,
    explicit: Option<&'static str>,
) -> String {
    let mut propagating = PropagateRequestIdLayer::new().layer(client);
    let mut request = Request::builder()
        .uri(format!("http://{addr}/v1/chat"))
        .body(Empty::<Bytes>::new())
        .expect("request");
    if let Some(value) = explicit {
        request
            .headers_mut()
            .insert("x-request-id", HeaderValue::from_static(value));
    }
    let response = propagating
        .ready()
        .await
        .expect("ready")
        .call(request)
        .await
        .expect("agent answers");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn the_agent_receives_the_backends_final_id_over_real_http() {
    let addr = start_agent().await;
    let client = client();
    let backend = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .service(service_fn(move |_: Request<()>| {
            let client = client.clone();
            async move {
                let seen = call_agent(client, addr, None).await;
                Ok::<_, Infallible>(Response::new(seen))
            }
        }));

    // Generated at the backend.
    let response = backend
        .clone()
        .oneshot(Request::new(()))
        .await
        .expect("infallible");
    assert_eq!(response.body(), &echoed(&response));

    // Accepted at the backend, so the agent's logs share the caller's ID.
    let request = Request::builder()
        .header("x-request-id", "caller-7")
        .body(())
        .expect("request");
    let response = backend.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.body(), "caller-7");

    // Replaced at the backend: the agent never sees the hostile value.
    let request = Request::builder()
        .header("x-request-id", "x\" level=error")
        .body(())
        .expect("request");
    let response = backend.oneshot(request).await.expect("infallible");
    assert_eq!(response.body(), &echoed(&response));
}

#[tokio::test]
async fn an_explicit_header_is_never_overwritten() {
    let addr = start_agent().await;
    let client = client();
    let backend = RequestIdLayer::new().layer(service_fn(move |_: Request<()>| {
        let client = client.clone();
        async move {
            Ok::<_, Infallible>(Response::new(
                call_agent(client, addr, Some("explicit-1")).await,
            ))
        }
    }));
    let response = backend.oneshot(Request::new(())).await.expect("infallible");
    assert_eq!(response.body(), "explicit-1");
}

#[tokio::test]
async fn outside_a_request_nothing_is_added() {
    let addr = start_agent().await;
    assert_eq!(call_agent(client(), addr, None).await, "-");
}

#[tokio::test]
async fn fill_headers_serves_clients_that_are_not_tower_services() {
    let id = RequestId::parse("reqwest-style-1").expect("valid");
    let (filled, explicit_kept, custom) = id
        .scope(async {
            let mut headers = HeaderMap::new();
            let filled = fill_headers(&mut headers).then(|| headers["x-request-id"].clone());

            let mut explicit = HeaderMap::new();
            explicit.insert("x-request-id", HeaderValue::from_static("mine"));
            let overwritten = fill_headers(&mut explicit);

            let mut custom = HeaderMap::new();
            let name = http::HeaderName::from_static("x-correlation-id");
            fill_headers_named(&name, &mut custom);
            (
                filled,
                (!overwritten, explicit["x-request-id"].clone()),
                custom.get(&name).cloned(),
            )
        })
        .await;
    assert_eq!(filled, Some(HeaderValue::from_static("reqwest-style-1")));
    assert_eq!(explicit_kept, (true, HeaderValue::from_static("mine")));
    assert_eq!(custom, Some(HeaderValue::from_static("reqwest-style-1")));
}
