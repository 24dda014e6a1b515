//! Exact values registered at runtime: validation and the list the literal matcher is built
//! from. The values are kept as [`SecretString`]s (zeroized on drop).

use std::{fmt, sync::Arc};

use secrecy::{ExposeSecret, SecretString};

use crate::marker::{self, MARKER_PREFIX};

/// Registered secrets shorter than this (in bytes) are refused: a short value such as `admin`
/// would redact every occurrence of a common word. Short secrets are still covered by the
/// key-name rules (`password=...`).
pub const MIN_SECRET_LEN: usize = 8;

/// Why a registered secret was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterSecretError {
    /// The value is shorter than [`MIN_SECRET_LEN`] bytes.
    TooShort {
        /// The sanitized label the caller gave.
        label: String,
        /// The value's length in bytes (not the value).
        len: usize,
    },
    /// The value would match the redactor's own markers or masks.
    LooksLikeAMarker {
        /// The sanitized label the caller gave.
        label: String,
    },
}

impl fmt::Display for RegisterSecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { label, len } => write!(
                f,
                "secret {label:?} was not registered for literal redaction: it is {len} bytes \
                 long and the minimum is {MIN_SECRET_LEN} (short values would redact common \
                 words); key-name rules still cover it"
            ),
            Self::LooksLikeAMarker { label } => write!(
                f,
                "secret {label:?} was not registered for literal redaction: it would match the \
                 redaction markers themselves"
            ),
        }
    }
}

impl std::error::Error for RegisterSecretError {}

/// Registered secrets in plain text with their labels, longest first: what the literal matcher
/// is built from.
pub(crate) type PlainSecrets = Vec<(Arc<str>, String)>;

/// The registered secrets and the labels of refused ones.
#[derive(Default)]
pub(crate) struct Registry {
    secrets: Vec<(Arc<str>, SecretString)>,
    refused: Vec<String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY: labels only, never values.
        f.debug_struct("Registry")
            .field(
                "labels",
                &self.secrets.iter().map(|(l, _)| l).collect::<Vec<_>>(),
            )
            .field("refused", &self.refused)
            .finish()
    }
}

impl Registry {
    /// Adds `secret` under `label` (sanitized). Returns the secrets to match, longest first,
    /// when the set changed, and `None` when the value was registered already.
    pub(crate) fn register(
        &mut self,
        label: &str,
        secret: &str,
    ) -> Result<Option<PlainSecrets>, RegisterSecretError> {
        let label = marker::sanitize_label(label);
        let refusal = if secret.len() < MIN_SECRET_LEN {
            Some(RegisterSecretError::TooShort {
                label: label.clone(),
                len: secret.len(),
            })
        } else if secret.contains(MARKER_PREFIX)
            || MARKER_PREFIX.contains(secret)
            || marker::is_already_redacted(secret)
        {
            Some(RegisterSecretError::LooksLikeAMarker {
                label: label.clone(),
            })
        } else {
            None
        };
        if let Some(error) = refusal {
            self.refused.push(label);
            return Err(error);
        }
        if self
            .secrets
            .iter()
            .any(|(_, known)| known.expose_secret() == secret)
        {
            return Ok(None);
        }
        self.secrets
            .push((Arc::from(label.as_str()), SecretString::from(secret)));
        // Longest first, so a secret that contains another is redacted whole.
        let mut plain: PlainSecrets = self
            .secrets
            .iter()
            .map(|(label, secret)| (Arc::clone(label), secret.expose_secret().to_owned()))
            .collect();
        plain.sort_by_key(|(_, secret)| std::cmp::Reverse(secret.len()));
        Ok(Some(plain))
    }

    /// The sanitized labels of refused secrets.
    pub(crate) fn refused(&self) -> &[String] {
        &self.refused
    }
}
