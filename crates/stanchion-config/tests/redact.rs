//! Feature `redact`: every loaded secret is registered with a real `stanchion_redact::Redactor`.

#![cfg(feature = "redact")]

mod common;

use common::Fixture;
use stanchion_redact::Redactor;

#[test]
fn every_loaded_secret_is_redacted_by_the_given_redactor() {
    let fx = Fixture::new();
    fx.write(".env", "API_KEY=zqx-from-dotenv-5518\n");
    fx.write("secrets/db_password", "zqx-from-secrets-dir-0931\n");
    let registry = r#"
        [[tools]]
        slug = "t"
        required = ["API_KEY", "DB_PASSWORD", "REGION"]
        secrets = ["API_KEY", "DB_PASSWORD"]
    "#;
    let redactor = Redactor::new();
    let snapshot = fx
        .loader(
            registry,
            &[
                ("API_KEY", "zqx-from-env-7730"),
                ("REGION", "eu-west-1-region"),
            ],
        )
        .with_secrets_dir(fx.path("secrets"))
        .with_secret_sink(redactor.clone())
        .load()
        .expect("load");
    assert!(snapshot.is_enabled("t"));
    let line = "key zqx-from-env-7730 old zqx-from-dotenv-5518 db zqx-from-secrets-dir-0931 \
                region eu-west-1-region";
    let redacted = redactor.redact(line);
    for secret in [
        "zqx-from-env-7730",
        "zqx-from-dotenv-5518",
        "zqx-from-secrets-dir-0931",
    ] {
        assert!(!redacted.contains(secret), "{redacted}");
    }
    assert!(
        redacted.contains("eu-west-1-region"),
        "non-secrets are not registered: {redacted}"
    );
}
