//! The data-driven cases of `tests/data/`: every rule's true positives in plain text, JSON,
//! key-value and header form, and the look-alikes that must stay untouched.
//!
//! One runner collects every failure and prints each with its rule, input and output.
//! `REDACT_CASE=<rule>` runs the cases of one rule only.

mod support;

use std::{borrow::Cow, collections::BTreeSet};

use stanchion_redact::{Category, Redactor, rules};
use support::{expand, surviving_windows};

struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, rule: &str, what: &str, input: &str, output: &str) {
        if !ok {
            self.0.push(format!(
                "rule {rule}: {what}\n    input:  {input:?}\n    output: {output:?}"
            ));
        }
    }
}

fn selected(rule: &str) -> bool {
    std::env::var("REDACT_CASE").map_or(true, |only| only == rule)
}

fn redactor(pii: bool) -> Redactor {
    Redactor::builder()
        .with_pii(pii)
        .build()
        .expect("valid configuration")
}

/// The positions a token is planted in; `{}` is the token.
const TEXT_FORMS: &[(&str, &str)] = &[
    ("plain", "deploy used {} for the mirror"),
    ("start of line", "{} rejected by upstream"),
    ("end of line", "rejected by upstream: {}"),
    ("quoted", "value='{}' next"),
    ("key-value", "upstream_value={} retries=3"),
    ("header", "X-Upstream-Thing: {}"),
    ("json in text", r#"{"detail": "{}", "n": 1}"#),
    // The scans skip the time and level a text log line starts with; what follows is seen.
    (
        "after a tracing prefix",
        "2026-12-01T20:35:12Z  INFO app::deploy: used {} for the mirror",
    ),
    (
        "first after a tracing prefix",
        "2026-12-01T20:35:12Z ERROR {} rejected by upstream",
    ),
];

#[test]
fn data_driven_cases() {
    let plain = redactor(false);
    let with_pii = redactor(true);
    let mut failures = Failures(Vec::new());
    let mut positives: BTreeSet<String> = BTreeSet::new();
    let mut negatives: BTreeSet<String> = BTreeSet::new();

    for token in support::tokens().token {
        positives.insert(token.rule.clone());
        negatives.insert(token.rule.clone());
        if !selected(&token.rule) {
            continue;
        }
        let full = token.full();
        let secret = token.secret();
        let marker = format!("[REDACTED:{}]", token.rule);
        for (form, template) in TEXT_FORMS {
            let input = template.replace("{}", &full);
            let output = plain.redact(&input);
            failures.check(
                output.contains(&marker),
                &token.rule,
                &format!("{form}: expected {marker}"),
                &input,
                &output,
            );
            let windows = surviving_windows(&secret, &output);
            failures.check(
                windows.is_empty(),
                &token.rule,
                &format!("{form}: secret fragments survived: {windows:?}"),
                &input,
                &output,
            );
        }
        // A JSON log line, as tracing-subscriber writes it.
        let line = serde_json::json!({
            "level": "INFO",
            "fields": { "message": format!("calling with {full}"), "detail": full },
            "target": "app",
        })
        .to_string();
        let output = plain.redact_json_line(&line);
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&output);
        failures.check(
            parsed.is_ok(),
            &token.rule,
            "json: output is not JSON",
            &line,
            &output,
        );
        failures.check(
            output.matches(&marker).count() == 2,
            &token.rule,
            &format!("json: expected {marker} twice"),
            &line,
            &output,
        );
        let windows = surviving_windows(&secret, &output);
        failures.check(
            windows.is_empty(),
            &token.rule,
            &format!("json: secret fragments survived: {windows:?}"),
            &line,
            &output,
        );
        // A near miss: the first 12 characters alone are no token.
        let near: String = full.chars().take(12).collect();
        let input = format!("prefix {near} only");
        let output = plain.redact(&input);
        failures.check(
            matches!(output, Cow::Borrowed(_)),
            &token.rule,
            "near miss: expected untouched",
            &input,
            &output,
        );
    }

    for case in support::cases().case {
        positives.insert(case.rule.clone());
        if !selected(&case.rule) {
            continue;
        }
        let engine = if case.pii { &with_pii } else { &plain };
        let input = expand(&case.input);
        let expected = expand(&case.output);
        let output = if case.json {
            engine.redact_json_line(&input)
        } else {
            engine.redact(&input)
        };
        failures.check(
            output == expected,
            &case.rule,
            &format!("{} form: expected {expected:?}", case.form),
            &input,
            &output,
        );
        if case.json {
            failures.check(
                serde_json::from_str::<serde_json::Value>(&output).is_ok(),
                &case.rule,
                "json: output is not JSON",
                &input,
                &output,
            );
        }
    }

    for case in support::untouched().untouched {
        negatives.insert(case.rule.clone());
        if !selected(&case.rule) {
            continue;
        }
        let engine = if case.pii { &with_pii } else { &plain };
        let input = expand(&case.input);
        let output = if case.json {
            engine.redact_json_line(&input)
        } else {
            engine.redact(&input)
        };
        failures.check(
            matches!(output, Cow::Borrowed(_)) && output == input,
            &case.rule,
            "expected untouched (and borrowed)",
            &input,
            &output,
        );
    }

    // Every rule of the catalogue has true positives and look-alikes.
    if std::env::var("REDACT_CASE").is_err() {
        for rule in rules() {
            failures.check(
                positives.contains(rule.id()),
                rule.id(),
                "no true-positive case",
                "",
                "",
            );
            if rule.category() != Category::ProviderToken {
                failures.check(
                    negatives.contains(rule.id()),
                    rule.id(),
                    "no untouched case",
                    "",
                    "",
                );
            }
        }
    }

    assert!(
        failures.0.is_empty(),
        "{} redaction case(s) failed:\n{}",
        failures.0.len(),
        failures.0.join("\n")
    );
}
