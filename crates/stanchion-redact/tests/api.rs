//! The public contract other crates rely on: cheap shared clones, runtime registration from
//! any thread, refusal reporting, methods, the size limit, counters, secrecy.

use std::{
    borrow::Cow,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use secrecy::SecretString;
use stanchion_redact::{
    DEFAULT_MAX_VALUE_LEN, MIN_SECRET_LEN, Method, Redactor, RegisterSecretError,
};

fn assert_contract<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}

#[test]
fn redactor_is_clone_debug_send_sync_static() {
    assert_contract::<Redactor>();
}

#[test]
fn registered_secrets_are_seen_by_every_clone_and_thread() {
    let redactor = Redactor::new();
    let secret = "s3cr3t-from-the-config-service";
    let line = format!("upstream said {secret} twice: {secret}");
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let redactor = redactor.clone();
            let stop = Arc::clone(&stop);
            let line = line.clone();
            std::thread::spawn(move || {
                let mut rounds = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    // Before or after the registration: never a torn or panicking matcher.
                    let out = redactor.redact(&line);
                    assert!(out == line || !out.contains(secret), "{out}");
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();
    let other = redactor.clone();
    other.register_secret("API_SECRET", secret);
    for i in 0..20 {
        other.register_secret("FILLER", &format!("filler-secret-{i:04}"));
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().expect("reader thread") > 0);
    }
    assert_eq!(
        redactor.redact(&line),
        "upstream said [REDACTED:registered-secret:API_SECRET] twice: \
         [REDACTED:registered-secret:API_SECRET]"
    );
}

#[test]
fn short_secrets_are_refused_and_reported_without_their_value() {
    let redactor = Redactor::new();
    redactor.register_secret("PIN", "1234");
    assert_eq!(redactor.refused_secrets(), ["PIN"]);
    assert_eq!(redactor.redact("pin 1234 ok"), "pin 1234 ok");
    let error = redactor.try_register_secret("SHORT", "abc").unwrap_err();
    assert!(matches!(
        error,
        RegisterSecretError::TooShort { len: 3, .. }
    ));
    assert!(error.to_string().contains(&MIN_SECRET_LEN.to_string()));
    assert!(!error.to_string().contains("abc\""));
    assert!(
        redactor
            .try_register_secret("OK", "longer-than-eight")
            .is_ok()
    );
}

#[test]
fn secret_strings_register_and_never_print() {
    let redactor = Redactor::new();
    let secret = SecretString::from("hunter2-but-longer");
    redactor.register_secret_string("DB_PASSWORD", &secret);
    assert_eq!(
        redactor.redact("auth failed for hunter2-but-longer"),
        "auth failed for [REDACTED:registered-secret:DB_PASSWORD]"
    );
    let debug = format!("{redactor:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("DB_PASSWORD"));
}

#[test]
fn registered_secrets_are_found_in_json_even_when_escaped() {
    let redactor = Redactor::new();
    redactor.register_secret("QUOTED", "pa\"ss\\word-9");
    let line = serde_json::json!({"fields": {"message": "got pa\"ss\\word-9"}}).to_string();
    let out = redactor.redact_json_line(&line);
    assert_eq!(
        out,
        r#"{"fields":{"message":"got [REDACTED:registered-secret:QUOTED]"}}"#
    );
}

#[test]
fn mask_and_hash_methods() {
    let token = format!("ghp_{}", "Ab3xK9mQz7Rt".repeat(3));
    let mask = Redactor::builder()
        .with_method(Method::Mask)
        .build()
        .unwrap();
    assert_eq!(
        mask.redact(&format!("t={token}")),
        format!("t={}", "*".repeat(40))
    );
    let hash = Redactor::builder()
        .with_method(Method::Hash)
        .with_hash_key([7_u8; 32])
        .build()
        .unwrap();
    let a = hash.redact(&token).into_owned();
    let b = hash.redact(&format!("again {token}")).into_owned();
    assert!(
        a.starts_with("[REDACTED:github-pat:") && a.len() == "[REDACTED:github-pat:]".len() + 8
    );
    assert!(b.ends_with(&a));
}

#[test]
fn oversized_values_are_redacted_whole() {
    let redactor = Redactor::builder().with_max_value_len(64).build().unwrap();
    let long = "x".repeat(65);
    assert_eq!(redactor.redact(&long), "[REDACTED:oversized]");
    assert!(matches!(redactor.redact(&"x".repeat(64)), Cow::Borrowed(_)));
    let json = format!(r#"{{"a":"{long}","b":"short"}}"#);
    assert_eq!(
        redactor.redact_json_line(&json),
        r#"{"a":"[REDACTED:oversized]","b":"short"}"#
    );
    assert_eq!(Redactor::new().max_value_len(), DEFAULT_MAX_VALUE_LEN);
}

#[test]
fn counters_are_shared_by_clones_and_hold_no_values() {
    let redactor = Redactor::new();
    let clone = redactor.clone();
    clone.redact("password=one1 api_key=two2");
    let counts = redactor.counts();
    let field = counts.iter().find(|c| c.rule == "secret-field").unwrap();
    assert_eq!(field.count, 2);
    assert_eq!(redactor.total_count(), 2);
    assert!(!format!("{counts:?}").contains("one1"));
}

#[test]
fn rules_can_be_turned_off_and_pii_on() {
    let redactor = Redactor::builder()
        .with_rule("github-pat", false)
        .with_rule("email", true)
        .build()
        .unwrap();
    let token = format!("ghp_{}", "Ab3xK9mQz7Rt".repeat(3));
    assert_eq!(redactor.redact(&token), token);
    assert_eq!(redactor.redact("to ana@example.com"), "to [REDACTED:email]");
    assert!(redactor.enabled_rules().any(|id| id == "email"));
}
