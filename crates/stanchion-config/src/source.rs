//! Where values come from (origins), the values themselves, and secret fingerprints.

use std::{
    collections::hash_map::RandomState,
    fmt,
    hash::{BuildHasher, Hasher},
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The kind of a source, lowest precedence first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SourceKind {
    /// A default from the tools registry.
    Default,
    /// A line of a `.env*` file.
    DotenvFile,
    /// The process environment.
    ProcessEnv,
    /// The file named by `NAME_FILE` (Docker's `_FILE` convention).
    FileIndirection,
    /// A file named after the variable in the secrets directory.
    SecretsDir,
}

impl SourceKind {
    /// A stable snake_case name, used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::DotenvFile => "dotenv",
            Self::ProcessEnv => "process_env",
            Self::FileIndirection => "file_indirection",
            Self::SecretsDir => "secrets_dir",
        }
    }
}

/// Where one value came from: enough to find it, never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A registry default, declared by `tool`.
    Default {
        /// The tool whose registry entry declares the default.
        tool: String,
    },
    /// A dotenv file, at a 1-based line.
    DotenvFile {
        /// The file (shared: every value from one file points at the same path).
        path: Arc<Path>,
        /// The line the assignment starts on.
        line: usize,
    },
    /// The process environment.
    ProcessEnv,
    /// A file named by an indirection variable such as `DB_PASSWORD_FILE`.
    FileIndirection {
        /// The indirection variable.
        variable: String,
        /// The file it names.
        path: PathBuf,
    },
    /// A file in the secrets directory.
    SecretsDir {
        /// The file.
        path: PathBuf,
    },
}

impl Origin {
    /// The kind of source.
    pub fn kind(&self) -> SourceKind {
        match self {
            Self::Default { .. } => SourceKind::Default,
            Self::DotenvFile { .. } => SourceKind::DotenvFile,
            Self::ProcessEnv => SourceKind::ProcessEnv,
            Self::FileIndirection { .. } => SourceKind::FileIndirection,
            Self::SecretsDir { .. } => SourceKind::SecretsDir,
        }
    }

    /// The file behind this origin, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::DotenvFile { path, .. } => Some(path),
            Self::FileIndirection { path, .. } | Self::SecretsDir { path } => Some(path),
            Self::Default { .. } | Self::ProcessEnv => None,
        }
    }

    /// The line, for dotenv files.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::DotenvFile { line, .. } => Some(*line),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default { tool } => write!(f, "registry default (tool {tool})"),
            Self::DotenvFile { path, line } => write!(f, "{} line {line}", path.display()),
            Self::ProcessEnv => f.write_str("process environment"),
            Self::FileIndirection { variable, path } => {
                write!(f, "file {} (via {variable})", path.display())
            }
            Self::SecretsDir { path } => write!(f, "secrets directory file {}", path.display()),
        }
    }
}

/// A value as held in a snapshot: secrets are `SecretString` from the moment they are read.
#[derive(Clone)]
pub(crate) enum Held {
    Plain(String),
    Secret(SecretString),
}

impl Held {
    pub(crate) fn new(value: String, secret: bool) -> Self {
        if secret {
            Self::Secret(SecretString::from(value))
        } else {
            Self::Plain(value)
        }
    }

    /// SECURITY: crate-internal only; used for emptiness, validation and registration.
    pub(crate) fn expose(&self) -> &str {
        match self {
            Self::Plain(value) => value,
            Self::Secret(value) => value.expose_secret(),
        }
    }
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(value) => fmt::Debug::fmt(value, f),
            Self::Secret(_) => f.write_str("[secret]"),
        }
    }
}

/// One source's value for a variable: the origin and the value (secret-safe in `Debug`).
#[derive(Clone, Debug)]
pub struct Candidate {
    pub(crate) origin: Origin,
    pub(crate) value: Held,
}

impl Candidate {
    /// Where this value came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.value.expose().is_empty()
    }

    /// The value, when the variable is not a secret; `None` for secrets.
    pub fn plain_value(&self) -> Option<&str> {
        match &self.value {
            Held::Plain(value) => Some(value),
            Held::Secret(_) => None,
        }
    }
}

/// The key for secret fingerprints (HMAC-SHA256). Clones share the key.
///
/// The default key is random per process: fingerprints then tell whether a secret changed
/// between refreshes of one process, and say nothing that could be checked offline against a
/// guessed value. Configure a fixed key to compare fingerprints across processes.
#[derive(Clone)]
pub struct FingerprintKey(Arc<[u8]>);

impl FingerprintKey {
    /// A fixed key, for fingerprints comparable across processes.
    pub fn from_bytes(key: &[u8]) -> Self {
        Self(Arc::from(key))
    }

    /// The per-process random key.
    pub fn per_process() -> Self {
        static KEY: OnceLock<FingerprintKey> = OnceLock::new();
        KEY.get_or_init(|| {
            // SECURITY: std's RandomState is seeded from the OS RNG; four draws give a
            // 256-bit key without another dependency. The key never leaves the process.
            let mut key = Vec::with_capacity(32);
            for _ in 0..4 {
                let mut hasher = RandomState::new().build_hasher();
                hasher.write_u64(key.len() as u64);
                key.extend_from_slice(&hasher.finish().to_le_bytes());
            }
            Self(Arc::from(key))
        })
        .clone()
    }

    pub(crate) fn fingerprint(&self, secret: &str) -> Fingerprint {
        #[allow(clippy::expect_used)] // HMAC accepts keys of any length; this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(secret.as_bytes());
        let tag = mac.finalize().into_bytes();
        Fingerprint {
            len: secret.chars().count(),
            tag: [tag[0], tag[1], tag[2], tag[3]],
        }
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey([redacted])")
    }
}

impl Default for FingerprintKey {
    fn default() -> Self {
        Self::per_process()
    }
}

/// A secret's length and a 32-bit keyed hash: tells whether a value changed, never what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    len: usize,
    tag: [u8; 4],
}

impl Fingerprint {
    /// The secret's length in characters.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.tag;
        write!(f, "len={} hmac={a:02x}{b:02x}{c:02x}{d:02x}", self.len)
    }
}

/// Receives every secret value the loader reads, e.g. to redact it from logs.
///
/// With the `redact` feature, `stanchion_redact::Redactor` implements it. Any
/// `Fn(&str, &SecretString) + Send + Sync` closure does too.
pub trait SecretSink: Send + Sync {
    /// Register `secret`, read for the variable `label`.
    fn register_secret(&self, label: &str, secret: &SecretString);
}

impl<F> SecretSink for F
where
    F: Fn(&str, &SecretString) + Send + Sync,
{
    fn register_secret(&self, label: &str, secret: &SecretString) {
        self(label, secret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_change_with_the_value_and_the_key() {
        let key = FingerprintKey::from_bytes(b"k1");
        let a = key.fingerprint("s3cret-value");
        assert_eq!(a, key.fingerprint("s3cret-value"));
        assert_ne!(a, key.fingerprint("s3cret-valuf"));
        assert_ne!(
            a,
            FingerprintKey::from_bytes(b"k2").fingerprint("s3cret-value")
        );
        assert_eq!(a.len(), 12);
        assert!(a.to_string().starts_with("len=12 hmac="));
    }
}
