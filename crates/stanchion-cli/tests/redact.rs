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

/// `count` lines of base64 shaped like a PEM body (64 characters, the last one shorter),
/// distinct from each other, with no part of one anywhere else in the input.
fn pem_body(seed: u64, count: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = seed;
    (0..count)
        .map(|index| {
            let len = if index + 1 == count { 40 } else { 64 };
            (0..len)
                .map(|_| {
                    // xorshift64: deterministic, no dependency.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(ALPHABET[usize::try_from(state % 64).expect("small")])
                })
                .collect()
        })
        .collect()
}

/// Asserts that no 12-character window of any body line reached `text`.
fn assert_no_body(text: &str, body: &[String]) {
    for line in body {
        for window in line.as_bytes().windows(12) {
            let window = std::str::from_utf8(window).expect("ascii");
            assert!(
                !text.contains(window),
                "key body {window:?} leaked:\n{text}"
            );
        }
    }
}

#[test]
fn a_private_key_over_many_lines_is_redacted_whole_and_keeps_the_line_count() {
    let rsa = pem_body(1, 26);
    let openssh = pem_body(2, 7);
    let pgp = pem_body(3, 5);
    let mut input = vec![
        "boot ok".to_owned(),
        "loaded key: -----BEGIN RSA PRIVATE KEY-----".to_owned(),
        "Proc-Type: 4,ENCRYPTED".to_owned(),
        "DEK-Info: AES-128-CBC,3F17F5316E2BAC89".to_owned(),
        String::new(),
    ];
    input.extend(rsa.iter().cloned());
    input.push("-----END RSA PRIVATE KEY----- (from vault) password=hunter22x".to_owned());
    input.push(r#"{"level":"INFO","message":"between keys"}"#.to_owned());
    input.push("-----BEGIN OPENSSH PRIVATE KEY-----".to_owned());
    input.extend(openssh.iter().cloned());
    input.push("-----END OPENSSH PRIVATE KEY-----".to_owned());
    input.push("-----BEGIN PGP PRIVATE KEY BLOCK-----".to_owned());
    input.extend(pgp.iter().cloned());
    input.push("-----END PGP PRIVATE KEY BLOCK-----".to_owned());
    input.push("done".to_owned());
    let text = input.join("\n") + "\n";
    for args in [&[][..], &["--format", "text"]] {
        let output = redact(args, text.as_bytes(), &[]);
        assert!(output.status.success(), "{output:?}");
        let out = stdout(&output);
        assert_no_body(&out, &[rsa.clone(), openssh.clone(), pgp.clone()].concat());
        assert!(
            !out.contains("ENCRYPTED") && !out.contains("3F17F5316E2BAC89"),
            "{out}"
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), input.len(), "one line out per line in:\n{out}");
        assert_eq!(lines[0], "boot ok");
        assert_eq!(lines[1], "loaded key: [REDACTED:private-key]");
        for line in &lines[2..31] {
            assert_eq!(*line, "[REDACTED:private-key]");
        }
        assert_eq!(
            lines[31],
            "[REDACTED:private-key] (from vault) password=[REDACTED:secret-field]"
        );
        if args.is_empty() {
            let json: serde_json::Value = serde_json::from_str(lines[32]).expect("JSON stays JSON");
            assert_eq!(json["message"], "between keys");
        }
        assert!(
            lines[33..lines.len() - 1]
                .iter()
                .all(|line| *line == "[REDACTED:private-key]")
        );
        assert_eq!(lines[lines.len() - 1], "done");
    }
    // One block, one count.
    let output = redact(&["--stats"], text.as_bytes(), &[]);
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert!(stderr.contains("private-key 3"), "{stderr}");
}

#[test]
fn a_private_key_without_an_end_line_is_redacted_up_to_the_size_limit() {
    let body = pem_body(4, 40);
    let mut input = vec!["-----BEGIN PRIVATE KEY-----".to_owned()];
    input.extend(body.iter().cloned());
    input.push("after the key".to_owned());
    let text = input.join("\n");
    // 1 KiB: the header and the first 15 body lines (65 bytes each) fit, the 16th crosses it.
    let output = redact(&["--max-value-len", "1024"], text.as_bytes(), &[]);
    assert!(output.status.success(), "{output:?}");
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), input.len(), "{out}");
    assert!(!out.ends_with('\n'), "no newline was added");
    assert_no_body(&out, &body[..16]);
    for line in &lines[..17] {
        assert_eq!(*line, "[REDACTED:oversized]");
    }
    // Past the limit the filter is a line filter again (the rest of a runaway block is what a
    // size limit gives up on; every line up to it is gone).
    assert_eq!(lines[17], body[16]);
    assert_eq!(lines[lines.len() - 1], "after the key");

    // The input ends inside the block: everything after BEGIN is redacted.
    let text = input[..10].join("\n") + "\n";
    let out = stdout(&redact(&[], text.as_bytes(), &[]));
    assert_no_body(&out, &body);
    assert_eq!(out.lines().count(), 10, "{out}");
    assert!(
        out.lines().all(|line| line == "[REDACTED:private-key]"),
        "{out}"
    );

    // A JSON line cuts the block short (a key's body is never JSON) and stays JSON.
    let text = format!("{}\n{{\"message\":\"next\"}}\n", input[..4].join("\n"));
    let out = stdout(&redact(&[], text.as_bytes(), &[]));
    assert_no_body(&out, &body);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[4], r#"{"message":"next"}"#);
}
