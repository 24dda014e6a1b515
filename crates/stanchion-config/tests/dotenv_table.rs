//! The dotenv dialect table (`tests/data/dotenv.toml`, documented in docs/dotenv.md), run
//! through one checker. `STANCHION_DOTENV_CASE=<name>` runs one case.

use std::collections::BTreeMap;

use serde::Deserialize;
use stanchion_config::dotenv::{self, ParsedDotenv};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    input: String,
    #[serde(default)]
    expect: Option<BTreeMap<String, String>>,
    #[serde(default)]
    error: Option<ExpectedError>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    lower: BTreeMap<String, String>,
    #[serde(default)]
    lines: BTreeMap<String, usize>,
    #[serde(default)]
    duplicates: Vec<(String, usize, usize)>,
    #[serde(default)]
    #[allow(dead_code)] // Documentation for readers of the table; the runner ignores it.
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    kind: String,
    line: usize,
}

fn check(case: &Case) -> Result<(), String> {
    let result = dotenv::parse(&case.input, &case.env, &case.lower);
    match (&case.expect, &case.error, result) {
        (Some(expect), None, Ok(parsed)) => check_parsed(case, expect, &parsed),
        (None, Some(expected), Err(error)) => {
            let got = (error.kind().as_str(), error.line());
            if got != (expected.kind.as_str(), expected.line) {
                return Err(format!(
                    "expected error {}@{}, got {}@{}",
                    expected.kind, expected.line, got.0, got.1
                ));
            }
            // SECURITY: the message must not echo any part of the input.
            let message = error.to_string();
            for fragment in case.input.lines().map(str::trim).filter(|l| l.len() >= 4) {
                if message.contains(fragment) {
                    return Err(format!("error message echoes the input: {message}"));
                }
            }
            Ok(())
        }
        (Some(_), None, Err(error)) => Err(format!("expected a parse, got error: {error}")),
        (None, Some(expected), Ok(parsed)) => Err(format!(
            "expected error {}@{}, got {:?}",
            expected.kind,
            expected.line,
            parsed.to_map()
        )),
        _ => Err("a case needs exactly one of `expect` and `error`".to_owned()),
    }
}

fn check_parsed(
    case: &Case,
    expect: &BTreeMap<String, String>,
    parsed: &ParsedDotenv,
) -> Result<(), String> {
    let got = parsed.to_map();
    if &got != expect {
        return Err(format!("expected {expect:?}\n       got {got:?}"));
    }
    for (key, line) in &case.lines {
        let got = parsed.last(key).map(|entry| entry.line());
        if got != Some(*line) {
            return Err(format!("expected {key} on line {line}, got {got:?}"));
        }
    }
    let duplicates: Vec<(String, usize, usize)> = parsed
        .duplicates()
        .iter()
        .map(|dup| (dup.key.clone(), dup.earlier_line, dup.line))
        .collect();
    if duplicates != case.duplicates {
        return Err(format!(
            "expected duplicates {:?}, got {duplicates:?}",
            case.duplicates
        ));
    }
    Ok(())
}

#[test]
fn dotenv_dialect_table() {
    let table: Table = toml::from_str(include_str!("data/dotenv.toml")).expect("table parses");
    assert!(
        table.case.len() >= 40,
        "the table documents at least 40 cases"
    );
    let only = std::env::var("STANCHION_DOTENV_CASE").ok();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in &table.case {
        if only.as_deref().is_some_and(|name| name != case.name) {
            continue;
        }
        ran += 1;
        if let Err(why) = check(case) {
            failures.push(format!(
                "case {} (input {:?}):\n  {why}",
                case.name, case.input
            ));
        }
    }
    assert!(ran > 0, "no case matched STANCHION_DOTENV_CASE");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
