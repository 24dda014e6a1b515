//! Every reason kind, reported all at once, and the check verdict.

mod common;

use common::Fixture;
use stanchion_config::{ReasonKind, RolloutMode};

fn kinds(snapshot: &stanchion_config::Snapshot, slug: &str) -> Vec<(ReasonKind, Option<String>)> {
    snapshot
        .tool(slug)
        .expect("tool exists")
        .reasons()
        .iter()
        .map(|r| (r.kind(), r.variable().map(str::to_owned)))
        .collect()
}

const EVERYTHING_WRONG: &str = r#"
[[tools]]
slug = "broken"
required = ["MISSING_ONE", "EMPTY_ONE", "BAD_URL", "BAD_INT", "BAD_CHOICE", "BAD_PATTERN", "BOTH", "GONE", "TOKEN", "PUBLIC"]
secrets = ["TOKEN", "BOTH", "GONE", "PUBLIC"]
environments = ["production"]
kill_switch = "BROKEN_OFF"
[tools.validate]
BAD_URL = { kind = "url", schemes = ["https"] }
BAD_INT = { kind = "integer", min = 1, max = 10 }
BAD_CHOICE = { kind = "one_of", values = ["eu", "us"] }
BAD_PATTERN = { kind = "regex", pattern = "^#[a-z]+$" }
"#;

#[test]
fn every_reason_is_reported_at_once() {
    let fx = Fixture::new();
    fx.write(
        ".env",
        "EMPTY_ONE=\nBAD_URL=http://plain.example\nBAD_INT=98765\nBAD_CHOICE=antarctica\n\
         BAD_PATTERN=ops\nBOTH=plain\nTOKEN=from-dotenv\nBROKEN_OFF=true\n",
    );
    fx.write(".env.development", "PUBLIC=committed-development-value\n");
    let both_file = fx.write("run/both", "x");
    let gone = fx.path("run/gone");
    let snapshot = fx
        .loader(
            EVERYTHING_WRONG,
            &[
                ("BOTH_FILE", both_file.to_str().unwrap()),
                ("GONE_FILE", gone.to_str().unwrap()),
                ("PUBLIC", "committed-development-value"),
            ],
        )
        .with_env_name("staging")
        .with_vault_mode(RolloutMode::Enforced)
        .load()
        .unwrap();
    let some = |name: &str| Some(name.to_owned());
    assert_eq!(
        kinds(&snapshot, "broken"),
        [
            (ReasonKind::NotInEnvironment, None),
            (ReasonKind::KillSwitch, some("BROKEN_OFF")),
            (ReasonKind::Missing, some("MISSING_ONE")),
            (ReasonKind::Empty, some("EMPTY_ONE")),
            (ReasonKind::Invalid, some("BAD_URL")),
            (ReasonKind::Invalid, some("BAD_INT")),
            (ReasonKind::Invalid, some("BAD_CHOICE")),
            (ReasonKind::Invalid, some("BAD_PATTERN")),
            (ReasonKind::Conflict, some("BOTH")),
            (ReasonKind::Unreadable, some("GONE")),
            (ReasonKind::PlainFileSecret, some("TOKEN")),
            (ReasonKind::DevelopmentValue, some("PUBLIC")),
        ]
    );
    let tool = snapshot.tool("broken").unwrap();
    let missing = &tool.reasons()[2];
    assert!(
        missing
            .searched()
            .iter()
            .any(|s| s == "process environment")
    );
    assert!(
        missing
            .searched()
            .iter()
            .any(|s| s == "MISSING_ONE_FILE (not set)")
    );
    assert!(missing.message().contains(".env"), "{}", missing.message());
    let messages: Vec<&str> = tool.reasons().iter().map(|r| r.message()).collect();
    for value in [
        "plain.example",
        "98765",
        "antarctica",
        "from-dotenv",
        "committed-development-value",
    ] {
        assert!(
            messages.iter().all(|m| !m.contains(value)),
            "no message repeats the value {value:?}: {messages:#?}"
        );
    }
    assert!(
        messages[5].contains("above the maximum 10"),
        "{}",
        messages[5]
    );
    assert!(
        ReasonKind::ALL
            .iter()
            .all(|kind| tool.reasons().iter().any(|r| r.kind() == *kind))
    );
}

#[test]
fn a_public_development_secret_disables_its_tool_only_outside_development_and_test() {
    let fx = Fixture::new();
    fx.write(".env.development", "KEY=committed-development-value\n");
    fx.write(".env.test", "KEY=committed-test-value\n");
    let registry = "[[tools]]\nslug = \"t\"\nrequired = [\"KEY\"]\nsecrets = [\"KEY\"]\n";
    for (env, value, expect) in [
        (
            "production",
            "committed-development-value",
            Some(ReasonKind::DevelopmentValue),
        ),
        (
            "staging",
            "committed-test-value",
            Some(ReasonKind::DevelopmentValue),
        ),
        ("production", "a-value-of-its-own", None),
        ("development", "committed-development-value", None),
        ("test", "committed-test-value", None),
    ] {
        let snapshot = fx
            .loader(registry, &[("KEY", value)])
            .with_env_name(env)
            .load()
            .unwrap();
        let got = kinds(&snapshot, "t").first().map(|(kind, _)| *kind);
        assert_eq!(got, expect, "{env} with {value}");
        if let Some(reason) = snapshot.tool("t").unwrap().reasons().first() {
            assert!(reason.message().contains(".env."), "{}", reason.message());
            assert!(!reason.message().contains(value), "{}", reason.message());
        }
    }
}

#[test]
fn kill_switch_values() {
    let fx = Fixture::new();
    let registry = "[[tools]]\nslug = \"t\"\nkill_switch = \"T_OFF\"\n";
    for (value, expect) in [
        ("1", Some(ReasonKind::KillSwitch)),
        ("ON", Some(ReasonKind::KillSwitch)),
        ("yes", Some(ReasonKind::KillSwitch)),
        ("0", None),
        ("false", None),
        ("", None),
        ("maybe", Some(ReasonKind::Invalid)),
    ] {
        let snapshot = fx.loader(registry, &[("T_OFF", value)]).load().unwrap();
        let got = kinds(&snapshot, "t").first().map(|(kind, _)| *kind);
        assert_eq!(got, expect, "T_OFF={value:?}");
    }
}

#[test]
fn shadow_mode_allows_and_reports_a_local_fallback() {
    let fx = Fixture::new();
    fx.write(".env", "TOKEN=local-dev-token\n");
    let registry = "[[tools]]\nslug = \"t\"\nrequired = [\"TOKEN\"]\nsecrets = [\"TOKEN\"]\n";
    let shadow = fx
        .loader(registry, &[("SECRETS_VAULT_MODE", "shadow")])
        .load()
        .unwrap();
    let tool = shadow.tool("t").unwrap();
    assert!(tool.is_enabled());
    assert_eq!(tool.local_fallbacks(), ["TOKEN"]);
    assert_eq!(shadow.vault_mode(), RolloutMode::Shadow);

    let enforced = fx
        .loader(registry, &[("SECRETS_VAULT_MODE", "enforced")])
        .load()
        .unwrap();
    assert_eq!(
        kinds(&enforced, "t"),
        [(ReasonKind::PlainFileSecret, Some("TOKEN".into()))]
    );

    // A secret source satisfies enforced mode.
    let from_env = fx
        .loader(
            registry,
            &[("SECRETS_VAULT_MODE", "enforced"), ("TOKEN", "from-env")],
        )
        .load()
        .unwrap();
    assert!(from_env.is_enabled("t"));

    let error = fx
        .loader(registry, &[("SECRETS_VAULT_MODE", "paranoid")])
        .load()
        .unwrap_err();
    assert!(error.to_string().contains("SECRETS_VAULT_MODE"), "{error}");
}

#[test]
fn optional_variables_are_validated_only_when_set() {
    let fx = Fixture::new();
    let registry = r#"
        [[tools]]
        slug = "t"
        optional = ["PORT", "MODE"]
        validate = { PORT = { kind = "integer", min = 1, max = 65535 } }
    "#;
    assert!(fx.loader(registry, &[]).load().unwrap().is_enabled("t"));
    assert!(
        fx.loader(registry, &[("PORT", "")])
            .load()
            .unwrap()
            .is_enabled("t")
    );
    let bad = fx.loader(registry, &[("PORT", "70000")]).load().unwrap();
    assert_eq!(
        kinds(&bad, "t"),
        [(ReasonKind::Invalid, Some("PORT".into()))]
    );
}

#[test]
fn the_check_verdict_needs_one_enabled_tool_and_every_critical_one() {
    let fx = Fixture::new();
    let registry = r#"
        [[tools]]
        slug = "core"
        required = ["CORE_URL"]
        critical = true
        environments = ["production"]
        [[tools]]
        slug = "extra"
        required = ["EXTRA_KEY"]
    "#;
    let none = fx.loader(registry, &[]).load().unwrap();
    assert!(!none.passes_check(), "no tool enabled");
    // `core` is critical only where it is allowed: in development it does not count.
    let dev = fx.loader(registry, &[("EXTRA_KEY", "k")]).load().unwrap();
    assert!(dev.passes_check());
    let prod = fx
        .loader(registry, &[("EXTRA_KEY", "k"), ("APP_ENV", "production")])
        .load()
        .unwrap();
    assert!(!prod.passes_check());
    assert_eq!(
        prod.critical_failures()
            .map(|t| t.slug())
            .collect::<Vec<_>>(),
        ["core"]
    );
}

#[test]
fn oversized_non_utf8_or_directory_secret_files_are_unreadable() {
    let fx = Fixture::new();
    let registry = r#"
        [[tools]]
        slug = "t"
        required = ["HUGE", "BINARY", "FOLDER"]
        secrets = ["HUGE", "BINARY", "FOLDER"]
    "#;
    let huge = "x".repeat(usize::try_from(stanchion_config::MAX_SECRET_FILE_BYTES).unwrap() + 1);
    fx.write("secrets/HUGE", &huge);
    std::fs::write(fx.path("secrets/BINARY"), b"\xff\xfe\x00secret").unwrap();
    std::fs::create_dir_all(fx.path("secrets/FOLDER")).unwrap();
    let snapshot = fx
        .loader(registry, &[])
        .with_secrets_dir(fx.path("secrets"))
        .load()
        .unwrap();
    let tool = snapshot.tool("t").unwrap();
    let got: Vec<(ReasonKind, Option<&str>)> = tool
        .reasons()
        .iter()
        .map(|r| (r.kind(), r.variable()))
        .collect();
    assert_eq!(
        got,
        [
            (ReasonKind::Unreadable, Some("HUGE")),
            (ReasonKind::Unreadable, Some("BINARY")),
            (ReasonKind::Unreadable, Some("FOLDER")),
        ]
    );
    let messages: Vec<&str> = tool.reasons().iter().map(|r| r.message()).collect();
    assert!(messages[0].contains("larger than"), "{messages:?}");
    assert!(messages[1].contains("not valid UTF-8"), "{messages:?}");
    assert!(messages[2].contains("not a regular file"), "{messages:?}");
}
