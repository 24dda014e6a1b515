//! `stanchion config freeze`: records the resolved configuration of a burn-in window as a
//! reviewable file of tool states and value fingerprints (never values), and the drift check a
//! strict smoke record runs against it.
//!
//! Fingerprints are HMAC-SHA256 over the variable's name and value, keyed by a secret the
//! operator holds (`STANCHION_FREEZE_KEY`): an unkeyed hash of a weak secret committed to a
//! repository could be checked offline against guesses; a keyed one cannot without the key.
//! The same key must be present when the smoke record compares.

use std::{fs, path::Path};

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use stanchion_config::Snapshot;
use stanchion_redact::Redactor;

use crate::config::SourceArgs;

/// The variable holding the fingerprint key.
pub(crate) const KEY_VARIABLE: &str = "STANCHION_FREEZE_KEY";

const HEADER: &str = "\
# Configuration freeze written by `stanchion config freeze`: tool states and value
# fingerprints (HMAC-SHA256 keyed by $STANCHION_FREEZE_KEY), never values. A strict
# `stanchion smoke record --freeze FILE` fails when the configuration drifts from it,
# unless the record carries --incident. Regenerate it on purpose; review its diff.
";

fn key() -> Result<Vec<u8>, String> {
    match std::env::var(KEY_VARIABLE) {
        Ok(key) if key.len() >= 16 => Ok(key.into_bytes()),
        Ok(_) => Err(format!("{KEY_VARIABLE} is shorter than 16 characters")),
        Err(_) => Err(format!(
            "{KEY_VARIABLE} is not set: the fingerprints need a key the operator holds"
        )),
    }
}

fn fingerprint(key: &[u8], name: &str, value: &str) -> String {
    #[allow(clippy::expect_used)] // HMAC accepts keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    mac.finalize().into_bytes()[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The state lines of a snapshot: environment, secrets mode, each tool's state and each
/// variable's fingerprint, sorted so the file diffs well.
fn state_lines(snapshot: &Snapshot, key: &[u8]) -> Vec<String> {
    let mut lines = vec![
        format!("env {}", snapshot.env()),
        format!("vault-mode {}", snapshot.vault_mode().as_str()),
    ];
    let mut tools: Vec<String> = snapshot
        .tools()
        .iter()
        .map(|tool| {
            let state = if tool.is_enabled() {
                "enabled"
            } else {
                "disabled"
            };
            format!("tool {} {state}", tool.slug())
        })
        .collect();
    tools.sort();
    let mut variables: Vec<String> = snapshot
        .variables()
        .map(|variable| {
            let name = variable.name();
            let value = if variable.is_secret() {
                variable
                    .secret()
                    .map(|secret| secret.expose_secret().to_owned())
            } else {
                variable.value().map(str::to_owned)
            };
            match value {
                Some(value) => format!("var {name} {}", fingerprint(key, name, &value)),
                None => format!("var {name} unset"),
            }
        })
        .collect();
    variables.sort();
    lines.extend(tools);
    lines.extend(variables);
    lines
}

/// Writes the freeze file for `sources` to `out`.
pub(crate) fn freeze(
    redactor: &Redactor,
    sources: &SourceArgs,
    out: &Path,
) -> Result<usize, String> {
    let key = key()?;
    let snapshot = sources.load(redactor).map_err(|error| error.to_string())?;
    let mut text = HEADER.to_owned();
    for line in sources.to_lines() {
        text.push_str(&format!("source {line}\n"));
    }
    let lines = state_lines(&snapshot, &key);
    for line in &lines {
        text.push_str(line);
        text.push('\n');
    }
    fs::write(out, text).map_err(|error| format!("cannot write {}: {error}", out.display()))?;
    Ok(lines.len())
}

/// Compares the configuration now with the freeze file at `path`: the differing lines (names
/// and states only), empty when nothing drifted.
pub(crate) fn drift(redactor: &Redactor, path: &Path) -> Result<Vec<String>, String> {
    let key = key()?;
    let text = fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut source_lines = Vec::new();
    let mut frozen = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(source) = line.strip_prefix("source ") {
            source_lines.push(source.to_owned());
        } else if ["env ", "vault-mode ", "tool ", "var "]
            .iter()
            .any(|prefix| line.starts_with(prefix))
        {
            frozen.push(line.to_owned());
        } else {
            return Err(format!(
                "{}:{}: not a freeze line (source, env, vault-mode, tool, var)",
                path.display(),
                index + 1
            ));
        }
    }
    let sources = SourceArgs::from_lines(&source_lines)
        .map_err(|why| format!("{}: {why}", path.display()))?;
    let snapshot = sources.load(redactor).map_err(|error| error.to_string())?;
    let now = state_lines(&snapshot, &key);
    let mut changes: Vec<String> = frozen
        .iter()
        .filter(|line| !now.contains(line))
        .map(|line| format!("frozen: {}", describe(line)))
        .collect();
    changes.extend(
        now.iter()
            .filter(|line| !frozen.contains(line))
            .map(|line| format!("now:    {}", describe(line))),
    );
    Ok(changes)
}

/// A state line as an operator reads it; a fingerprint is keyed and says nothing of the value.
fn describe(line: &str) -> String {
    match line
        .strip_prefix("var ")
        .and_then(|rest| rest.split_once(' '))
    {
        Some((name, "unset")) => format!("{name} unset"),
        Some((name, fingerprint)) => format!("{name} set (fingerprint {fingerprint})"),
        None => line.to_owned(),
    }
}
