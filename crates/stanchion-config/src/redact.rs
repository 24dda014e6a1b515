//! Feature `redact`: every secret the loader reads is registered with a redactor, so it is
//! masked wherever the redactor filters output (logs, CLI).

use secrecy::{ExposeSecret, SecretString};

use crate::SecretSink;

impl SecretSink for stanchion_redact::Redactor {
    fn register_secret(&self, label: &str, secret: &SecretString) {
        // The inherent method, spelled out: it takes the exposed value.
        stanchion_redact::Redactor::register_secret(self, label, secret.expose_secret());
    }
}
