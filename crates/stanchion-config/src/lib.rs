//! The tool configuration service (TCS): decides from layered sources which tools are enabled
//! in an environment, explains every disabled tool and shows where each value came from,
//! without ever showing a secret value.
//!
//! # Example
//!
//! ```
//! use stanchion_config::{ConfigLoader, ReasonKind, Registry};
//!
//! let registry = Registry::from_toml_str(r#"
//!     [[tools]]
//!     slug = "slack"
//!     required = ["SLACK_TOKEN", "SLACK_CHANNEL"]
//!     secrets = ["SLACK_TOKEN"]
//! "#)?;
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join(".env"), "SLACK_CHANNEL=#ops\n")?;
//!
//! let snapshot = ConfigLoader::new(registry)
//!     .with_dir(dir.path())
//!     .with_process_env([("APP_ENV", "production")]) // tests inject; services read the real one
//!     .load()?;
//!
//! let slack = snapshot.tool("slack").unwrap();
//! assert!(!slack.is_enabled());
//! assert_eq!(slack.reasons()[0].kind(), ReasonKind::Missing);
//! assert_eq!(snapshot.value("SLACK_CHANNEL"), Some("#ops"));
//! assert_eq!(snapshot.variable("SLACK_CHANNEL").unwrap().origin().unwrap().line(), Some(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The registry format, the source order (with a flowchart), reason kinds, strict secrets mode
//! and refresh are described in `docs/configuration.md`; the dotenv dialect, case by case, in
//! `docs/dotenv.md`.
//!
//! # Feature flags
//!
//! | Name     | Description                                                                  | Default |
//! |----------|------------------------------------------------------------------------------|---------|
//! | `watch`  | `ConfigService::watch`: refresh when a watched directory changes (`notify`)   | no      |
//! | `redact` | [`SecretSink`] for `stanchion_redact::Redactor`                              | no      |
//!
//! The core has no async runtime and no file watcher: it is plain blocking I/O on small files,
//! done at start and on refresh.
//!
//! # Behaviour
//!
//! - **Sources, lowest to highest:** registry defaults, `.env`, `.env.<env>`, `.env.local`
//!   (skipped when the environment is `test`), `.env.<env>.local`, the process environment,
//!   `NAME_FILE` indirection, the secrets directory.
//! - **The process environment is never written.** It is read into an owned map on each load,
//!   or injected with [`ConfigLoader::with_process_env`].
//! - **Every reason at once.** A disabled tool lists every problem, each with a stable
//!   [`ReasonKind`] and a human message.
//! - **No secret value in any output.** Secrets are [`secrecy::SecretString`] from the moment
//!   they are read; errors, `Debug`, explanations, events, metrics and the JSON form show at
//!   most a [`Fingerprint`]. Parse errors name the file and line, never the content.
//! - **Readers never block.** [`ConfigService::snapshot`] and [`ConfigService::current`] are
//!   `ArcSwap` loads; a failed refresh keeps the last good snapshot and is counted.
//! - **Every loaded secret is registered** with the [`SecretSink`] given to
//!   [`ConfigLoader::with_secret_sink`] (a `stanchion_redact::Redactor` with the `redact`
//!   feature), including values that lost to a higher source and values expanded from a secret.
//! - **Malformed input fails the whole load**, naming the file and line: a refresh then keeps
//!   the last good snapshot, and `stanchion config check` exits 2.
//!
//! # Dependencies
//!
//! `url` checks URL validations (WHATWG parsing, not a regex); `hmac`/`sha2` compute
//! fingerprints; `arc-swap` gives lock-free snapshot reads; `metrics` and `tracing` are
//! facades the service's own recorder and subscriber receive.

pub mod dotenv;
mod flags;
mod load;
pub mod metric_names;
mod registry;
mod service;
mod snapshot;
mod source;
mod telemetry;
#[cfg(feature = "watch")]
mod watch;

#[cfg(feature = "redact")]
mod redact;

#[doc(inline)]
pub use crate::{
    flags::{FlagSource, FlagSpec, FlagValue, Switch},
    load::{
        ConfigLoader, DEFAULT_ENV, ENV_NAME_VAR, LoadError, MAX_SECRET_FILE_BYTES, VAULT_MODE_VAR,
    },
    registry::{Registry, RegistryError, ToolSpec, Validation},
    service::{ConfigService, RefreshError, RefreshReport, SnapshotRef, UnknownFlag},
    snapshot::{
        CriticalToolDisabled, DotenvFile, Explanation, Flip, Reason, ReasonKind, RefreshId,
        Snapshot, ToolStatus, Variable,
    },
    source::{Candidate, Fingerprint, FingerprintKey, Origin, SecretSink, SourceKind},
};

/// What [`Snapshot::secret`] returns and how to read it where a secret must be used (to sign,
/// to connect): re-exported so a service needs no direct `secrecy` dependency.
pub use secrecy::{ExposeSecret, SecretString};

/// The rollout modes' one vocabulary (`off`, `shadow`, `enforced`), re-exported.
pub use stanchion_rollout::{ACCEPTED_MODES, Gate, ParseModeError, RolloutMode};

#[cfg(feature = "watch")]
#[doc(inline)]
pub use crate::watch::{WatchError, WatchHandle};
