//! Rollout flags: modes (`off`, `shadow`, `enforced`) declared in the registry and set by the
//! same layered sources as tool variables, so one line in `.env.local` flips one.

use std::{collections::HashMap, fmt};

use stanchion_rollout::RolloutMode;

use crate::{
    load::{LoadError, VAULT_MODE_VAR},
    source::Origin,
};

/// A rollout flag the registry declares: its name (the variable that sets it), the mode used
/// when no source sets it, and what it switches.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlagSpec {
    pub(crate) name: String,
    pub(crate) default: RolloutMode,
    pub(crate) description: Option<String>,
}

impl FlagSpec {
    /// A flag called `name` whose mode is `default` unless a source sets it.
    pub fn new(name: impl Into<String>, default: RolloutMode) -> Self {
        Self {
            name: name.into(),
            default,
            description: None,
        }
    }

    /// What the flag switches (for `.env.example` and reports).
    #[must_use]
    pub fn with_description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// The flag's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mode when no source sets it.
    pub fn default_mode(&self) -> RolloutMode {
        self.default
    }

    /// What the flag switches.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The strict secrets mode every registry has, unless it declares `SECRETS_VAULT_MODE`
    /// itself (to change its default or describe it).
    pub(crate) fn vault_mode() -> Self {
        Self::new(VAULT_MODE_VAR, RolloutMode::Off).with_description(
            "Strict secrets: shadow allows a secret from a plain .env file and counts it as a \
             local fallback; enforced disables the tool instead.",
        )
    }
}

/// Where a flag's mode came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlagSource {
    /// No source sets it: the registry's default.
    Default,
    /// The loader was told the mode in code or on a command line
    /// ([`ConfigLoader::with_vault_mode`](crate::ConfigLoader::with_vault_mode), `--vault-mode`).
    Loader,
    /// A source set it explicitly.
    Set(Origin),
}

impl FlagSource {
    /// Whether a source or the loader set it (not the default).
    pub fn is_explicit(&self) -> bool {
        !matches!(self, Self::Default)
    }
}

impl fmt::Display for FlagSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Loader => f.write_str("loader setting"),
            Self::Set(origin) => origin.fmt(f),
        }
    }
}

/// A flag's mode in one snapshot, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlagValue {
    pub(crate) name: String,
    pub(crate) mode: RolloutMode,
    pub(crate) source: FlagSource,
}

impl FlagValue {
    /// The flag's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mode in effect.
    pub fn mode(&self) -> RolloutMode {
        self.mode
    }

    /// Where the mode came from.
    pub fn source(&self) -> &FlagSource {
        &self.source
    }
}

/// A flag whose mode changed between two snapshots (reported by a refresh, logged and
/// counted).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Switch {
    /// The flag.
    pub flag: String,
    /// The mode before.
    pub from: RolloutMode,
    /// The mode now.
    pub to: RolloutMode,
}

/// The process environment and the dotenv layers (lowest first), as the loader read them.
pub(crate) struct FlagSources<'a> {
    pub(crate) process_env: &'a HashMap<String, String>,
    pub(crate) layers: &'a crate::load::Layers,
    /// `with_vault_mode`: wins over every source for `SECRETS_VAULT_MODE`.
    pub(crate) vault_override: Option<RolloutMode>,
}

impl FlagSources<'_> {
    /// Resolves every flag: the loader's override, then the process environment, then the
    /// dotenv files from the highest layer down, then the default.
    ///
    /// # Errors
    ///
    /// A word other than `off`, `shadow` or `enforced`, naming the flag and where it was set.
    pub(crate) fn resolve(&self, specs: &[FlagSpec]) -> Result<Vec<FlagValue>, LoadError> {
        specs.iter().map(|spec| self.resolve_one(spec)).collect()
    }

    fn resolve_one(&self, spec: &FlagSpec) -> Result<FlagValue, LoadError> {
        if spec.name == VAULT_MODE_VAR
            && let Some(mode) = self.vault_override
        {
            return Ok(FlagValue {
                name: spec.name.clone(),
                mode,
                source: FlagSource::Loader,
            });
        }
        let set = self
            .process_env
            .get(&spec.name)
            .map(|value| (value.as_str(), Origin::ProcessEnv))
            .or_else(|| {
                self.layers.iter().rev().find_map(|(path, parsed)| {
                    parsed.last(&spec.name).map(|entry| {
                        let origin = Origin::DotenvFile {
                            path: std::sync::Arc::clone(path),
                            line: entry.line(),
                        };
                        (entry.value(), origin)
                    })
                })
            });
        let Some((text, origin)) = set else {
            return Ok(FlagValue {
                name: spec.name.clone(),
                mode: spec.default,
                source: FlagSource::Default,
            });
        };
        match RolloutMode::parse(text) {
            Ok(mode) => Ok(FlagValue {
                name: spec.name.clone(),
                mode,
                source: FlagSource::Set(origin),
            }),
            Err(error) => Err(LoadError::Setting {
                setting: spec.name.clone(),
                message: format!("{error} (set in {origin})"),
            }),
        }
    }
}

/// The flags whose mode differs between `before` and `after`, in `after`'s order.
pub(crate) fn switches(before: &[FlagValue], after: &[FlagValue]) -> Vec<Switch> {
    after
        .iter()
        .filter_map(|now| {
            let was = before.iter().find(|was| was.name == now.name)?;
            (was.mode != now.mode).then(|| Switch {
                flag: now.name.clone(),
                from: was.mode,
                to: now.mode,
            })
        })
        .collect()
}
