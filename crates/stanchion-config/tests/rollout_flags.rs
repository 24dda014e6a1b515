//! Rollout flags: declared in the registry, set by the layered sources (a line in
//! `.env.local` flips one), refused when the word is wrong (at start and on refresh, where the
//! last good modes stay), and every switch logged with its refresh ID and counted.

mod common;

use common::Fixture;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use stanchion_config::{
    ConfigLoader, ConfigService, FlagSource, FlagSpec, Origin, Registry, RolloutMode,
    VAULT_MODE_VAR,
};
use stanchion_test_support::CapturedLogs;

const REGISTRY: &str = r#"
[flags.AUTH_MODE]
default = "enforced"
description = "Bearer authentication."

[flags.GUARD_MODE]
default = "shadow"

[[tools]]
slug = "search"
optional = ["SEARCH_URL"]
"#;

fn loader(fx: &Fixture, process_env: &[(&str, &str)]) -> ConfigLoader {
    fx.write("tools.toml", REGISTRY);
    ConfigLoader::from_registry_file(fx.path("tools.toml"))
        .with_dir(fx.root())
        .with_process_env(process_env.iter().copied())
}

#[test]
fn flags_take_their_default_unless_a_source_sets_them() {
    let fx = Fixture::new();
    let snapshot = loader(&fx, &[]).load().expect("loads");
    let flags: Vec<_> = snapshot
        .flags()
        .iter()
        .map(|flag| (flag.name(), flag.mode(), flag.source().is_explicit()))
        .collect();
    // Declared flags in name order, then the built-in strict secrets mode.
    assert_eq!(
        flags,
        [
            ("AUTH_MODE", RolloutMode::Enforced, false),
            ("GUARD_MODE", RolloutMode::Shadow, false),
            (VAULT_MODE_VAR, RolloutMode::Off, false),
        ]
    );
    assert_eq!(snapshot.mode("AUTH_MODE"), Some(RolloutMode::Enforced));
    assert_eq!(snapshot.mode("NOT_A_FLAG"), None);
    let json = serde_json::to_value(&snapshot).expect("json");
    assert_eq!(json["flags"][0]["name"], "AUTH_MODE");
    assert_eq!(json["flags"][0]["source"], "default");
    assert_eq!(json["flags"][0]["explicit"], false);
}

#[test]
fn a_line_in_env_local_sets_a_flag_and_the_process_environment_wins() {
    let fx = Fixture::new();
    fx.write(".env", "AUTH_MODE=off\n");
    let local = fx.write(
        ".env.local",
        "# the lever\nAUTH_MODE=shadow\nSECRETS_VAULT_MODE=Enforced\n",
    );
    let snapshot = loader(&fx, &[]).load().expect("loads");
    let auth = &snapshot.flags()[0];
    assert_eq!(auth.mode(), RolloutMode::Shadow);
    match auth.source() {
        FlagSource::Set(Origin::DotenvFile { path, line }) => {
            assert_eq!(&**path, local.as_path());
            assert_eq!(*line, 2);
        }
        other => panic!("from .env.local line 2, not {other:?}"),
    }
    assert_eq!(snapshot.vault_mode(), RolloutMode::Enforced);

    let snapshot = loader(&fx, &[("AUTH_MODE", "enforced")])
        .load()
        .expect("loads");
    assert_eq!(snapshot.mode("AUTH_MODE"), Some(RolloutMode::Enforced));
    assert_eq!(
        snapshot.flags()[0].source(),
        &FlagSource::Set(Origin::ProcessEnv)
    );
    // The loader's own setting (`--vault-mode`) wins over every source.
    let snapshot = loader(&fx, &[])
        .with_vault_mode(RolloutMode::Shadow)
        .load()
        .expect("loads");
    assert_eq!(snapshot.vault_mode(), RolloutMode::Shadow);
    assert_eq!(snapshot.flags()[2].source(), &FlagSource::Loader);
}

#[test]
fn a_wrong_word_is_refused_naming_the_flag_the_line_and_the_accepted_words() {
    let fx = Fixture::new();
    fx.write(".env.local", "AUTH_MODE=enforce\n");
    let error = loader(&fx, &[]).load().expect_err("refused");
    let message = error.to_string();
    assert_eq!(error.kind(), "setting");
    assert!(
        message.starts_with("AUTH_MODE: `enforce` is not a rollout mode"),
        "{message}"
    );
    assert!(message.contains("use off, shadow or enforced"), "{message}");
    assert!(message.contains(".env.local line 1"), "{message}");

    fx.remove(".env.local");
    let error = loader(&fx, &[("SECRETS_VAULT_MODE", "audit")])
        .load()
        .expect_err("refused");
    assert!(
        error.to_string().contains("SECRETS_VAULT_MODE: `audit`"),
        "{error}"
    );
    assert!(error.to_string().contains("process environment"), "{error}");
}

#[test]
fn registry_flags_are_checked() {
    let error = Registry::from_toml_str(
        r#"
[flags.AUTH_MODE]
default = "enforce"

[flags.SEARCH_URL]
default = "off"

[flags.bad-name]
default = "off"

[[tools]]
slug = "search"
optional = ["SEARCH_URL"]
"#,
    )
    .expect_err("three problems");
    let problems = error.problems().join("\n");
    assert!(
        problems.contains("flag AUTH_MODE: the default `enforce` is not a rollout mode"),
        "{problems}"
    );
    assert!(
        problems.contains("SEARCH_URL is both a rollout flag and a variable of tool search"),
        "{problems}"
    );
    assert!(
        problems.contains("flag bad-name is not a variable name"),
        "{problems}"
    );
    let error = Registry::from_toml_str("[flags.AUTH_MODE]\ndefault = \"off\"\nowner = \"me\"\n")
        .expect_err("unknown key");
    assert!(error.to_string().contains("owner"), "{error}");

    let registry = Registry::new(Vec::new())
        .and_then(|r| r.with_flags(vec![FlagSpec::new(VAULT_MODE_VAR, RolloutMode::Shadow)]))
        .expect("a declared vault flag replaces the built-in one");
    assert_eq!(registry.flags().len(), 1);
    assert_eq!(registry.flags()[0].default_mode(), RolloutMode::Shadow);
}

#[test]
fn a_refresh_switches_modes_logs_and_counts_each_switch_and_keeps_the_last_good_on_a_bad_word() {
    let fx = Fixture::new();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let logs = CapturedLogs::new();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(logs.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    metrics::with_local_recorder(&recorder, || {
        fx.write(".env.local", "AUTH_MODE=shadow\n");
        let service = ConfigService::start(loader(&fx, &[])).expect("starts");
        assert_eq!(
            service.snapshot().mode("AUTH_MODE"),
            Some(RolloutMode::Shadow)
        );

        fx.write(".env.local", "AUTH_MODE=enforced\n");
        let report = service.refresh().expect("refresh");
        assert_eq!(report.switches.len(), 1);
        assert_eq!(report.switches[0].flag, "AUTH_MODE");
        assert_eq!(
            (report.switches[0].from, report.switches[0].to),
            (RolloutMode::Shadow, RolloutMode::Enforced)
        );
        let switched_id = report.id.to_string();

        // A wrong word: the refresh fails and the modes stay as they were.
        fx.write(".env.local", "AUTH_MODE=enforce\n");
        let error = service.refresh().expect_err("refused");
        assert!(error.to_string().contains("AUTH_MODE"), "{error}");
        assert_eq!(
            service.snapshot().mode("AUTH_MODE"),
            Some(RolloutMode::Enforced)
        );
        assert_eq!(service.refresh_failures(), 1);

        fx.write(".env.local", "AUTH_MODE=shadow\n");
        let report = service.refresh().expect("refresh");
        assert_eq!(report.switches[0].to, RolloutMode::Shadow);

        let events = logs.json_lines();
        let switched: Vec<_> = events
            .iter()
            .filter(|line| line["fields"]["message"] == "rollout mode switched")
            .map(|line| {
                assert_eq!(line["level"], "WARN");
                (
                    line["fields"]["flag"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    line["fields"]["from"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    line["fields"]["to"].as_str().unwrap_or_default().to_owned(),
                    line["fields"]["refresh_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        assert_eq!(switched.len(), 2, "{events:#?}");
        assert_eq!(
            switched[0],
            (
                "AUTH_MODE".into(),
                "shadow".into(),
                "enforced".into(),
                switched_id
            )
        );
        assert!(events.iter().any(|line| {
            line["level"] == "ERROR"
                && line["fields"]["message"]
                    == "configuration refresh failed; keeping the last good snapshot"
        }));
    });
    let mut switches = Vec::new();
    let mut active = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let label = |name: &str| {
            key.key()
                .labels()
                .find(|l| l.key() == name)
                .map(|l| l.value().to_owned())
                .unwrap_or_default()
        };
        match (key.key().name(), value) {
            ("stanchion_rollout_switches_total", DebugValue::Counter(n)) => {
                switches.push((label("flag"), label("from"), label("to"), n));
            }
            ("stanchion_rollout_mode", DebugValue::Gauge(g)) if g.0 == 1.0 => {
                active.push((label("flag"), label("mode")));
            }
            _ => {}
        }
    }
    switches.sort();
    assert_eq!(
        switches,
        [
            ("AUTH_MODE".into(), "enforced".into(), "shadow".into(), 1),
            ("AUTH_MODE".into(), "shadow".into(), "enforced".into(), 1),
        ]
    );
    active.sort();
    assert_eq!(
        active,
        [
            ("AUTH_MODE".into(), "shadow".into()),
            ("GUARD_MODE".into(), "shadow".into()),
            ("SECRETS_VAULT_MODE".into(), "off".into()),
        ]
    );
}
