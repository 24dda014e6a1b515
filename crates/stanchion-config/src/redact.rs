//! Feature `redact`: every secret the loader reads is registered with a redactor, so it is
//! masked wherever that redactor filters output (logs, CLI).

use secrecy::SecretString;

use crate::SecretSink;

impl SecretSink for stanchion_redact::Redactor {
    fn register_secret(&self, label: &str, secret: &SecretString) {
        // Values shorter than the redactor's minimum are refused there and listed in
        // `Redactor::refused_secrets`, so an operator can see which labels were too short.
        self.register_secret_string(label, secret);
    }
}
