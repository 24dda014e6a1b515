//! Properties over generated input: redaction never panics, is idempotent, stays within a
//! length bound, and keeps JSON valid. Inputs are built from fragments that trigger the rules
//! (names, separators, headers, tokens, markers, quotes, control characters) mixed with random
//! text, so the properties are exercised on dirty lines, not only on clean ones.
//!
//! Case counts are modest (CI has two cores); `PROPTEST_CASES` raises them locally.

mod support;

use proptest::prelude::*;
use stanchion_redact::{MAX_MARKER_LEN, Method, Redactor};

fn fragments() -> Vec<String> {
    let mut fragments: Vec<String> = [
        "password",
        "PASSWORD",
        "api_key",
        "client_secret",
        "token",
        "max_tokens",
        "=",
        ": ",
        "=>",
        "\"",
        "'",
        "\\\"",
        " ",
        "  ",
        ",",
        ";",
        "&",
        "?",
        "{",
        "}",
        "[",
        "]",
        "Authorization: ",
        "Bearer ",
        "Basic ",
        "Cookie: ",
        "Set-Cookie: ",
        "a=b",
        "; Path=/",
        "?token=",
        "&key=",
        "https://",
        "user:pw@host",
        "curl -u ",
        "admin:hunter22",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "\\n",
        "\n",
        "\r",
        "\t",
        "\u{1b}[31m",
        "\u{202e}",
        "é",
        "[REDACTED:jwt]",
        "[REDACTED",
        "****",
        "*",
        "null",
        "eyJ",
        ".",
        "AKIA",
        "ghp_",
        "hunter22",
        "registered-secret-value",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    fragments.extend(support::tokens().token.iter().take(20).map(|t| t.full()));
    fragments
}

fn line() -> impl Strategy<Value = String> {
    let fragments = fragments();
    let piece = prop_oneof![
        3 => proptest::sample::select(fragments),
        1 => "[a-zA-Z0-9_ ]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

fn redactors() -> Vec<Redactor> {
    let replace = Redactor::builder().with_pii(true).build().expect("valid");
    replace.register_secret("REG", "registered-secret-value");
    let mask = Redactor::builder()
        .with_method(Method::Mask)
        .build()
        .expect("valid");
    let hash = Redactor::builder()
        .with_method(Method::Hash)
        .with_hash_key("a-deployment-key-of-32-bytes-xyz")
        .build()
        .expect("valid");
    vec![replace, mask, hash]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        for redactor in redactors() {
            let _ = redactor.redact(&text);
            let _ = redactor.redact_log_line(&text);
            let _ = redactor.redact_json_line(&text);
        }
    }

    #[test]
    fn never_panics_on_json_shaped_garbage(inner in any::<String>(), tail in line()) {
        // Raw (unescaped) text between JSON delimiters: escapes followed by multi-byte
        // characters, stray quotes and backslashes reach the JSON scanner.
        let line = format!("{{\"a\":\"\\{inner}\",\"b\":[\"{tail}\"]}}");
        for redactor in redactors() {
            let _ = redactor.redact_json_line(&line);
        }
    }

    #[test]
    fn idempotent(input in line()) {
        for redactor in redactors() {
            let once = redactor.redact(&input).into_owned();
            let twice = redactor.redact(&once).into_owned();
            prop_assert_eq!(&twice, &once, "input {:?}", input);
            let once = redactor.redact_log_line(&input).into_owned();
            let twice = redactor.redact_log_line(&once).into_owned();
            prop_assert_eq!(&twice, &once, "input {:?}", input);
        }
    }

    #[test]
    fn output_length_is_bounded(input in line()) {
        for redactor in redactors() {
            let before = redactor.total_count();
            let output = redactor.redact(&input);
            let redactions = redactor.total_count() - before;
            let bound = input.len() + usize::try_from(redactions).unwrap() * MAX_MARKER_LEN;
            prop_assert!(
                output.len() <= bound,
                "{} bytes out for {} in with {} redactions: {:?}",
                output.len(), input.len(), redactions, input
            );
        }
    }

    #[test]
    fn json_stays_json(keys in proptest::collection::vec(line(), 1..5), values in proptest::collection::vec(line(), 1..5)) {
        let mut object = serde_json::Map::new();
        for (key, value) in keys.iter().zip(&values) {
            object.insert(key.clone(), serde_json::json!({ "inner": value, "list": [value, 1] }));
            object.insert(format!("{key}_plain"), serde_json::Value::String(value.clone()));
        }
        let line = serde_json::Value::Object(object).to_string();
        for redactor in redactors() {
            let output = redactor.redact_json_line(&line);
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&output);
            prop_assert!(parsed.is_ok(), "not JSON: {output}\ninput: {line}");
            prop_assert!(!output.contains('\n') && !output.contains('\r'));
        }
    }
}
