//! Canary: secrets planted in every source never appear in any output path — errors, `Debug`,
//! JSON, explanations, tracing events, metric labels. Only fingerprints may.

mod common;

use std::sync::{Arc, Mutex};

use common::Fixture;
use metrics_util::debugging::DebuggingRecorder;
use secrecy::{ExposeSecret, SecretString};
use stanchion_config::{ConfigLoader, ConfigService, Registry, RolloutMode};
use stanchion_test_support::CapturedLogs;

/// One distinct secret per source; none contains a variable name or a common word.
const PLANTED: &[(&str, &str)] = &[
    ("dotenv", "zqx-dotenv-7f3a91c2"),
    ("dotenv_env", "zqx-dotenvenv-c4d2e8"),
    ("dotenv_local", "zqx-dotlocal-9b1e77"),
    ("dotenv_env_local", "zqx-dotenvlocal-51ab"),
    ("process_env", "zqx-process-e6f0d3"),
    ("file_indirection", "zqx-filevia-2c8b44"),
    ("secrets_dir", "zqx-secretdir-a7e905"),
    ("invalid", "zqx-invalid-3d6f10"),
    ("malformed", "zqx-malformed-88c1b0"),
];

fn planted(source: &str) -> &'static str {
    PLANTED
        .iter()
        .find(|(s, _)| *s == source)
        .expect("planted source")
        .1
}

/// Fails when any 8-character window of any planted secret appears in `output`.
fn assert_clean(what: &str, output: &str) {
    for (source, secret) in PLANTED {
        let chars: Vec<char> = secret.chars().collect();
        for window in chars.windows(8) {
            let window: String = window.iter().collect();
            assert!(
                !output.contains(&window),
                "{what} leaks part of the {source} secret ({window:?}):\n{output}"
            );
        }
    }
}

const REGISTRY: &str = r#"
[[tools]]
slug = "chat"
required = ["CHAT_TOKEN", "CHAT_SIGNING_KEY"]
optional = ["CHAT_HEADER"]
secrets = ["CHAT_TOKEN", "CHAT_SIGNING_KEY"]
critical = true

[[tools]]
slug = "billing"
required = ["BILLING_KEY", "BILLING_WEBHOOK_SECRET", "BILLING_PIN"]
secrets = ["BILLING_KEY", "BILLING_WEBHOOK_SECRET", "BILLING_PIN"]
validate = { BILLING_PIN = { kind = "regex", pattern = "^[0-9]{4}$" } }
"#;

fn plant(fx: &Fixture) -> ConfigLoader {
    fx.write(
        ".env",
        &format!(
            "CHAT_TOKEN={}\nCHAT_HEADER=\"Bearer ${{CHAT_TOKEN}}\"\n",
            planted("dotenv")
        ),
    );
    fx.write(
        ".env.production",
        &format!("CHAT_TOKEN='{}'\n", planted("dotenv_env")),
    );
    fx.write(
        ".env.local",
        &format!("CHAT_TOKEN=\"{}\"\n", planted("dotenv_local")),
    );
    fx.write(
        ".env.production.local",
        &format!(
            "export CHAT_SIGNING_KEY={}\nBILLING_PIN={}\n",
            planted("dotenv_env_local"),
            planted("invalid")
        ),
    );
    let via = fx.write(
        "mounted/billing-webhook",
        &format!("{}\n", planted("file_indirection")),
    );
    fx.write("secrets/billing_key", planted("secrets_dir"));
    ConfigLoader::new(Registry::from_toml_str(REGISTRY).expect("registry"))
        .with_dir(fx.root())
        .with_secrets_dir(fx.path("secrets"))
        .with_vault_mode(RolloutMode::Enforced)
        .with_process_env([
            ("APP_ENV", "production".to_owned()),
            ("CHAT_TOKEN", planted("process_env").to_owned()),
            ("BILLING_WEBHOOK_SECRET_FILE", via.display().to_string()),
        ])
}

#[test]
fn planted_secrets_never_reach_any_output() {
    let fx = Fixture::new();
    let registered: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = {
        let registered = Arc::clone(&registered);
        move |_label: &str, secret: &SecretString| {
            registered
                .lock()
                .unwrap()
                .push(secret.expose_secret().to_owned());
        }
    };
    let logs = CapturedLogs::new();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .finish();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();

    let (service, malformed_error) = tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            let service = ConfigService::start(plant(&fx).with_secret_sink(sink)).expect("load");
            service.refresh().expect("refresh");
            // A malformed line holding a secret: the error, and the failed refresh's event.
            fx.write(
                ".env.local",
                &format!("CHAT_TOKEN {}\n", planted("malformed")),
            );
            let error = service.refresh().unwrap_err();
            (service, error)
        })
    });
    let snapshot = service.snapshot();

    // The loads really did read every planted secret (the test would be vacuous otherwise).
    let registered = registered.lock().unwrap().clone();
    for (source, secret) in PLANTED.iter().filter(|(s, _)| *s != "malformed") {
        assert!(
            registered.iter().any(|r| r == secret),
            "the {source} secret was registered"
        );
    }
    assert!(
        registered.iter().any(|r| r.starts_with("Bearer zqx-")),
        "expanded secrets too"
    );
    assert!(
        !snapshot.is_enabled("chat"),
        "enforced mode refuses dotenv secrets"
    );
    assert!(!snapshot.is_enabled("billing"), "the PIN is invalid");
    assert!(
        snapshot
            .variable("BILLING_KEY")
            .unwrap()
            .fingerprint()
            .is_some()
    );

    let json = serde_json::to_string_pretty(&*snapshot).unwrap();
    assert!(
        json.contains("\"fingerprint\": \"len="),
        "fingerprints are shown: {json}"
    );
    let mut outputs = vec![
        ("JSON", json),
        ("Debug of the snapshot", format!("{snapshot:?}")),
        ("Debug of the service", format!("{service:?}")),
        ("malformed-line error", malformed_error.to_string()),
        ("malformed-line error Debug", format!("{malformed_error:?}")),
        ("tracing events", logs.contents()),
        (
            "metric keys",
            format!("{:?}", snapshotter.snapshot().into_vec()),
        ),
    ];
    for tool in snapshot.tools() {
        outputs.push((
            "explanation",
            snapshot.explain(tool.slug()).unwrap().to_string(),
        ));
        for reason in tool.reasons() {
            outputs.push(("reason", reason.to_string()));
        }
    }
    for variable in snapshot.variables() {
        outputs.push(("variable Debug", format!("{variable:?}")));
        for candidate in variable.chain() {
            outputs.push(("candidate Debug", format!("{candidate:?}")));
        }
    }
    assert!(logs.contents().contains("configuration refresh failed"));
    for (what, output) in &outputs {
        assert_clean(what, output);
    }
}
