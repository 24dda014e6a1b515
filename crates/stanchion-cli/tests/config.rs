//! `stanchion config`: the real binary on real files in temporary directories, with a
//! controlled environment for the child process (the test process's own is never changed).

use std::{path::Path, process::Command};

const REGISTRY: &str = r#"
[[tools]]
slug = "slack"
name = "Slack alerts"
required = ["SLACK_TOKEN", "SLACK_CHANNEL"]
secrets = ["SLACK_TOKEN"]
critical = true
environments = ["production"]
[tools.validate]
SLACK_CHANNEL = { kind = "regex", pattern = "^#" }

[[tools]]
slug = "search"
required = ["SEARCH_URL"]
optional = ["SEARCH_TIMEOUT"]
defaults = { SEARCH_TIMEOUT = "10" }
validate = { SEARCH_URL = { kind = "url" } }
"#;

const CANARY: &str = "zqx-cli-canary-4e7d19b2";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn stanchion(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_stanchion"))
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs");
    let run = Run {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    };
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains(&CANARY[4..16]),
            "{name} leaks the canary secret:\n{text}"
        );
    }
    run
}

fn fixture(dotenv: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("tools.toml"), REGISTRY).expect("write registry");
    std::fs::write(dir.path().join(".env"), dotenv).expect("write .env");
    dir
}

#[test]
fn check_exits_0_when_every_critical_tool_is_enabled() {
    let dir = fixture(&format!(
        "SLACK_TOKEN={CANARY}\nSLACK_CHANNEL=#ops\nSEARCH_URL=https://search.example\n"
    ));
    let run = stanchion(
        dir.path(),
        &[("APP_ENV", "production")],
        &["config", "check", "--registry", "tools.toml"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("environment: production"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("verdict: ok (2 of 2 tools enabled)"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_json_has_tools_with_reasons_and_sources_but_no_secret_values() {
    let dir = fixture(&format!("SLACK_TOKEN={CANARY}\nSLACK_CHANNEL=ops\n"));
    let run = stanchion(
        dir.path(),
        &[("SEARCH_URL", "not a url")],
        &[
            "config",
            "check",
            "--registry",
            "tools.toml",
            "--env",
            "production",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON output");
    let tools = json["tools"].as_array().expect("tools array");
    assert_eq!(tools.len(), 2);
    let slack = &tools[0];
    assert_eq!(slack["slug"], "slack");
    assert_eq!(slack["enabled"], false);
    assert_eq!(slack["reasons"][0]["kind"], "INVALID");
    assert_eq!(slack["reasons"][0]["variable"], "SLACK_CHANNEL");
    let token = &slack["vars"]["SLACK_TOKEN"];
    assert_eq!(token["source"]["kind"], "dotenv");
    assert_eq!(token["source"]["line"], 1);
    assert_eq!(token["secret"], true);
    assert!(token.get("value").is_none());
    assert!(
        token["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("len=23 hmac=")
    );
    assert_eq!(slack["vars"]["SLACK_CHANNEL"]["value"], "ops");
    let search = &tools[1];
    assert_eq!(search["reasons"][0]["kind"], "INVALID");
    assert_eq!(
        search["vars"]["SEARCH_URL"]["source"]["kind"],
        "process_env"
    );
    assert_eq!(
        search["vars"]["SEARCH_TIMEOUT"]["source"]["kind"],
        "default"
    );
}

#[test]
fn check_exits_1_when_no_tool_is_enabled() {
    let dir = fixture("");
    let run = stanchion(
        dir.path(),
        &[],
        &["config", "check", "--registry", "tools.toml"],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("MISSING: SEARCH_URL is not set"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("NOT_IN_ENVIRONMENT"), "{}", run.stdout);
    assert!(
        run.stdout.contains("verdict: FAIL (no tool is enabled"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_exits_1_when_a_critical_tool_is_disabled() {
    let dir = fixture("SEARCH_URL=https://search.example\n");
    let run = stanchion(
        dir.path(),
        &[("APP_ENV", "production")],
        &["config", "check", "--registry", "tools.toml"],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("critical tools disabled: slack"),
        "{}",
        run.stdout
    );
}

#[test]
fn unusable_input_exits_2_naming_the_file_and_not_the_line() {
    let dir = fixture(&format!("OK=1\nSLACK_TOKEN {CANARY}\n"));
    let run = stanchion(
        dir.path(),
        &[],
        &["config", "check", "--registry", "tools.toml"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(".env line 2"), "{}", run.stderr);

    let run = stanchion(
        dir.path(),
        &[],
        &["config", "check", "--registry", "missing.toml"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("missing.toml"), "{}", run.stderr);

    std::fs::write(dir.path().join("bad.toml"), "[[tools]]\nslug = 3\n").unwrap();
    let run = stanchion(
        dir.path(),
        &[],
        &["config", "check", "--registry", "bad.toml"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("bad.toml") && run.stderr.contains("line 2"),
        "{}",
        run.stderr
    );
}

#[test]
fn explain_shows_the_override_chain_with_fingerprints_only() {
    let dir = fixture(&format!("SLACK_TOKEN=old-{CANARY}\nSLACK_CHANNEL=#ops\n"));
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(
        dir.path().join("secrets/slack_token"),
        format!("{CANARY}\n"),
    )
    .unwrap();
    let run = stanchion(
        dir.path(),
        &[("APP_ENV", "production"), ("SLACK_TOKEN", CANARY)],
        &[
            "config",
            "explain",
            "slack",
            "--registry",
            "tools.toml",
            "--secrets-dir",
            "secrets",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(
        out.contains("slack (Slack alerts): enabled in environment production, critical"),
        "{out}"
    );
    assert!(out.contains("SLACK_TOKEN [secret]"), "{out}");
    assert!(
        out.contains("wins: secrets directory file secrets/slack_token (secret, len=23 hmac="),
        "{out}"
    );
    assert!(out.contains("lost: process environment (secret)"), "{out}");
    assert!(out.contains("lost: ./.env line 1 (secret)"), "{out}");
    assert!(out.contains("wins: ./.env line 2 = \"#ops\""), "{out}");
}

#[test]
fn explain_of_a_disabled_tool_exits_1_and_of_an_unknown_tool_exits_2() {
    let dir = fixture("");
    let run = stanchion(
        dir.path(),
        &[],
        &["config", "explain", "search", "--registry", "tools.toml"],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("not set; looked in: SEARCH_URL_FILE (not set), process environment"),
        "{}",
        run.stdout
    );
    let run = stanchion(
        dir.path(),
        &[],
        &["config", "explain", "nope", "--registry", "tools.toml"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("known tools: slack, search"),
        "{}",
        run.stderr
    );
}

#[test]
fn strict_secrets_mode_from_the_flag_or_the_environment() {
    let dir = fixture(&format!(
        "SLACK_TOKEN={CANARY}\nSLACK_CHANNEL=#ops\nSEARCH_URL=https://search.example\n"
    ));
    let args = [
        "config",
        "check",
        "--registry",
        "tools.toml",
        "--env",
        "production",
    ];
    let run = stanchion(dir.path(), &[("SECRETS_VAULT_MODE", "enforced")], &args);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("PLAIN_FILE_SECRET"), "{}", run.stdout);
    let mut shadow = args.to_vec();
    shadow.extend(["--vault-mode", "shadow"]);
    let run = stanchion(dir.path(), &[("SECRETS_VAULT_MODE", "enforced")], &shadow);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("note: secret SLACK_TOKEN comes from a plain file"),
        "{}",
        run.stdout
    );
}

#[test]
fn secrets_planted_in_every_source_never_reach_stdout_or_stderr() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let registry = r#"
        [[tools]]
        slug = "chat"
        required = ["CHAT_TOKEN", "CHAT_KEY", "CHAT_PIN"]
        optional = ["CHAT_HEADER"]
        secrets = ["CHAT_TOKEN", "CHAT_KEY", "CHAT_PIN"]
        validate = { CHAT_PIN = { kind = "regex", pattern = "^[0-9]{4}$" } }
        [[tools]]
        slug = "mail"
        required = ["MAIL_PASSWORD", "MAIL_API_KEY"]
        secrets = ["MAIL_PASSWORD", "MAIL_API_KEY"]
    "#;
    let planted = [
        "zqx-cli-dotenv-61b2a9",
        "zqx-cli-dotenvenv-0c4e",
        "zqx-cli-dotlocal-a93f",
        "zqx-cli-dotenvlocal-7d",
        "zqx-cli-process-e52b",
        "zqx-cli-filevia-19ad",
        "zqx-cli-secretdir-c7",
        "zqx-cli-invalidpin-4f",
    ];
    let write = |name: &str, text: String| std::fs::write(root.join(name), text).expect("write");
    write("tools.toml", registry.to_owned());
    write(
        ".env",
        format!(
            "CHAT_TOKEN={}\nCHAT_HEADER=\"Bearer ${{CHAT_TOKEN}}\"\n",
            planted[0]
        ),
    );
    write(".env.production", format!("CHAT_TOKEN='{}'\n", planted[1]));
    write(".env.local", format!("CHAT_TOKEN=\"{}\"\n", planted[2]));
    write(
        ".env.production.local",
        format!("CHAT_KEY={}\nCHAT_PIN={}\n", planted[3], planted[7]),
    );
    write("mail-password", format!("{}\n", planted[5]));
    std::fs::create_dir(root.join("secrets")).expect("secrets dir");
    write("secrets/mail_api_key", planted[6].to_owned());
    let env = [
        ("APP_ENV", "production"),
        ("CHAT_TOKEN", planted[4]),
        ("MAIL_PASSWORD_FILE", "mail-password"),
    ];
    let sources = ["--registry", "tools.toml", "--secrets-dir", "secrets"];
    let mut outputs = Vec::new();
    for extra in [
        &["check"][..],
        &["check", "--format", "json"],
        &["check", "--vault-mode", "enforced"],
        &["explain", "chat"],
        &["explain", "mail"],
    ] {
        let mut args = vec!["config"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&sources);
        let run = stanchion(root, &env, &args);
        assert!(
            run.code == 0 || run.code == 1,
            "{}{}",
            run.stdout,
            run.stderr
        );
        outputs.push(run);
    }
    // The loads did read the planted values: the fingerprints are there.
    assert!(
        outputs[1]
            .stdout
            .contains("\"fingerprint\": \"len=20 hmac="),
        "{}",
        outputs[1].stdout
    );
    // A malformed line holding a secret: exit 2, the message names the line only.
    write(".env.local", format!("CHAT_TOKEN {}\n", planted[2]));
    let mut args = vec!["config", "check"];
    args.extend_from_slice(&sources);
    let run = stanchion(root, &env, &args);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(".env.local line 1"), "{}", run.stderr);
    outputs.push(run);
    for run in &outputs {
        for secret in planted {
            for window in secret.as_bytes().windows(8) {
                let window = std::str::from_utf8(window).expect("ascii");
                assert!(
                    !run.stdout.contains(window) && !run.stderr.contains(window),
                    "output leaks {window:?}:\n{}{}",
                    run.stdout,
                    run.stderr
                );
            }
        }
    }
}

/// Values the registry does not call secret, but that carry credentials: every output of
/// `config check` (table and JSON) and `config explain` shows them redacted, keeps what is not
/// a credential (host, port, path, other query parameters), and error messages do too.
#[test]
fn credentials_in_values_not_declared_secret_are_redacted_in_every_output() {
    const REGISTRY: &str = r#"
[[tools]]
slug = "search"
required = ["SEARCH_URL", "DATABASE_URL", "CACHE_URL"]
optional = ["WEBHOOK_URL", "SEARCH_KEY"]
secrets = ["SEARCH_KEY"]
"#;
    let github = "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12";
    let db_password = "Sup3rS3cretPw";
    let cache_password = "r3d1sPassW0rd";
    let search_key = "planted-search-key-8c1f";
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("tools.toml"), REGISTRY).expect("write registry");
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "SEARCH_URL=https://search.example/q?token={github}&lang=en\n\
             DATABASE_URL=postgres://app:{db_password}@db.internal:5432/app\n\
             CACHE_URL=redis://cache:{cache_password}@cache.internal:6379/0\n\
             SEARCH_KEY={search_key}\n\
             WEBHOOK_URL=https://hooks.example/in/{search_key}\n"
        ),
    )
    .expect("write .env");
    let planted = [&github[4..], db_password, cache_password, search_key];
    let registry = ["--registry", "tools.toml"];
    let runs: Vec<Run> = [
        &[
            "config",
            "check",
            registry[0],
            registry[1],
            "--format",
            "table",
        ][..],
        &[
            "config",
            "check",
            registry[0],
            registry[1],
            "--format",
            "json",
        ],
        &["config", "explain", "search", registry[0], registry[1]],
    ]
    .iter()
    .map(|args| stanchion(dir.path(), &[], args))
    .collect();
    for run in &runs {
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        for secret in planted {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "output leaks {secret:?}:\n{}{}",
                run.stdout,
                run.stderr
            );
        }
    }
    let json: serde_json::Value = serde_json::from_str(&runs[1].stdout).expect("JSON output");
    let vars = &json["tools"][0]["vars"];
    let search = vars["SEARCH_URL"]["value"].as_str().unwrap_or_default();
    assert!(
        search.starts_with("https://search.example/q?token=[REDACTED:")
            && search.ends_with("&lang=en"),
        "{search}"
    );
    let database = vars["DATABASE_URL"]["value"].as_str().unwrap_or_default();
    assert!(database.contains("@db.internal:5432/app"), "{database}");
    assert_eq!(vars["SEARCH_KEY"]["secret"], true, "booleans stay booleans");
    let webhook = vars["WEBHOOK_URL"]["value"].as_str().unwrap_or_default();
    assert!(
        webhook.starts_with("https://hooks.example/in/[REDACTED:registered-secret"),
        "a loaded secret is redacted where a plain value repeats it: {webhook}"
    );
    let explain = &runs[2].stdout;
    assert!(explain.contains("@cache.internal:6379/0"), "{explain}");
    assert_eq!(explain.lines().count(), 11, "{explain}");

    // An error message quoting its input: the unknown tool named by a pasted token.
    let run = stanchion(
        dir.path(),
        &[],
        &["config", "explain", github, registry[0], registry[1]],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("no tool"), "{}", run.stderr);
    assert!(!run.stderr.contains(&github[4..]), "{}", run.stderr);
}

#[test]
fn a_directory_that_does_not_exist_is_unusable_input_named() {
    let dir = fixture("SEARCH_URL=https://search.example\n");
    for (flag, value) in [("--dir", "no-such-dir"), ("--secrets-dir", "no/secrets")] {
        let run = stanchion(
            dir.path(),
            &[],
            &["config", "check", "--registry", "tools.toml", flag, value],
        );
        assert_eq!(run.code, 2, "{flag}: {}", run.stdout);
        assert!(
            run.stderr.contains(&format!(
                "directory: {value} (given with {flag}) does not exist"
            )),
            "{}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    // The directory given exists: the same command works.
    let run = stanchion(
        dir.path(),
        &[],
        &["config", "check", "--registry", "tools.toml", "--dir", "."],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}
