//! The rollout declaration (`rollout.toml`): the deployment flags a service reads and the
//! command checks a strict smoke record runs. It is a reviewable file beside the service
//! (the backend's is `examples/backend/ops/rollout.toml`), so a check or a flag changes in a
//! pull request, not on an operator's command line.

use std::{collections::HashSet, fs, path::Path, process::Command};

use serde::Deserialize;

/// The words every rollout flag takes: the one vocabulary of `stanchion-rollout`.
pub(crate) const MODES: [&str; 3] = stanchion_config::ACCEPTED_MODES;

/// A parsed and validated rollout file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollout {
    #[serde(default)]
    pub(crate) checks: Vec<CheckSpec>,
    #[serde(default)]
    pub(crate) flags: Vec<FlagSpec>,
    /// Where the service's configuration lives, for `stanchion rollout readiness`.
    #[serde(default)]
    pub(crate) service: Option<ServiceSpec>,
}

/// The service's tools registry and configuration directory (paths as given, relative to
/// where the command runs, like the checks' commands).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceSpec {
    pub(crate) registry: std::path::PathBuf,
    pub(crate) dir: std::path::PathBuf,
}

/// A command check: passes when `sh -c command` exits 0.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckSpec {
    pub(crate) name: String,
    pub(crate) command: String,
}

/// A deployment flag: an environment variable with a default and its accepted words.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlagSpec {
    pub(crate) name: String,
    pub(crate) default: String,
    pub(crate) accepted: Vec<String>,
    // Read by reviewers of the file; parsed so a misspelt key is refused.
    #[allow(dead_code)]
    pub(crate) description: String,
}

/// A flag's value as the process sees it.
#[derive(Debug)]
pub(crate) struct FlagValue {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) defaulted: bool,
}

impl FlagValue {
    /// `NAME=value`, or `NAME=value(default)` when the variable is unset.
    pub(crate) fn render(&self) -> String {
        let marker = if self.defaulted { "(default)" } else { "" };
        format!("{}={}{marker}", self.name, self.value)
    }
}

impl Rollout {
    /// Reads and validates `path`; the error names the file and says what is wrong.
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text = fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let rollout: Self =
            toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
        let mut names = HashSet::new();
        for check in &rollout.checks {
            if check.name.trim().is_empty() || check.command.trim().is_empty() {
                return Err(format!(
                    "{}: every check needs a name and a command",
                    path.display()
                ));
            }
            if !names.insert(check.name.as_str()) {
                return Err(format!(
                    "{}: check `{}` is declared twice",
                    path.display(),
                    check.name
                ));
            }
        }
        let mut names = HashSet::new();
        for flag in &rollout.flags {
            if !names.insert(flag.name.as_str()) {
                return Err(format!(
                    "{}: flag `{}` is declared twice",
                    path.display(),
                    flag.name
                ));
            }
            if let Some(word) = flag.accepted.iter().find(|w| !MODES.contains(&w.as_str())) {
                return Err(format!(
                    "{}: flag `{}` accepts `{word}`, which is not a rollout mode ({})",
                    path.display(),
                    flag.name,
                    MODES.join(", ")
                ));
            }
            if !flag.accepted.contains(&flag.default) {
                return Err(format!(
                    "{}: flag `{}` defaults to `{}`, which it does not accept ({})",
                    path.display(),
                    flag.name,
                    flag.default,
                    flag.accepted.join(", ")
                ));
            }
        }
        Ok(rollout)
    }

    /// Each declared flag's mode as the service would resolve it: with a `[service]` table,
    /// through the configuration service's sources (the process environment, then `.env.local`
    /// and the other files of the service's directory, then the registry's default), which is
    /// what the running service uses; without one, from the process environment only.
    ///
    /// # Errors
    ///
    /// A word that is not a mode, a configuration that does not load, or a flag the rollout
    /// file declares and the registry does not (or with another default): the two
    /// declarations must agree.
    pub(crate) fn modes(
        &self,
        redactor: &stanchion_redact::Redactor,
    ) -> Result<Vec<FlagValue>, String> {
        let Some(service) = &self.service else {
            return self.flag_values(|name| std::env::var(name).ok());
        };
        self.agrees_with_registry()?;
        let sources = crate::config::SourceArgs::new(
            service.registry.clone(),
            service.dir.clone(),
            None,
            None,
        );
        let snapshot = sources.load(redactor).map_err(|error| error.to_string())?;
        self.flags
            .iter()
            .map(|flag| {
                let resolved = snapshot
                    .flags()
                    .iter()
                    .find(|value| value.name() == flag.name)
                    .ok_or_else(|| {
                        format!(
                            "flag {} is not declared in the registry {}",
                            flag.name,
                            service.registry.display()
                        )
                    })?;
                Ok(FlagValue {
                    name: flag.name.clone(),
                    value: resolved.mode().as_str().to_owned(),
                    defaulted: !resolved.source().is_explicit(),
                })
            })
            .collect()
    }

    /// With a `[service]` table: every flag this file declares is a flag of the service's
    /// registry with the same default (the service reads the registry, operators read this
    /// file; a difference between them is a rollout step that does not do what the file
    /// says). Without one there is nothing to compare.
    ///
    /// # Errors
    ///
    /// The registry cannot be read, or names the first difference.
    pub(crate) fn agrees_with_registry(&self) -> Result<(), String> {
        let Some(service) = &self.service else {
            return Ok(());
        };
        let registry = stanchion_config::Registry::from_toml_file(&service.registry)
            .map_err(|error| error.to_string())?;
        for flag in &self.flags {
            match registry
                .flags()
                .iter()
                .find(|spec| spec.name() == flag.name)
            {
                None => {
                    return Err(format!(
                        "flag {} is not declared in the registry {}",
                        flag.name,
                        service.registry.display()
                    ));
                }
                Some(spec) if spec.default_mode().as_str() != flag.default => {
                    return Err(format!(
                        "flag {} defaults to {} here but to {} in the registry {}",
                        flag.name,
                        flag.default,
                        spec.default_mode(),
                        service.registry.display()
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Each flag's value from `lookup` (the process environment in use), or its default.
    /// A value the flag does not accept is an error naming the accepted words: the service
    /// would refuse to start with it, so there is no mode to record.
    pub(crate) fn flag_values(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<FlagValue>, String> {
        self.flags
            .iter()
            .map(|flag| match lookup(&flag.name) {
                Some(value) if flag.accepted.contains(&value) => Ok(FlagValue {
                    name: flag.name.clone(),
                    value,
                    defaulted: false,
                }),
                Some(value) => Err(format!(
                    "flag {} has the value `{value}`, which is not a mode it accepts ({})",
                    flag.name,
                    flag.accepted.join(", ")
                )),
                None => Ok(FlagValue {
                    name: flag.name.clone(),
                    value: flag.default.clone(),
                    defaulted: true,
                }),
            })
            .collect()
    }
}

impl CheckSpec {
    /// Runs the command with `sh -c`, its output inherited by standard error so an operator
    /// sees why it failed (the ledger records only the verdict). Returns whether it exited 0;
    /// a command that cannot be started fails.
    pub(crate) fn run(&self) -> bool {
        Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdout(std::io::stderr())
            .status()
            .is_ok_and(|status| status.success())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backends_rollout_file_declares_its_three_flags_and_checks() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/backend/ops/rollout.toml");
        let rollout = Rollout::load(&path).unwrap();
        let names: Vec<&str> = rollout
            .flags
            .iter()
            .map(|flag| flag.name.as_str())
            .collect();
        assert_eq!(names, ["AUTH_MODE", "SECRETS_VAULT_MODE", "GUARD_MODE"]);
        assert!(!rollout.checks.is_empty());
        let values = rollout
            .flag_values(|name| (name == "AUTH_MODE").then(|| "shadow".to_owned()))
            .unwrap();
        assert_eq!(values[0].render(), "AUTH_MODE=shadow");
        assert_eq!(values[2].render(), "GUARD_MODE=enforced(default)");
    }

    #[test]
    fn a_default_the_flag_does_not_accept_and_a_foreign_word_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rollout.toml");
        for (body, needle) in [
            (
                "[[flags]]\nname = \"A\"\ndefault = \"enforced\"\naccepted = [\"off\"]\ndescription = \"\"\n",
                "defaults to",
            ),
            (
                "[[flags]]\nname = \"A\"\ndefault = \"off\"\naccepted = [\"off\", \"enforce\"]\ndescription = \"\"\n",
                "not a rollout mode",
            ),
            (
                "[[checks]]\nname = \"a\"\ncommand = \"true\"\ncmd = \"x\"\n",
                "unknown field",
            ),
        ] {
            std::fs::write(&path, body).unwrap();
            let error = Rollout::load(&path).unwrap_err();
            assert!(
                error.contains(needle) && error.contains("rollout.toml"),
                "{error}"
            );
        }
    }
}
