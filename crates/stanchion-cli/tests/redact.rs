//! `stanchion redact`, run as the real binary: stdin lines in, redacted lines out.

use std::{
    io::Write as _,
    process::{Command, Output, Stdio},
};

fn redact(args: &[&str], input: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .arg("redact")
        .args(args)
        .envs(env.iter().copied())
        .env_remove("STANCHION_REDACT_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the stanchion binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A run that rejects its arguments exits before reading: a broken pipe here is expected,
    // and the exit status says what happened.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("the binary exits")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn token() -> String {
    format!("ghp_{}", "Ab3x".repeat(9))
}

#[test]
fn redacts_each_line_and_json_lines_stay_json() {
    let token = token();
    let json = format!(
        r#"{{"level":"INFO","fields":{{"message":"clone with {token}","password":"p w"}}}}"#
    );
    let input = format!("GET /health 200\nAuthorization: Bearer {token}\n{json}\n");
    let output = redact(&[], input.as_bytes(), &[]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "GET /health 200");
    assert_eq!(lines[1], "Authorization: Bearer [REDACTED:github-pat]");
    let parsed: serde_json::Value = serde_json::from_str(lines[2]).expect("still JSON");
    assert_eq!(
        parsed["fields"]["message"],
        "clone with [REDACTED:github-pat]"
    );
    assert_eq!(parsed["fields"]["password"], "[REDACTED:secret-field]");
    assert!(!text.contains(&token[4..16]));
}

#[test]
fn invalid_utf8_is_replaced_whole_and_exits_2_naming_the_line() {
    let mut input = b"first ok\n".to_vec();
    input.extend_from_slice(b"bad \xff\xfe ");
    input.extend_from_slice(token().as_bytes());
    input.extend_from_slice(b"\nthird ok\n");
    let output = redact(&[], &input, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stdout(&output),
        "first ok\n[REDACTED:invalid-utf8]\nthird ok\n"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not valid UTF-8") && stderr.contains("line 2"),
        "{stderr}"
    );
}

#[test]
fn help_lists_every_rule() {
    let output = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .args(["redact", "--help"])
        .output()
        .expect("the binary runs");
    assert!(output.status.success());
    let help = stdout(&output);
    for rule in stanchion_redact::rules() {
        assert!(
            help.contains(rule.id()),
            "--help does not list {}",
            rule.id()
        );
    }
}

#[test]
fn pii_is_opt_in() {
    let input = b"mail ana@example.com\n";
    assert_eq!(stdout(&redact(&[], input, &[])), "mail ana@example.com\n");
    assert_eq!(
        stdout(&redact(&["--pii"], input, &[])),
        "mail [REDACTED:email]\n"
    );
}

#[test]
fn hash_method_needs_a_key_from_the_environment() {
    let input = b"password=hunter22\npassword=hunter22\n";
    let output = redact(&["--method", "hash"], input, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("STANCHION_REDACT_KEY"));

    let output = redact(
        &["--method", "hash", "--hash-key-env", "TEST_KEY"],
        input,
        &[("TEST_KEY", "a-deployment-key-of-32-bytes-abc")],
    );
    assert!(output.status.success());
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("password=[REDACTED:secret-field:"),
        "{text}"
    );
    assert_eq!(lines[0], lines[1], "equal values give equal tokens");
}

#[test]
fn control_characters_are_neutralized_in_text_lines() {
    let output = redact(&[], b"user=ana\x1b[31m\rforged\n", &[]);
    assert_eq!(stdout(&output), "user=ana\\u{1b}[31m\\rforged\n");
}

#[test]
fn stats_print_counts_without_values() {
    let output = redact(&["--stats"], b"password=hunter22\n", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("secret-field 1"), "{stderr}");
    assert!(!stderr.contains("hunter22"));
}
