//! Security suite: input validation of the backend's JSON API.
//!
//! Each case of `data/input_validation.toml` is sent to the real backend (with the real agent
//! behind it) with a valid token; the answer must be the case's status and code in an
//! envelope, must name the violated field where the case says so, and must never echo the
//! input. A rejected body never reaches the agent. `STANCHION_INPUT_CASE=<name>` runs one case.

mod common;

use common::{Client, assert_envelope, bearer, start_system, token, violated_fields};
use serde_json::Value;

const CANARY: &str = "CANARY-7731";
const CHAT: &str = "/api/v1/chat";

struct Case {
    name: String,
    body: Vec<u8>,
    content_type: Option<String>,
    status: u16,
    code: Option<String>,
    field: Option<String>,
    reaches_agent: bool,
}

fn cases() -> Vec<Case> {
    let text = include_str!("data/input_validation.toml");
    let doc: toml::Table = toml::from_str(text).expect("input_validation.toml parses");
    let mut cases: Vec<Case> = doc["cases"]
        .as_array()
        .expect("[[cases]]")
        .iter()
        .map(|case| {
            let get = |key: &str| case.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            let mut body = get("body").expect("body");
            if let Some(repeat) = case.get("repeat").and_then(toml::Value::as_integer) {
                let unit = get("repeat_text").expect("repeat_text");
                body = body.replace(
                    "{repeat}",
                    &unit.repeat(usize::try_from(repeat).expect("count")),
                );
            }
            Case {
                name: get("name").expect("name"),
                body: body.into_bytes(),
                content_type: match get("content_type") {
                    None => Some("application/json".to_owned()),
                    Some(empty) if empty.is_empty() => None,
                    Some(other) => Some(other),
                },
                status: u16::try_from(case["status"].as_integer().expect("status"))
                    .expect("a status"),
                code: get("code"),
                field: get("field"),
                reaches_agent: case
                    .get("reaches_agent")
                    .and_then(toml::Value::as_bool)
                    .unwrap_or(false),
            }
        })
        .collect();
    // Bytes a TOML string cannot hold.
    let mut invalid_utf8 = br#"{"prompt": "CANARY-7731 "#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    invalid_utf8.extend_from_slice(br#""}"#);
    cases.push(Case {
        name: "invalid UTF-8 in the prompt".to_owned(),
        body: invalid_utf8,
        content_type: Some("application/json".to_owned()),
        status: 400,
        code: Some("VALIDATION_ERROR".to_owned()),
        field: None,
        reaches_agent: false,
    });
    match std::env::var("STANCHION_INPUT_CASE") {
        Ok(only) => cases.into_iter().filter(|case| case.name == only).collect(),
        Err(_) => cases,
    }
}

fn agent_chats(system: &common::System) -> usize {
    system
        .agent
        .log_lines()
        .iter()
        .filter(|line: &&Value| line["message"] == "chat answered")
        .count()
}

#[tokio::test]
async fn every_malformed_or_hostile_body_gets_its_envelope_and_is_never_echoed() {
    let _guard = common::init();
    let system = start_system();
    let client = Client::new();
    let (auth, value) = bearer(&token("ana"));
    let cases = cases();
    assert!(!cases.is_empty(), "no case selected");
    for case in cases {
        let before = agent_chats(&system);
        let mut headers = vec![(auth, value.as_str())];
        if let Some(content_type) = &case.content_type {
            headers.push(("content-type", content_type.as_str()));
        }
        let reply = client
            .post(&system.backend.url(CHAT), &headers, case.body.clone())
            .await;
        let name = &case.name;
        assert_eq!(
            reply.status.as_u16(),
            case.status,
            "{name}: {}",
            reply.text()
        );
        if case.status >= 400 {
            let body = assert_envelope(&reply, case.status, case.code.as_deref());
            if let Some(field) = &case.field {
                assert!(
                    violated_fields(&body).contains(field),
                    "{name}: {field} not named in {body}"
                );
            }
        }
        assert!(
            !reply.everything().contains(CANARY),
            "{name}: the input came back: {}",
            reply.everything()
        );
        // The agent logs its answer asynchronously to the reply only by microseconds; the
        // backend awaited it, so its line is already captured.
        let reached = agent_chats(&system) > before;
        assert_eq!(reached, case.reaches_agent, "{name}: reached the agent");
    }
}
