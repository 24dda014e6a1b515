//! Everything a subcommand prints goes through here, and so through the redactor.
//!
//! A configuration doctor shows non-secret values so an operator can see what won, but "not
//! declared secret" is not "safe to print": a URL carries credentials
//! (`postgres://app:pw@db`), a query carries a token (`?token=ghp_...`), and a parse or load
//! error may quote input. So no subcommand writes to stdout or stderr directly: text goes
//! through [`Redactor::redact_log_line`] line by line (control characters made visible, line
//! count kept), JSON through [`redact_json`] string by string (it stays valid JSON with its
//! shape, keys and non-string values unchanged).

use std::io;

use stanchion_redact::Redactor;

/// Redacts `text` line by line, keeping its line breaks (and a missing final one).
pub(crate) fn redact_text(redactor: &Redactor, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        out.push_str(&redactor.redact_log_line(body));
        out.push_str(newline);
    }
    out
}

/// Redacts every string of `value` in place (object keys are names from the registry and stay
/// as they are; numbers, booleans and nulls hold no secret).
pub(crate) fn redact_json(redactor: &Redactor, value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            if let std::borrow::Cow::Owned(redacted) = redactor.redact(text) {
                *text = redacted;
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                redact_json(redactor, item);
            }
        }
        serde_json::Value::Object(members) => {
            for member in members.values_mut() {
                redact_json(redactor, member);
            }
        }
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}

/// Prints `text`, redacted, to standard output.
pub(crate) fn print(redactor: &Redactor, text: &str) {
    write(&mut io::stdout().lock(), &redact_text(redactor, text));
}

/// Prints `text` as it is to standard output: only for text already redacted (JSON redacted
/// string by string by [`redact_json`]).
pub(crate) fn print_unchanged(text: &str) {
    write(&mut io::stdout().lock(), text);
}

/// Prints `text` and a newline, redacted, to standard error.
pub(crate) fn eprintln(redactor: &Redactor, text: &str) {
    let mut line = redact_text(redactor, text);
    line.push('\n');
    write(&mut io::stderr().lock(), &line);
}

fn write(out: &mut impl io::Write, text: &str) {
    // A closed pipe (`| head`) leaves nothing to report; exit codes carry the verdict.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_its_lines_and_loses_credentials() {
        let redactor = Redactor::new();
        let out = redact_text(
            &redactor,
            "a = \"postgres://app:Sup3rS3cretPw@db:5432/app\"\nb\n\nc",
        );
        assert_eq!(out.lines().count(), 4, "{out}");
        assert!(!out.contains("Sup3rS3cretPw"), "{out}");
        assert!(out.ends_with("\n\nc"), "{out}");
    }

    #[test]
    fn json_keeps_its_shape_and_loses_tokens() {
        let redactor = Redactor::new();
        let mut value = serde_json::json!({
            "secret": false,
            "line": 2,
            "value": "https://s.example/q?token=ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12",
            "list": ["plain", null],
        });
        redact_json(&redactor, &mut value);
        assert_eq!(value["secret"], false);
        assert_eq!(value["line"], 2);
        assert_eq!(value["list"][0], "plain");
        assert!(value["value"].as_str().unwrap().contains("[REDACTED:"));
    }
}

/// The `--format` of the subcommands that print either a human report or JSON for a machine.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Format {
    /// The human report.
    Text,
    /// One JSON document.
    Json,
}
