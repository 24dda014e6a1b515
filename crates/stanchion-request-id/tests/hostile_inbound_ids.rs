//! The hostile table: every entry is replaced, never echoed, never written raw into a log line
//! (real tracing-subscriber output, JSON parsed and text scanned), and only its sanitized copy
//! reaches the span.

mod common;

use common::{Seen, capture_json, capture_text, echoed, is_uuid, report, request_span};
use http::{HeaderValue, Request};
use stanchion_request_id::{RequestIdLayer, TrustPolicy};
use stanchion_test_support::{CapturedLogs, hostile::HEADER_AND_LOG_INJECTION};
use tower::{Layer as _, ServiceExt as _, service_fn};

/// One hostile inbound value as bytes, with a name for failure messages.
struct Case {
    name: String,
    bytes: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = HEADER_AND_LOG_INJECTION
        .iter()
        .map(|h| Case {
            name: h.name.to_owned(),
            bytes: h.value.as_bytes().to_vec(),
        })
        .collect();
    let extra: &[(&str, &[u8])] = &[
        ("latin-1 bytes", b"req-\xe9t\xe9-\xff"),
        ("utf-8 non-ascii", "req-\u{00e9}t\u{00e9}".as_bytes()),
        ("fullwidth lookalike", "ｒｅｑ".as_bytes()),
        ("logfmt forgery", b"x level=error msg=\"admin login\""),
        ("ansi-like text", b"\\x1b[31mred"),
        (
            "uuid with trailing space",
            b"0b6c1c3e-4a5f-4f7e-9c1d-2f3a4b5c6d7e ",
        ),
        ("comma list", b"id1, id2"),
        ("json object close", b"abc\"}"),
        ("percent-encoded quote", b"a%22b"),
    ];
    cases.extend(extra.iter().map(|(name, bytes)| Case {
        name: (*name).to_owned(),
        bytes: bytes.to_vec(),
    }));
    cases.push(Case {
        name: "10 KB of id characters".to_owned(),
        bytes: vec![b'a'; 10 * 1024],
    });
    cases.push(Case {
        name: "10 KB of quotes and equals".to_owned(),
        bytes: b"\"=".repeat(5 * 1024),
    });
    cases
}

fn request(bytes: &[u8]) -> Request<()> {
    let mut request = Request::new(());
    let value = HeaderValue::from_bytes(bytes).expect("every case is a legal header value");
    request.headers_mut().insert("x-request-id", value);
    request
}

/// The raw value as the log capture would show it (the capture decodes lossily).
fn raw_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn run(layer: &RequestIdLayer, case: &Case) -> (String, Seen) {
    let service = layer.clone().layer(service_fn(report));
    let response = service
        .oneshot(request(&case.bytes))
        .await
        .expect("infallible");
    let seen = response.extensions().get::<Seen>().expect("seen").clone();
    (echoed(&response), seen)
}

#[tokio::test]
async fn every_hostile_id_is_replaced_and_never_echoed() {
    let _quiet = common::quiet();
    for policy in [TrustPolicy::AcceptIfValid, TrustPolicy::AlwaysGenerate] {
        let layer = RequestIdLayer::new().with_trust_policy(policy);
        for case in cases() {
            let (id, seen) = run(&layer, &case).await;
            assert!(is_uuid(&id, '4'), "{}: echoed {id:?}", case.name);
            assert_ne!(id.as_bytes(), case.bytes.as_slice(), "{}", case.name);
            assert_eq!(seen.header.as_deref(), Some(id.as_str()), "{}", case.name);
            assert_eq!(seen.header_count, 1, "{}", case.name);
        }
    }
}

#[tokio::test]
async fn json_logs_carry_only_the_sanitized_copy_of_each_hostile_id() {
    let layer = RequestIdLayer::new();
    for case in cases() {
        let logs = CapturedLogs::new();
        let _guard = capture_json(&logs);
        let (id, _) = run(&layer, &case).await;

        // Every line is valid JSON (json_lines panics otherwise), and none holds the raw value.
        let lines = logs.json_lines();
        let contents = logs.contents();
        if !case.bytes.is_empty() {
            assert!(
                !contents.contains(&raw_text(&case.bytes)),
                "{}: raw value in logs:\n{contents}",
                case.name
            );
        }

        let handled = lines
            .iter()
            .find(|line| line["fields"]["message"] == "handled")
            .unwrap_or_else(|| panic!("{}: no handler event in\n{contents}", case.name));
        let span = request_span(handled).expect("the handler event is inside the request span");
        assert_eq!(span["request_id"], id.as_str(), "{}", case.name);
        assert_eq!(
            span["client_request_id_len"],
            case.bytes.len(),
            "{}",
            case.name
        );

        let client = span["client_request_id"].as_str().expect("sanitized copy");
        assert!(client.len() <= 192, "{}: {} bytes", case.name, client.len());
        assert!(
            client
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:%".contains(&b)),
            "{}: unsafe byte in {client:?}",
            case.name
        );

        let assigned = lines
            .iter()
            .find(|line| line["fields"]["message"] == "request ID assigned")
            .expect("a DEBUG event says why");
        assert_eq!(assigned["fields"]["source"], "replaced", "{}", case.name);
        assert!(assigned["fields"]["reason"].is_string(), "{}", case.name);
        assert_eq!(request_span(assigned), Some(span), "{}", case.name);
    }
}

#[tokio::test]
async fn text_logs_never_show_a_hostile_id_raw() {
    let layer = RequestIdLayer::new();
    for case in cases().into_iter().filter(|c| !c.bytes.is_empty()) {
        let logs = CapturedLogs::new();
        let _guard = capture_text(&logs);
        let (id, _) = run(&layer, &case).await;
        let contents = logs.contents();
        assert!(
            contents.contains(&format!("request_id=\"{id}\"")),
            "{contents}"
        );
        assert!(
            !contents.contains(&raw_text(&case.bytes)),
            "{}: raw value in logs:\n{contents}",
            case.name
        );
    }
}

#[tokio::test]
async fn known_hostile_values_are_sanitized_predictably() {
    let layer = RequestIdLayer::new();
    let logs = CapturedLogs::new();
    let _guard = capture_json(&logs);
    let expected: &[(&[u8], &str)] = &[
        (b"abc\"def", "abc%22def"),
        (b"abc request_id=forged", "abc%20request_id%3Dforged"),
        (b"../../etc/passwd", "..%2F..%2Fetc%2Fpasswd"),
        (b"req-\xe9", "req-%E9"),
    ];
    for (bytes, sanitized) in expected {
        logs.clear();
        let case = Case {
            name: String::from_utf8_lossy(bytes).into_owned(),
            bytes: bytes.to_vec(),
        };
        run(&layer, &case).await;
        let lines = logs.json_lines();
        let span = lines.iter().find_map(request_span).expect("span");
        assert_eq!(span["client_request_id"], *sanitized);
    }
}
