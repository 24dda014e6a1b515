//! One chat request with an inbound W3C `traceparent` is one trace across both services: the
//! backend and the agent export their spans over OTLP/HTTP (protobuf) to a receiver in this
//! test, which decodes them with the real OTLP types; the backend's request span is the
//! caller's span's child, the agent's spans descend from the backend's, and every log line of
//! the request in both services carries the inbound trace ID. A collector that is not there
//! costs a request nothing, and the lines still carry the trace ID.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use common::{
    Client, Server, System, bearer, chat_body, closed_port_url, start_agent_traced,
    start_backend_traced, start_router, token,
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{AnyValue, KeyValue, any_value::Value as AnyValueKind},
};
use prost::Message as _;
use serde_json::Value;
use stanchion::{Otel, OtelConfig};

/// How long spans may take to reach the receiver: generous for a loaded 2-core machine
/// (flushing is explicit, so a healthy run takes milliseconds).
const TRACE_DEADLINE: Duration = Duration::from_secs(30);

/// One exported span, flattened with its service.
#[derive(Clone, Debug)]
struct ReceivedSpan {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: HashMap<String, String>,
}

type Received = Arc<Mutex<Vec<ReceivedSpan>>>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(AnyValueKind::StringValue(text)) => text.clone(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

/// An OTLP/HTTP receiver: `POST /v1/traces` with `application/x-protobuf`, decoded with the
/// OTLP protobuf types. Anything else is refused, so a wrong encoding fails the test.
fn start_receiver() -> (Server, Received) {
    let received: Received = Arc::default();
    async fn traces(
        State(received): State<Received>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<([(&'static str, &'static str); 1], Vec<u8>), (axum::http::StatusCode, String)>
    {
        let content_type = headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if content_type != "application/x-protobuf" {
            return Err((
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                content_type.to_owned(),
            ));
        }
        let request = ExportTraceServiceRequest::decode(body)
            .map_err(|error| (axum::http::StatusCode::BAD_REQUEST, error.to_string()))?;
        let mut spans = received.lock().unwrap_or_else(PoisonError::into_inner);
        for resource_spans in &request.resource_spans {
            let resource = resource_spans
                .resource
                .as_ref()
                .map(|resource| attributes(&resource.attributes))
                .unwrap_or_default();
            let service = resource.get("service.name").cloned().unwrap_or_default();
            for scope_spans in &resource_spans.scope_spans {
                for span in &scope_spans.spans {
                    spans.push(ReceivedSpan {
                        service: service.clone(),
                        name: span.name.clone(),
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        attributes: attributes(&span.attributes),
                    });
                }
            }
        }
        let response = ExportTraceServiceResponse::default().encode_to_vec();
        Ok(([("content-type", "application/x-protobuf")], response))
    }
    let router = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(Arc::clone(&received));
    (start_router("otlp-receiver", router), received)
}

/// A trace ID and a parent span ID no other run uses.
fn inbound_ids() -> (String, String) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    let trace_id = format!("{:032x}", nanos ^ (u128::from(std::process::id()) << 64));
    let parent_id = format!("{:016x}", (nanos as u64) | 1);
    (trace_id, parent_id)
}

/// The two services, each with its own pipeline exporting to `endpoint` (or nowhere).
fn start_traced_system(config: &OtelConfig) -> (System, Otel, Otel) {
    let agent_otel = config
        .build("agent")
        .expect("the agent's pipeline builds")
        .expect("enabled");
    let backend_otel = config
        .build("backend")
        .expect("the backend's pipeline builds")
        .expect("enabled");
    let agent = start_agent_traced(Vec::new(), Some(agent_otel.clone()));
    let backend = start_backend_traced(agent.base_url(), Some(backend_otel.clone()));
    (System { backend, agent }, backend_otel, agent_otel)
}

async fn chat_with_traceparent(system: &System, traceparent: &str) -> (common::Reply, Duration) {
    let client = Client::new();
    let (name, value) = bearer(&token("ana"));
    let started = Instant::now();
    let reply = client
        .post(
            &system.backend.url("/api/v1/chat"),
            &[
                (name, &value),
                ("content-type", "application/json"),
                ("traceparent", traceparent),
                ("tracestate", "e2e=1"),
            ],
            chat_body("how far should I run today?"),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.text());
    (reply, elapsed)
}

/// Every line of `server` with this request ID, once its access line is written.
async fn request_lines(server: &Server, request_id: &str) -> Vec<Value> {
    server
        .wait_for_line("access log of the request", |line| {
            line["target"] == "stanchion::access" && line["requestId"] == request_id
        })
        .await;
    server
        .log_lines()
        .into_iter()
        .filter(|line| line["requestId"] == request_id)
        .collect()
}

fn assert_lines_carry_trace(server: &Server, lines: &[Value], trace_id: &str) {
    assert!(!lines.is_empty(), "{}: no line of the request", server.name);
    for line in lines {
        assert_eq!(line["traceId"], trace_id, "{}: {line}", server.name);
        let span_id = line["spanId"].as_str().unwrap_or_default();
        assert!(
            span_id.len() == 16 && span_id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{}: spanId of {line}",
            server.name
        );
    }
}

#[tokio::test]
async fn one_chat_request_is_one_trace_across_backend_and_agent() {
    let _guard = common::init();
    let (receiver, received) = start_receiver();
    let config = OtelConfig::new()
        .with_traces_endpoint(&receiver.url("/v1/traces"))
        .expect("a loopback http URL");
    let (system, backend_otel, agent_otel) = start_traced_system(&config);
    let (trace_id, parent_id) = inbound_ids();

    let (reply, _) = chat_with_traceparent(&system, &format!("00-{trace_id}-{parent_id}-01")).await;
    let request_id = reply.request_id();

    // Both services' lines of the request carry the inbound trace ID (and their own span).
    for server in [&system.backend, &system.agent] {
        let lines = request_lines(server, &request_id).await;
        assert_lines_carry_trace(server, &lines, &trace_id);
    }

    // Spans reach the receiver: flush both pipelines until the trace holds a request span
    // from each service (a span is exported once it ends, a moment after the reply).
    let deadline = Instant::now() + TRACE_DEADLINE;
    let spans = loop {
        for otel in [&backend_otel, &agent_otel] {
            otel.force_flush().expect("the receiver takes the spans");
        }
        let spans: Vec<ReceivedSpan> = received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|span| span.trace_id == trace_id)
            .cloned()
            .collect();
        let has_request = |service: &str| {
            spans
                .iter()
                .any(|span| span.service == service && span.name == "request")
        };
        if has_request("backend") && has_request("agent") {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "no request span from both services in trace {trace_id} within {TRACE_DEADLINE:?}; \
             received: {:#?}",
            received.lock().unwrap_or_else(PoisonError::into_inner)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // The backend's request span is the caller's span's child, and carries the request ID.
    let backend_request = spans
        .iter()
        .find(|span| span.service == "backend" && span.name == "request")
        .expect("found above");
    assert_eq!(
        backend_request.parent_span_id, parent_id,
        "{backend_request:#?}"
    );
    assert_eq!(
        backend_request
            .attributes
            .get("request_id")
            .map(String::as_str),
        Some(request_id.as_str()),
        "{backend_request:#?}"
    );

    // The agent's request span descends from a backend span of the same trace.
    let by_id: HashMap<&str, &ReceivedSpan> = spans
        .iter()
        .map(|span| (span.span_id.as_str(), span))
        .collect();
    let agent_request = spans
        .iter()
        .find(|span| span.service == "agent" && span.name == "request")
        .expect("found above");
    assert_eq!(
        agent_request
            .attributes
            .get("request_id")
            .map(String::as_str),
        Some(request_id.as_str()),
        "the agent's span carries the propagated request ID: {agent_request:#?}"
    );
    let mut ancestor = by_id.get(agent_request.parent_span_id.as_str()).copied();
    let mut backend_ancestor = None;
    while let Some(span) = ancestor {
        if span.service == "backend" {
            backend_ancestor = Some(span);
            break;
        }
        ancestor = by_id.get(span.parent_span_id.as_str()).copied();
    }
    let backend_ancestor = backend_ancestor
        .unwrap_or_else(|| panic!("the agent's request span has no backend ancestor: {spans:#?}"));
    assert_eq!(backend_ancestor.name, "agent call", "{spans:#?}");
}

#[tokio::test]
async fn an_unreachable_collector_costs_a_request_nothing() {
    let _guard = common::init();
    let config = OtelConfig::new()
        .with_traces_endpoint(&format!("{}/v1/traces", closed_port_url()))
        .expect("a loopback http URL")
        .with_timeout(Duration::from_secs(2));
    let (system, backend_otel, _agent_otel) = start_traced_system(&config);
    let (trace_id, parent_id) = inbound_ids();

    // Several requests, so batches are queued and failing while requests run.
    for _ in 0..3 {
        let (reply, elapsed) =
            chat_with_traceparent(&system, &format!("00-{trace_id}-{parent_id}-01")).await;
        // Generous for a loaded machine; the export is off the request path entirely.
        assert!(elapsed < Duration::from_secs(5), "a chat took {elapsed:?}");
        let request_id = reply.request_id();
        for server in [&system.backend, &system.agent] {
            let lines = request_lines(server, &request_id).await;
            assert_lines_carry_trace(server, &lines, &trace_id);
        }
    }
    // The pipeline did try: the export to the closed port fails, reported, not hung.
    let flushed = Instant::now();
    assert!(backend_otel.force_flush().is_err(), "nothing listens there");
    assert!(
        flushed.elapsed() < Duration::from_secs(10),
        "{:?}",
        flushed.elapsed()
    );
}
