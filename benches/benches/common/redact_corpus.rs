//! The redaction benches' input, written once so the wall-clock bench (`redact.rs`) and the
//! instruction-count bench (`redact_instructions.rs`) measure the same lines against the same
//! baseline: 1,000 access-log lines in tracing's text shape, every 100th with a secret, and the
//! sequential `replace_all` baseline a user writes without a prefilter.

#![allow(dead_code)] // Each bench uses its own part.

use std::borrow::Cow;

use regex::Regex;
use stanchion_redact::rules;

/// Lines per batch; every 100th line carries a secret.
pub(crate) const LINES: usize = 1000;

/// Secrets (context text, secret value), built at runtime so no token shape is committed.
pub(crate) fn secrets() -> Vec<(String, String)> {
    let pairs = [
        ("token {}", format!("ghp_{}", "Ab3xK9mQz7Rt".repeat(3))),
        ("password={}", "hunter2hunter2".to_owned()),
        (
            "Authorization: Bearer {}",
            format!(
                "eyJ{}.eyJ{}.{}",
                "Ab3xK9mQz7Rt".repeat(2),
                "Qz7RtAb3xK9m".repeat(2),
                "K9mQz7RtAb3x".repeat(3)
            ),
        ),
        ("key {}", "AKIAQRSTUVWXYZ234567".to_owned()),
        (
            "url postgres://app:{}@db.internal:5432/app",
            "s3cretpw-s3cretpw".to_owned(),
        ),
        (
            "slack {}",
            format!(
                "xoxb-{}-{}-{}",
                "123456789012",
                "210987654321",
                "Ab3xK9mQz7Rt".repeat(2)
            ),
        ),
        (
            "openai {}",
            format!(
                "sk-proj-{}T3BlbkFJ{}",
                "Ab3xK9mQz7Rt".repeat(3),
                "Ab3xK9mQz7Rt".repeat(3)
            ),
        ),
        ("stripe {}", format!("sk_live_{}", "Ab3xK9mQz7Rt".repeat(2))),
        ("cookie: sid={}; theme=dark", "Ab3xK9mQz7Rt".repeat(2)),
        ("GET /cb?code={}&state=1", "Ab3xK9mQz7Rt".repeat(2)),
    ];
    pairs
        .into_iter()
        .map(|(context, secret)| (context.replace("{}", &secret), secret))
        .collect()
}

/// A tiny deterministic generator, so every run times the same lines.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound
    }
}

const ROUTES: &[&str] = &[
    "/api/v1/chat",
    "/api/v1/training-plans/active",
    "/api/v1/tools",
    "/health",
    "/readyz",
];
const MESSAGES: &[&str] = &[
    "request completed",
    "upstream call finished",
    "cache miss, loading plan from database",
    "rate limit check passed",
    "agent responded",
];

/// One realistic text log line of about 200 bytes; with `secret`, that text is embedded.
pub(crate) fn line(rng: &mut Lcg, secret: Option<&str>) -> String {
    let message = secret.unwrap_or(MESSAGES[rng.next(MESSAGES.len())]);
    format!(
        "2026-11-22T00:{:02}:{:02}.{:03}Z  INFO http{{method=GET route={} request_id=550e8400-e29b-41d4-a716-{:012}}}: app::handler: {} status=200 latency_ms={} user_id=u-{}",
        rng.next(60),
        rng.next(60),
        rng.next(1000),
        ROUTES[rng.next(ROUTES.len())],
        rng.next(1_000_000),
        message,
        rng.next(900),
        rng.next(100_000),
    )
}

/// 1000 lines, 1% carrying a secret; the dirty lines' secrets alongside.
pub(crate) fn corpus() -> (Vec<String>, Vec<(usize, String)>) {
    let mut rng = Lcg(42);
    let secrets = secrets();
    let mut lines = Vec::with_capacity(LINES);
    let mut dirty = Vec::new();
    for i in 0..LINES {
        if i % 100 == 50 {
            let (text, secret) = &secrets[(i / 100) % secrets.len()];
            dirty.push((i, secret.clone()));
            lines.push(line(&mut rng, Some(text)));
        } else {
            lines.push(line(&mut rng, None));
        }
    }
    (lines, dirty)
}

/// The baseline: every default rule's regex, applied in sequence with `replace_all`.
pub(crate) struct Sequential(Vec<Regex>);

impl Sequential {
    pub(crate) fn new() -> Self {
        Self(
            rules()
                .filter(|rule| rule.default_enabled())
                .map(|rule| Regex::new(rule.pattern()).expect("catalogue patterns compile"))
                .collect(),
        )
    }

    pub(crate) fn redact<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(line);
        for regex in &self.0 {
            if let Cow::Owned(replaced) = regex.replace_all(&text, "[REDACTED]") {
                text = Cow::Owned(replaced);
            }
        }
        text
    }
}

/// The lines without a secret.
pub(crate) fn clean(lines: &[String], dirty: &[(usize, String)]) -> Vec<String> {
    lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !dirty.iter().any(|(d, _)| d == i))
        .map(|(_, line)| line.clone())
        .collect()
}

/// A tracing-subscriber JSON access line of ~380 bytes without a secret.
pub(crate) fn json_line(rng: &mut Lcg) -> String {
    format!(
        r#"{{"timestamp":"2026-11-22T00:{:02}:{:02}.{:06}Z","level":"INFO","target":"stanchion::access","fields":{{"message":"request finished","method":"GET","route":"{}","status":200,"latency_ms":{},"request_id":"550e8400-e29b-41d4-a716-{:012}","user_id":"u-{}"}},"span":{{"request_id":"550e8400-e29b-41d4-a716-{:012}","name":"http"}}}}"#,
        rng.next(60),
        rng.next(60),
        rng.next(1_000_000),
        ROUTES[rng.next(ROUTES.len())],
        rng.next(900),
        rng.next(1_000_000),
        rng.next(100_000),
        rng.next(1_000_000),
    )
}
