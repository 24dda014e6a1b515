//! `stanchion redact`: a filter that redacts secrets (and, with `--pii`, personal data) from
//! log lines on standard input, one line out per line in.
//!
//! Lines that look like JSON (`{` or `[` first) are redacted as JSON, so they stay valid JSON;
//! other lines are redacted as text, with control characters made visible (CWE-117). A line
//! that is not valid UTF-8 is replaced whole by `[REDACTED:invalid-utf8]` (fail closed: a
//! secret split by a bad byte would escape the rules), the filter goes on, and the exit code is
//! 2 with the line numbers on standard error. An unreadable input stops the filter with exit
//! code 2.
//!
//! A private key written over many lines (PEM, OpenSSH, PGP) is held back from its BEGIN line
//! to its END line and redacted whole, still one line out per line in: every line of the block
//! is written as the marker. Without an END line the block ends at the size limit
//! (`--max-value-len`; everything up to it is redacted), at a JSON line, or at the end of the
//! input.

use std::{
    fmt::Write as _,
    io::{self, BufRead, BufWriter, Write},
    process::ExitCode,
};

use clap::{Args, ValueEnum};
use stanchion_redact::{
    DEFAULT_MAX_VALUE_LEN, Method, Redactor, private_key_block_end, private_key_block_start, rules,
};

/// What replaces an invalid UTF-8 line.
const INVALID_UTF8_MARKER: &str = "[REDACTED:invalid-utf8]";

/// What replaces a private-key block when the engine did not turn it into one marker.
const PRIVATE_KEY_MARKER: &str = "[REDACTED:private-key]";

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
///
/// One line out per line in, always (a checker may compare line counts). A private-key block
/// that spans lines is held back from its BEGIN line to its END line and redacted whole; each of
/// its lines is written as the block's marker (see [`Block`]).
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
    let mut block: Option<Block> = None;
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
        let text = std::str::from_utf8(line).ok();
        if text.is_none() {
            invalid.push(number);
        }
        if let Some(open) = &mut block {
            // A JSON line cannot be a key's body: the block was cut off before its END line.
            let json_follows = text.is_some_and(|text| is_json_line(format, text));
            if !json_follows {
                // Fail closed: a line that is not UTF-8 is part of the block, replaced by its
                // marker (and reported); it adds nothing the rule must see.
                let text = text.unwrap_or_default();
                let end = private_key_block_end(text);
                let len = open.push(text, newline);
                if end.is_some() || len > redactor.max_value_len() {
                    let open = block.take().unwrap_or_else(|| unreachable!("open block"));
                    open.write(redactor, end, &mut output)?;
                }
                flush_when_idle(&mut input, &mut output)?;
                continue;
            }
            let open = block.take().unwrap_or_else(|| unreachable!("open block"));
            open.write(redactor, None, &mut output)?;
        }
        let redacted = match text {
            Some(text) => {
                // The cheap search first: it is false on nearly every line.
                if let Some(begin) = private_key_block_start(text)
                    && !is_json_line(format, text)
                {
                    block = Some(Block::open(text, begin, newline));
                    continue;
                }
                redact_line(redactor, format, text)
            }
            None => std::borrow::Cow::Borrowed(INVALID_UTF8_MARKER),
        };
        output
            .write_all(redacted.as_bytes())
            .map_err(FilterError::Write)?;
        if newline {
            output.write_all(b"\n").map_err(FilterError::Write)?;
        }
        flush_when_idle(&mut input, &mut output)?;
    }
    if let Some(open) = block.take() {
        // The input ended inside a block: everything after BEGIN is redacted.
        open.write(redactor, None, &mut output)?;
    }
    output.flush().map_err(FilterError::Write)?;
    Ok(invalid)
}

/// Streams: flush whenever the input has nothing more buffered (`tail -f | ...`).
fn flush_when_idle(input: &mut impl BufRead, output: &mut impl Write) -> Result<(), FilterError> {
    if input.fill_buf().map_err(FilterError::Read)?.is_empty() {
        output.flush().map_err(FilterError::Write)?;
    }
    Ok(())
}

/// Whether `line` is redacted as JSON (so a block cannot open or continue in it: a JSON string
/// holds no raw newline, and the engine redacts a key inside one string whole).
fn is_json_line(format: LineFormat, line: &str) -> bool {
    match format {
        LineFormat::Text => false,
        LineFormat::Json | LineFormat::Auto => {
            line.trim_start().starts_with(['{', '['])
                && serde_json::from_str::<serde_json::Value>(line).is_ok()
        }
    }
}

/// A private-key block held back from its BEGIN line until its END line, the size limit, a
/// JSON line or the end of the input.
///
/// It is redacted as one text (one count, the `private-key` rule's marker, or `oversized`
/// past the size limit), and written with one output line per input line: the BEGIN line keeps
/// its redacted text before the header, the END line its redacted text after the footer, and
/// every line in between is the marker alone.
struct Block {
    /// The lines (without line breaks), each with whether it ended with one.
    lines: Vec<(String, bool)>,
    /// Where the header starts in the first line.
    begin: usize,
    /// The bytes held from the header on, line breaks included.
    len: usize,
}

impl Block {
    fn open(line: &str, begin: usize, newline: bool) -> Self {
        Self {
            lines: vec![(line.to_owned(), newline)],
            begin,
            len: line.len() - begin,
        }
    }

    /// Adds a line; returns the bytes held so far.
    fn push(&mut self, line: &str, newline: bool) -> usize {
        self.lines.push((line.to_owned(), newline));
        self.len += 1 + line.len();
        self.len
    }

    /// Redacts and writes the block; `end` is where the footer ends in the last line, if the
    /// last line has one.
    fn write(
        self,
        redactor: &Redactor,
        end: Option<usize>,
        output: &mut impl Write,
    ) -> Result<(), FilterError> {
        let last = self.lines.len() - 1;
        let mut body = String::with_capacity(self.len);
        for (index, (line, _)) in self.lines.iter().enumerate() {
            let from = if index == 0 { self.begin } else { 0 };
            let to = match end {
                Some(end) if index == last => end,
                _ => line.len(),
            };
            if index > 0 {
                body.push('\n');
            }
            body.push_str(&line[from..to]);
        }
        let marker = match redactor.redact(&body) {
            // Fail closed if the rule did not replace the block as one marker.
            std::borrow::Cow::Owned(marker) if !marker.contains('\n') && marker != body => marker,
            _ => PRIVATE_KEY_MARKER.to_owned(),
        };
        // A mask is as long as the block; each line then shows its own length in `*`.
        let mask = marker.bytes().all(|byte| byte == b'*');
        let per_line = |part: &str| {
            if mask {
                "*".repeat(part.chars().count())
            } else {
                marker.clone()
            }
        };
        for (index, (line, newline)) in self.lines.iter().enumerate() {
            let mut out = String::new();
            let from = if index == 0 { self.begin } else { 0 };
            if index == 0 {
                out.push_str(&redactor.redact_log_line(&line[..self.begin]));
            }
            match end {
                Some(end) if index == last => {
                    out.push_str(&per_line(&line[from..end]));
                    out.push_str(&redactor.redact_log_line(&line[end..]));
                }
                _ => out.push_str(&per_line(&line[from..])),
            }
            if *newline {
                out.push('\n');
            }
            output
                .write_all(out.as_bytes())
                .map_err(FilterError::Write)?;
        }
        Ok(())
    }
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
    fn a_bad_byte_inside_a_key_block_is_part_of_the_block() {
        let input = b"-----BEGIN PRIVATE KEY-----\nMIIB\xff\n-----END PRIVATE KEY----- ok\n";
        let (out, invalid) = run_filter(LineFormat::Auto, input);
        assert_eq!(
            out,
            "[REDACTED:private-key]\n[REDACTED:private-key]\n[REDACTED:private-key] ok\n"
        );
        assert_eq!(invalid, [2]);
    }

    #[test]
    fn a_masked_key_block_shows_each_line_length() {
        let redactor = Redactor::builder()
            .with_method(Method::Mask)
            .build()
            .unwrap();
        let mut output = Vec::new();
        // A body the catalogue takes for a real key (a short or uniform one reads as a
        // placeholder and gets the fail-closed marker instead).
        let body = "MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAq7BFUpkGp3+LQmlQ";
        let input = format!("k=-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
        filter(&redactor, LineFormat::Auto, input.as_bytes(), &mut output)
            .unwrap_or_else(|_| panic!("filter failed"));
        let out = String::from_utf8(output).unwrap();
        assert_eq!(
            out,
            format!(
                "k={}\n{}\n{}\n",
                "*".repeat(27),
                "*".repeat(body.len()),
                "*".repeat(25)
            )
        );
    }

    #[test]
    fn text_format_does_not_parse_json() {
        let (out, _) = run_filter(LineFormat::Text, b"{\"password\":\"a b\"}\n");
        assert_eq!(out, "{\"password\":\"[REDACTED:secret-field]\"}\n");
        let (out, _) = run_filter(LineFormat::Json, b"{\"password\":[1,2]}\n");
        assert_eq!(out, "{\"password\":\"[REDACTED:secret-field]\"}\n");
    }
}
