//! `stanchion redact`: a filter that redacts secrets (and, with `--pii`, personal data) from
//! log lines on standard input, one line out per line in.
//!
//! Lines that look like JSON (`{` or `[` first) are redacted as JSON, so they stay valid JSON;
//! other lines are redacted as text, with control characters made visible (CWE-117). A line
//! that is not valid UTF-8 is replaced whole by `[REDACTED:invalid-utf8]` (fail closed: a
//! secret split by a bad byte would escape the rules), the filter goes on, and the exit code is
//! 2 with the line numbers on standard error. An unreadable input stops the filter with exit
//! code 2.

use std::{
    fmt::Write as _,
    io::{self, BufRead, BufWriter, Write},
    process::ExitCode,
};

use clap::{Args, ValueEnum};
use stanchion_redact::{DEFAULT_MAX_VALUE_LEN, Method, Redactor, rules};

/// What replaces an invalid UTF-8 line.
const INVALID_UTF8_MARKER: &str = "[REDACTED:invalid-utf8]";

/// Arguments of `stanchion redact`.
#[derive(Debug, Args)]
#[command(
    after_help = "Run with --help to list the rules.",
    after_long_help = rules_help()
)]
pub(crate) struct RedactArgs {
    /// Also redact personal data: email addresses, IPv4/IPv6 addresses, card numbers
    /// (Luhn-checked) and IBANs (checksum-checked).
    #[arg(long)]
    pii: bool,
    /// How a secret is replaced.
    #[arg(long, value_enum, default_value_t = MethodArg::Replace)]
    method: MethodArg,
    /// Environment variable holding the deployment key of `--method hash` (16 bytes or more).
    #[arg(long, value_name = "VAR", default_value = "STANCHION_REDACT_KEY")]
    hash_key_env: String,
    /// How each line is read.
    #[arg(long, value_enum, default_value_t = LineFormat::Auto)]
    format: LineFormat,
    /// Values (text lines, JSON strings) longer than this many bytes are replaced whole.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_VALUE_LEN)]
    max_value_len: usize,
    /// Print how many values each rule redacted to standard error at the end (counts only).
    #[arg(long)]
    stats: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MethodArg {
    /// `[REDACTED:<rule>]`.
    Replace,
    /// One `*` per character (reveals the length).
    Mask,
    /// `[REDACTED:<rule>:<hmac>]`, keyed with the deployment key (see --hash-key-env).
    Hash,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LineFormat {
    /// JSON when the line starts with `{` or `[` and parses, text otherwise.
    Auto,
    /// Every line is a JSON document (a line that does not parse is redacted as text).
    Json,
    /// Every line is text.
    Text,
}

fn rules_help() -> String {
    let mut help = String::from("Rules, in the order they apply:\n");
    for rule in rules() {
        let _ = writeln!(
            help,
            "  {:<34} {}{}",
            rule.id(),
            rule.description(),
            if rule.default_enabled() {
                ""
            } else {
                " [--pii]"
            }
        );
    }
    help.push_str(
        "\nExit status: 0 when every line was redacted and written, 2 when the configuration \
         is invalid, the input cannot be read, or a line was not valid UTF-8 (that line is \
         written as [REDACTED:invalid-utf8]).",
    );
    help
}

pub(crate) fn run(args: RedactArgs) -> ExitCode {
    let redactor = match build(&args) {
        Ok(redactor) => redactor,
        Err(message) => {
            eprintln!("stanchion redact: {message}");
            return ExitCode::from(2);
        }
    };
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    let outcome = filter(&redactor, args.format, stdin, stdout);
    if args.stats {
        for count in redactor.counts().iter().filter(|c| c.count > 0) {
            eprintln!("stanchion redact: {} {}", count.rule, count.count);
        }
    }
    match outcome {
        Ok(invalid) if invalid.is_empty() => ExitCode::SUCCESS,
        Ok(invalid) => {
            let shown: Vec<String> = invalid.iter().take(10).map(u64::to_string).collect();
            eprintln!(
                "stanchion redact: {} line(s) were not valid UTF-8 and were replaced by {} \
                 (line {}{})",
                invalid.len(),
                INVALID_UTF8_MARKER,
                shown.join(", "),
                if invalid.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            );
            ExitCode::from(2)
        }
        Err(FilterError::Read(error)) => {
            eprintln!("stanchion redact: cannot read standard input: {error}");
            ExitCode::from(2)
        }
        Err(FilterError::Write(error)) if error.kind() == io::ErrorKind::BrokenPipe => {
            // The reader went away (`| head`): nothing left to protect or report.
            ExitCode::SUCCESS
        }
        Err(FilterError::Write(error)) => {
            eprintln!("stanchion redact: cannot write standard output: {error}");
            ExitCode::from(2)
        }
    }
}

fn build(args: &RedactArgs) -> Result<Redactor, String> {
    let method = match args.method {
        MethodArg::Replace => Method::Replace,
        MethodArg::Mask => Method::Mask,
        MethodArg::Hash => Method::Hash,
    };
    let mut builder = Redactor::builder()
        .with_method(method)
        .with_pii(args.pii)
        .with_max_value_len(args.max_value_len);
    if matches!(args.method, MethodArg::Hash) {
        // SECURITY: the key comes from the environment, never from the command line, where
        // it would show in `ps` and shell history.
        let key = std::env::var(&args.hash_key_env).map_err(|_| {
            format!(
                "--method hash needs a deployment key in the environment variable {} (16 bytes \
                 or more)",
                args.hash_key_env
            )
        })?;
        builder = builder.with_hash_key(key);
    }
    builder.build().map_err(|error| error.to_string())
}

enum FilterError {
    Read(io::Error),
    Write(io::Error),
}

/// Redacts every line of `input` to `output`; returns the numbers of invalid UTF-8 lines.
fn filter(
    redactor: &Redactor,
    format: LineFormat,
    mut input: impl BufRead,
    output: impl Write,
) -> Result<Vec<u64>, FilterError> {
    let mut output = BufWriter::new(output);
    let mut buffer = Vec::new();
    let mut invalid = Vec::new();
    let mut number: u64 = 0;
    loop {
        buffer.clear();
        let read = input
            .read_until(b'\n', &mut buffer)
            .map_err(FilterError::Read)?;
        if read == 0 {
            break;
        }
        number += 1;
        let mut line: &[u8] = &buffer;
        let newline = line.ends_with(b"\n");
        if newline {
            line = &line[..line.len() - 1];
            // CRLF input gives LF output.
            line = line.strip_suffix(b"\r").unwrap_or(line);
        }
        let redacted = match std::str::from_utf8(line) {
            Ok(text) => redact_line(redactor, format, text),
            Err(_) => {
                invalid.push(number);
                std::borrow::Cow::Borrowed(INVALID_UTF8_MARKER)
            }
        };
        output
            .write_all(redacted.as_bytes())
            .map_err(FilterError::Write)?;
        if newline {
            output.write_all(b"\n").map_err(FilterError::Write)?;
        }
        // Stream: flush whenever the input has nothing more buffered (`tail -f | ...`).
        if input.fill_buf().map_err(FilterError::Read)?.is_empty() {
            output.flush().map_err(FilterError::Write)?;
        }
    }
    output.flush().map_err(FilterError::Write)?;
    Ok(invalid)
}

fn redact_line<'a>(
    redactor: &Redactor,
    format: LineFormat,
    line: &'a str,
) -> std::borrow::Cow<'a, str> {
    let json = match format {
        LineFormat::Json => true,
        LineFormat::Text => false,
        LineFormat::Auto => line.trim_start().starts_with(['{', '[']),
    };
    if json {
        redactor.redact_json_line(line)
    } else {
        redactor.redact_log_line(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_filter(format: LineFormat, input: &[u8]) -> (String, Vec<u64>) {
        let mut output = Vec::new();
        let invalid = filter(&Redactor::new(), format, input, &mut output)
            .unwrap_or_else(|_| panic!("filter failed"));
        (String::from_utf8(output).unwrap(), invalid)
    }

    #[test]
    fn keeps_one_line_per_line_and_the_final_newline_state() {
        let (out, invalid) = run_filter(LineFormat::Auto, b"a\r\nb password=x1\nc");
        assert_eq!(out, "a\nb password=[REDACTED:secret-field]\nc");
        assert!(invalid.is_empty());
    }

    #[test]
    fn invalid_lines_fail_closed() {
        let (out, invalid) = run_filter(LineFormat::Text, b"ok\n\xff secret\nok\n");
        assert_eq!(out, "ok\n[REDACTED:invalid-utf8]\nok\n");
        assert_eq!(invalid, [2]);
    }

    #[test]
    fn text_format_does_not_parse_json() {
        let (out, _) = run_filter(LineFormat::Text, b"{\"password\":\"a b\"}\n");
        assert_eq!(out, "{\"password\":\"[REDACTED:secret-field]\"}\n");
        let (out, _) = run_filter(LineFormat::Json, b"{\"password\":[1,2]}\n");
        assert_eq!(out, "{\"password\":\"[REDACTED:secret-field]\"}\n");
    }
}
