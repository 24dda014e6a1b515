//! `stanchion config check` and the backend decide from the same loader: whatever stops the
//! backend from starting in an environment makes the doctor fail too, with the same reason.
//! The doctor is driven exactly as its `check` subcommand drives it (`ConfigLoader` over the
//! registry file and the directory, the verdict `Snapshot::passes_check`).

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use example_backend::{BackendConfig, DEVELOPMENT_JWT_SECRET, default_config_dir};
use stanchion_config::ConfigLoader;

#[test]
fn every_start_refusal_is_a_doctor_failure_with_the_same_reason() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("AUTH_JWT_SECRET");
    std::fs::write(&secret_file, "a-production-secret-mounted-as-a-file-0123").unwrap();
    let secret_file = secret_file.to_str().unwrap().to_owned();
    // (what, the process environment, the reason kind that refuses the start)
    type Scenario<'a> = (&'a str, Vec<(&'a str, String)>, Option<&'a str>);
    let scenarios: Vec<Scenario<'_>> = vec![
        ("development defaults", vec![], None),
        (
            "production, secret file",
            vec![
                ("APP_ENV", "production".into()),
                ("AUTH_JWT_SECRET_FILE", secret_file),
            ],
            None,
        ),
        (
            "production, no secret",
            vec![("APP_ENV", "production".into())],
            Some("MISSING"),
        ),
        (
            "production, the development secret",
            vec![
                ("APP_ENV", "production".into()),
                ("AUTH_JWT_SECRET", DEVELOPMENT_JWT_SECRET.into()),
            ],
            Some("DEVELOPMENT_VALUE"),
        ),
        (
            "staging, the development secret",
            vec![
                ("APP_ENV", "staging".into()),
                ("AUTH_JWT_SECRET", DEVELOPMENT_JWT_SECRET.into()),
            ],
            Some("DEVELOPMENT_VALUE"),
        ),
        (
            "development, a short secret",
            vec![("AUTH_JWT_SECRET", "too-short".into())],
            Some("INVALID"),
        ),
    ];
    for (name, vars, refusal) in scenarios {
        let service = BackendConfig::from_vars(vars.iter().map(|(k, v)| (*k, v.clone())));
        let doctor = ConfigLoader::from_registry_file(default_config_dir().join("tools.toml"))
            .with_dir(default_config_dir())
            .with_process_env(vars.iter().map(|(k, v)| (*k, v.clone())))
            .load()
            .unwrap();
        match refusal {
            None => {
                assert!(service.is_ok(), "{name}: {:?}", service.err());
                assert!(doctor.passes_check(), "{name}: the doctor fails");
            }
            Some(kind) => {
                let message = service.expect_err(name).to_string();
                assert!(message.contains(kind), "{name}: service says {message}");
                assert!(!doctor.passes_check(), "{name}: the doctor passes");
                let auth = doctor.tool("auth").unwrap();
                assert!(
                    auth.reasons().iter().any(|r| r.kind().as_str() == kind),
                    "{name}: the doctor's reasons {:?}",
                    auth.reasons()
                );
            }
        }
    }
}
