//! Configuration of a [`Redactor`]: which rules, which method, which limits.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{
    marker::Method,
    redactor::Redactor,
    rules::{Category, RULES},
};

/// The default size limit of one value (64 KiB). Longer values are redacted whole.
pub const DEFAULT_MAX_VALUE_LEN: usize = 64 * 1024;

/// Why a [`RedactorBuilder`] could not build.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A rule id given to `with_rule` is not in the catalogue.
    UnknownRule(String),
    /// [`Method::Hash`] was chosen without a key.
    HashWithoutKey,
    /// The hash key is shorter than 16 bytes.
    HashKeyTooShort(usize),
    /// The size limit is below 64 bytes, which would redact ordinary log lines whole.
    MaxValueLenTooSmall(usize),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownRule(id) => write!(
                f,
                "unknown redaction rule {id:?}; `stanchion_redact::rules()` lists the ids"
            ),
            Self::HashWithoutKey => f.write_str(
                "the keyed hash method needs a deployment key: call `with_hash_key` (16 bytes \
                 or more)",
            ),
            Self::HashKeyTooShort(len) => write!(
                f,
                "the hash key is {len} bytes; at least 16 are needed so tokens cannot be \
                 brute-forced"
            ),
            Self::MaxValueLenTooSmall(len) => write!(
                f,
                "a size limit of {len} bytes would redact ordinary log lines whole; use 64 or \
                 more"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// Configuration of a [`Redactor`]; builder-lite, checked by [`RedactorBuilder::build`].
#[derive(Clone)]
#[must_use]
pub struct RedactorBuilder {
    method: Method,
    hash_key: Option<Vec<u8>>,
    overrides: Vec<(String, bool)>,
    pii: bool,
    max_value_len: usize,
}

impl fmt::Debug for RedactorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactorBuilder")
            .field("method", &self.method)
            .field("hash_key", &self.hash_key.as_ref().map(|_| "[REDACTED]"))
            .field("overrides", &self.overrides)
            .field("pii", &self.pii)
            .field("max_value_len", &self.max_value_len)
            .finish()
    }
}

impl Default for RedactorBuilder {
    fn default() -> Self {
        Self {
            method: Method::Replace,
            hash_key: None,
            overrides: Vec::new(),
            pii: false,
            max_value_len: DEFAULT_MAX_VALUE_LEN,
        }
    }
}

impl RedactorBuilder {
    /// How secrets are replaced. Default: [`Method::Replace`].
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// The deployment key of [`Method::Hash`] (16 bytes or more). Default: none.
    pub fn with_hash_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.hash_key = Some(key.as_ref().to_vec());
        self
    }

    /// Turns every opt-in PII rule (email, IP addresses, card numbers, IBAN) on or off.
    /// Default: off.
    pub fn with_pii(mut self, enabled: bool) -> Self {
        self.pii = enabled;
        self
    }

    /// Turns one rule on or off by id; applied after [`RedactorBuilder::with_pii`].
    pub fn with_rule(mut self, id: &str, enabled: bool) -> Self {
        self.overrides.push((id.to_owned(), enabled));
        self
    }

    /// The longest value scanned, in bytes; a longer value is replaced whole by
    /// `[REDACTED:oversized]` (fail closed). Default: [`DEFAULT_MAX_VALUE_LEN`].
    pub fn with_max_value_len(mut self, max: usize) -> Self {
        self.max_value_len = max;
        self
    }

    /// Checks the configuration and builds the redactor.
    pub fn build(self) -> Result<Redactor, BuildError> {
        let mut enabled: Vec<bool> = RULES
            .iter()
            .map(|rule| rule.default_enabled || (self.pii && rule.category == Category::Pii))
            .collect();
        for (id, on) in &self.overrides {
            let index = RULES
                .iter()
                .position(|rule| rule.id == id)
                .ok_or_else(|| BuildError::UnknownRule(id.clone()))?;
            enabled[index] = *on;
        }
        if self.max_value_len < 64 {
            return Err(BuildError::MaxValueLenTooSmall(self.max_value_len));
        }
        let hash_key = match (&self.method, &self.hash_key) {
            (Method::Hash, None) => return Err(BuildError::HashWithoutKey),
            (_, Some(key)) if key.len() < 16 => {
                return Err(BuildError::HashKeyTooShort(key.len()));
            }
            (_, Some(key)) => Some(
                Hmac::<Sha256>::new_from_slice(key)
                    .map_err(|_| BuildError::HashKeyTooShort(key.len()))?,
            ),
            (_, None) => None,
        };
        let catalogue_indices = enabled
            .iter()
            .enumerate()
            .filter_map(|(index, on)| on.then_some(index));
        Ok(Redactor::from_parts(
            catalogue_indices,
            self.method,
            hash_key,
            self.max_value_len,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_builds() {
        assert!(Redactor::builder().build().is_ok());
        assert!(Redactor::builder().with_pii(true).build().is_ok());
    }

    #[test]
    fn invalid_configurations_say_why() {
        let unknown = Redactor::builder()
            .with_rule("nope", true)
            .build()
            .unwrap_err();
        assert!(unknown.to_string().contains("nope"));
        assert_eq!(
            Redactor::builder()
                .with_method(Method::Hash)
                .build()
                .unwrap_err(),
            BuildError::HashWithoutKey
        );
        assert_eq!(
            Redactor::builder()
                .with_hash_key("short")
                .build()
                .unwrap_err(),
            BuildError::HashKeyTooShort(5)
        );
        assert_eq!(
            Redactor::builder()
                .with_max_value_len(10)
                .build()
                .unwrap_err(),
            BuildError::MaxValueLenTooSmall(10)
        );
    }
}
