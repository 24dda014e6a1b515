//! The result of one load: per-tool status with reasons, per-variable provenance.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer, ser::SerializeMap};
use stanchion_rollout::RolloutMode;

use crate::{
    dotenv::Duplicate,
    flags::FlagValue,
    source::{Candidate, Fingerprint, FingerprintKey, Held, Origin},
};

/// Identifies one load or refresh; carried by every event it emits (the correlation ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RefreshId(pub(crate) u64);

impl RefreshId {
    /// The sequence number: 1 for a loader's first load, then counting up.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RefreshId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cfg-{}", self.0)
    }
}

/// Why a tool is disabled: a stable kind (like OpenFeature's reason codes).
///
/// The names from [`ReasonKind::as_str`] are part of the JSON output and of metric labels;
/// they never change meaning. New kinds may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ReasonKind {
    /// A required variable is set nowhere.
    Missing,
    /// A required variable is set, to the empty string.
    Empty,
    /// A value fails its validation (or a kill switch is not a switch value).
    Invalid,
    /// The tool is not allowed in the current environment.
    NotInEnvironment,
    /// The tool's kill switch is on.
    KillSwitch,
    /// Enforced secrets mode: a secret comes from a `.env*` file.
    PlainFileSecret,
    /// Both `NAME` and `NAME_FILE` are set.
    Conflict,
    /// A secret file (via `NAME_FILE` or the secrets directory) cannot be read.
    Unreadable,
    /// Outside `development` and `test`, a secret has the value that `.env.development` or
    /// `.env.test` of the same directory gives it: a public, committed value.
    DevelopmentValue,
}

impl ReasonKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 9] = [
        Self::Missing,
        Self::Empty,
        Self::Invalid,
        Self::NotInEnvironment,
        Self::KillSwitch,
        Self::PlainFileSecret,
        Self::Conflict,
        Self::Unreadable,
        Self::DevelopmentValue,
    ];

    /// The stable SCREAMING_SNAKE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "MISSING",
            Self::Empty => "EMPTY",
            Self::Invalid => "INVALID",
            Self::NotInEnvironment => "NOT_IN_ENVIRONMENT",
            Self::KillSwitch => "KILL_SWITCH",
            Self::PlainFileSecret => "PLAIN_FILE_SECRET",
            Self::Conflict => "CONFLICT",
            Self::Unreadable => "UNREADABLE",
            Self::DevelopmentValue => "DEVELOPMENT_VALUE",
        }
    }
}

impl fmt::Display for ReasonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason a tool is disabled: a kind, the variable concerned, a human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    pub(crate) kind: ReasonKind,
    pub(crate) variable: Option<String>,
    pub(crate) message: String,
    pub(crate) searched: Vec<String>,
}

impl Reason {
    /// The stable kind.
    pub fn kind(&self) -> ReasonKind {
        self.kind
    }

    /// The variable concerned, if the reason is about one.
    pub fn variable(&self) -> Option<&str> {
        self.variable.as_deref()
    }

    /// A sentence for people; never contains a value.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For [`ReasonKind::Missing`]: every place the variable was looked for, highest first.
    pub fn searched(&self) -> &[String] {
        &self.searched
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// One tool's status in a snapshot.
#[derive(Clone, Debug)]
pub struct ToolStatus {
    pub(crate) slug: String,
    pub(crate) name: String,
    pub(crate) critical: bool,
    pub(crate) allowed_here: bool,
    pub(crate) reasons: Vec<Reason>,
    pub(crate) variables: Vec<String>,
    pub(crate) local_fallbacks: Vec<String>,
}

impl ToolStatus {
    /// The tool's slug.
    pub fn slug(&self) -> &str {
        &self.slug
    }

    /// The tool's human name (the slug when none was given).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the registry marks the tool critical.
    pub fn is_critical(&self) -> bool {
        self.critical
    }

    /// Whether the tool may be enabled in this environment at all.
    pub fn is_allowed_here(&self) -> bool {
        self.allowed_here
    }

    /// Enabled: no reason to disable it.
    pub fn is_enabled(&self) -> bool {
        self.reasons.is_empty()
    }

    /// Every reason the tool is disabled; empty when enabled.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// The variables the tool reads, in registry order.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Shadow secrets mode: the secrets read from `.env*` files (allowed, but reported).
    pub fn local_fallbacks(&self) -> &[String] {
        &self.local_fallbacks
    }
}

/// A problem with a variable's sources that disables every tool reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum VarProblem {
    /// `NAME` and `NAME_FILE` are both set; the origins of each.
    Conflict { plain: Origin, file_var: Origin },
    /// A file could not be read: the path and why (an `io::ErrorKind` text or a size limit).
    Unreadable { path: PathBuf, why: String },
}

/// Everything known about one variable: the winning value, who lost, and problems.
#[derive(Clone, Debug)]
pub struct Variable {
    pub(crate) name: String,
    pub(crate) secret: bool,
    /// Highest precedence first: `chain[0]` is the winner.
    pub(crate) chain: Vec<Candidate>,
    pub(crate) problem: Option<VarProblem>,
    pub(crate) searched: Vec<String>,
    /// For secrets: the key, so the fingerprint is computed on first use.
    pub(crate) fingerprint_key: Option<FingerprintKey>,
    // PERF: HMAC-SHA256 costs about a microsecond; most snapshots never show most fingerprints.
    pub(crate) fingerprint: OnceLock<Option<Fingerprint>>,
}

impl Variable {
    /// The variable name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the value is treated as a secret (declared so, or expanded from a secret).
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Whether any source sets it (possibly to the empty string).
    pub fn is_set(&self) -> bool {
        !self.chain.is_empty()
    }

    /// The winning source.
    pub fn origin(&self) -> Option<&Origin> {
        self.chain.first().map(Candidate::origin)
    }

    /// The override chain, winner first: every source that set the variable.
    pub fn chain(&self) -> &[Candidate] {
        &self.chain
    }

    /// The winning value of a non-secret variable; `None` when unset or secret.
    pub fn value(&self) -> Option<&str> {
        self.chain.first().and_then(Candidate::plain_value)
    }

    /// The winning value of a secret variable; `None` when unset or not secret.
    pub fn secret(&self) -> Option<&SecretString> {
        match self.chain.first().map(|c| &c.value) {
            Some(Held::Secret(secret)) => Some(secret),
            _ => None,
        }
    }

    /// The winning secret's fingerprint.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        *self.fingerprint.get_or_init(|| {
            let key = self.fingerprint_key.as_ref()?;
            self.secret()
                .map(ExposeSecret::expose_secret)
                .filter(|value| !value.is_empty())
                .map(|value| key.fingerprint(value))
        })
    }

    /// Every place the variable is looked for, highest precedence first.
    pub fn searched(&self) -> &[String] {
        &self.searched
    }
}

/// One dotenv file of the cascade and whether it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DotenvFile {
    pub(crate) path: PathBuf,
    pub(crate) loaded: bool,
}

impl DotenvFile {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it existed and was loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }
}

/// A critical tool is disabled in this environment: see [`Snapshot::require_critical`]. The
/// message names the tool, the environment and every reason (variables and files, never
/// values).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("critical tool `{tool}` is disabled in environment `{env}`: {}", reasons.join("; "))]
#[non_exhaustive]
pub struct CriticalToolDisabled {
    /// The tool's slug.
    pub tool: String,
    /// The environment.
    pub env: String,
    /// Every reason, as `KIND: message`.
    pub reasons: Vec<String>,
}

/// An immutable result of one load: share it, read it without locks.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) refresh_id: RefreshId,
    pub(crate) env: String,
    pub(crate) vault_mode: RolloutMode,
    /// Every rollout flag of the registry, in registry order.
    pub(crate) flags: Vec<FlagValue>,
    pub(crate) tools: Vec<ToolStatus>,
    /// Slug → index in `tools`: `is_enabled` is a hash lookup on the read path.
    pub(crate) tool_index: HashMap<String, usize>,
    pub(crate) variables: BTreeMap<String, Variable>,
    pub(crate) files: Vec<DotenvFile>,
    pub(crate) duplicates: Vec<(PathBuf, Duplicate)>,
}

impl Snapshot {
    /// The load that produced this snapshot.
    pub fn refresh_id(&self) -> RefreshId {
        self.refresh_id
    }

    /// The environment name (`--env`, `APP_ENV`, or `development`).
    pub fn env(&self) -> &str {
        &self.env
    }

    /// The strict secrets mode in effect (the `SECRETS_VAULT_MODE` flag).
    pub fn vault_mode(&self) -> RolloutMode {
        self.vault_mode
    }

    /// Every rollout flag with its mode and where it came from, in registry order.
    pub fn flags(&self) -> &[FlagValue] {
        &self.flags
    }

    /// The mode of the flag called `name`; `None` when the registry does not declare it.
    ///
    /// PERF: a linear search over a handful of flags, cheaper than hashing the name; a gate
    /// calls it once per decision.
    pub fn mode(&self, name: &str) -> Option<RolloutMode> {
        self.flags
            .iter()
            .find(|flag| flag.name == name)
            .map(|flag| flag.mode)
    }

    /// Every tool, in registry order.
    pub fn tools(&self) -> &[ToolStatus] {
        &self.tools
    }

    /// The tool called `slug`.
    pub fn tool(&self, slug: &str) -> Option<&ToolStatus> {
        self.tool_index.get(slug).map(|index| &self.tools[*index])
    }

    /// Whether the tool called `slug` exists and is enabled.
    pub fn is_enabled(&self, slug: &str) -> bool {
        self.tool(slug).is_some_and(ToolStatus::is_enabled)
    }

    /// Provenance and value of a registry variable.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.get(name)
    }

    /// Every registry variable, by name.
    pub fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.variables.values()
    }

    /// The winning value of a non-secret variable.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.variable(name).and_then(Variable::value)
    }

    /// The winning value of a secret variable.
    pub fn secret(&self, name: &str) -> Option<&SecretString> {
        self.variable(name).and_then(Variable::secret)
    }

    /// The dotenv cascade for this environment, lowest precedence first.
    pub fn dotenv_files(&self) -> &[DotenvFile] {
        &self.files
    }

    /// Keys assigned twice in one dotenv file (the last assignment wins).
    pub fn duplicates(&self) -> &[(PathBuf, Duplicate)] {
        &self.duplicates
    }

    /// The critical tools that are allowed in this environment and disabled.
    pub fn critical_failures(&self) -> impl Iterator<Item = &ToolStatus> {
        self.tools
            .iter()
            .filter(|tool| tool.critical && tool.allowed_here && !tool.is_enabled())
    }

    /// `Err` naming the first critical tool allowed in this environment that is disabled,
    /// with every reason: what `critical = true` means. A service refuses to start on it
    /// (after [`ConfigService::start`](crate::ConfigService::start)) and reports not ready
    /// when a refresh turns it (the facade's `Health::with_config`).
    ///
    /// # Errors
    ///
    /// [`CriticalToolDisabled`] for the first such tool.
    pub fn require_critical(&self) -> Result<(), CriticalToolDisabled> {
        match self.critical_failures().next() {
            Some(tool) => Err(CriticalToolDisabled {
                tool: tool.slug().to_owned(),
                env: self.env.clone(),
                reasons: tool.reasons().iter().map(ToString::to_string).collect(),
            }),
            None => Ok(()),
        }
    }

    /// The `stanchion config check` verdict: at least one tool enabled, and every critical
    /// tool allowed here enabled.
    pub fn passes_check(&self) -> bool {
        self.tools.iter().any(ToolStatus::is_enabled) && self.critical_failures().next().is_none()
    }

    /// One tool's variables with their override chains, as text (for `stanchion config explain`).
    pub fn explain(&self, slug: &str) -> Option<Explanation<'_>> {
        self.tool(slug).map(|tool| Explanation {
            snapshot: self,
            tool,
        })
    }

    /// The tools that differ in enabled state between `self` (before) and `after`.
    pub fn flipped(&self, after: &Snapshot) -> Vec<Flip> {
        after
            .tools
            .iter()
            .filter_map(|now| {
                let before = self.tool(&now.slug).map(ToolStatus::is_enabled);
                (before != Some(now.is_enabled())).then(|| Flip {
                    slug: now.slug.clone(),
                    enabled: now.is_enabled(),
                })
            })
            .collect()
    }
}

/// A tool whose enabled state changed between two snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Flip {
    /// The tool.
    pub slug: String,
    /// Its state now.
    pub enabled: bool,
}

/// The text form of one tool's status and variables; see [`Snapshot::explain`].
#[derive(Debug)]
pub struct Explanation<'a> {
    snapshot: &'a Snapshot,
    tool: &'a ToolStatus,
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tool = self.tool;
        let status = if tool.is_enabled() {
            "enabled"
        } else {
            "disabled"
        };
        writeln!(
            f,
            "{} ({}): {status} in environment {}{}",
            tool.slug,
            tool.name,
            self.snapshot.env,
            if tool.critical { ", critical" } else { "" }
        )?;
        for reason in &tool.reasons {
            writeln!(f, "  reason {reason}")?;
        }
        for name in &tool.local_fallbacks {
            writeln!(
                f,
                "  note: secret {name} is read from a plain file (shadow mode)"
            )?;
        }
        for name in &tool.variables {
            let Some(variable) = self.snapshot.variables.get(name) else {
                continue;
            };
            let tag = if variable.secret { " [secret]" } else { "" };
            writeln!(f, "  {name}{tag}")?;
            if variable.chain.is_empty() {
                writeln!(
                    f,
                    "    not set; looked in: {}",
                    variable.searched.join(", ")
                )?;
            }
            for (index, candidate) in variable.chain.iter().enumerate() {
                let role = if index == 0 { "wins" } else { "lost" };
                let shown = describe_value(candidate, index == 0, variable.fingerprint());
                writeln!(f, "    {role}: {} {shown}", candidate.origin)?;
            }
            if let Some(problem) = &variable.problem {
                writeln!(f, "    problem: {}", describe_problem(name, problem))?;
            }
        }
        Ok(())
    }
}

fn describe_value(candidate: &Candidate, winner: bool, fingerprint: Option<Fingerprint>) -> String {
    match &candidate.value {
        Held::Plain(value) => format!("= {value:?}"),
        Held::Secret(_) if candidate.is_empty() => "(empty)".to_owned(),
        Held::Secret(_) => match fingerprint.filter(|_| winner) {
            Some(fingerprint) => format!("(secret, {fingerprint})"),
            None => "(secret)".to_owned(),
        },
    }
}

pub(crate) fn describe_problem(name: &str, problem: &VarProblem) -> String {
    match problem {
        VarProblem::Conflict { plain, file_var } => {
            format!("both {name} ({plain}) and {name}_FILE ({file_var}) are set; set only one")
        }
        VarProblem::Unreadable { path, why } => {
            format!("{} cannot be read ({why})", path.display())
        }
    }
}

// ---- JSON (the shape of `stanchion config check --format json`, no secret values) ----

#[derive(Serialize)]
struct FileJson {
    path: String,
    loaded: bool,
}

struct OriginJson<'a>(&'a Origin);

impl Serialize for OriginJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let origin = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", origin.kind().as_str())?;
        match origin {
            Origin::Default { tool } => map.serialize_entry("tool", tool)?,
            Origin::DotenvFile { path, line } => {
                map.serialize_entry("path", &path.display().to_string())?;
                map.serialize_entry("line", line)?;
            }
            Origin::ProcessEnv => {}
            Origin::FileIndirection { variable, path } => {
                map.serialize_entry("via", variable)?;
                map.serialize_entry("path", &path.display().to_string())?;
            }
            Origin::SecretsDir { path } => {
                map.serialize_entry("path", &path.display().to_string())?
            }
        }
        map.serialize_entry("label", &origin.to_string())?;
        map.end()
    }
}

struct VariableJson<'a>(&'a Variable);

impl Serialize for VariableJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let variable = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("secret", &variable.secret)?;
        map.serialize_entry("set", &variable.is_set())?;
        map.serialize_entry("source", &variable.origin().map(OriginJson))?;
        if let Some(first) = variable.chain.first() {
            map.serialize_entry("empty", &first.is_empty())?;
        }
        // SECURITY: values only for non-secret variables; secrets get a fingerprint.
        if let Some(value) = variable.value() {
            map.serialize_entry("value", value)?;
        }
        if let Some(fingerprint) = variable.fingerprint() {
            map.serialize_entry("fingerprint", &fingerprint.to_string())?;
        }
        let overridden: Vec<OriginJson<'_>> = variable
            .chain
            .iter()
            .skip(1)
            .map(|c| OriginJson(&c.origin))
            .collect();
        map.serialize_entry("overridden", &overridden)?;
        if variable.chain.is_empty() {
            map.serialize_entry("searched", &variable.searched)?;
        }
        if let Some(problem) = &variable.problem {
            map.serialize_entry("problem", &describe_problem(&variable.name, problem))?;
        }
        map.end()
    }
}

struct ReasonJson<'a>(&'a Reason);

impl Serialize for ReasonJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let reason = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", reason.kind.as_str())?;
        map.serialize_entry("variable", &reason.variable)?;
        map.serialize_entry("message", &reason.message)?;
        if !reason.searched.is_empty() {
            map.serialize_entry("searched", &reason.searched)?;
        }
        map.end()
    }
}

struct ToolJson<'a> {
    snapshot: &'a Snapshot,
    tool: &'a ToolStatus,
}

impl Serialize for ToolJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tool = self.tool;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("slug", &tool.slug)?;
        map.serialize_entry("name", &tool.name)?;
        map.serialize_entry("enabled", &tool.is_enabled())?;
        map.serialize_entry("critical", &tool.critical)?;
        map.serialize_entry("allowed_here", &tool.allowed_here)?;
        let reasons: Vec<ReasonJson<'_>> = tool.reasons.iter().map(ReasonJson).collect();
        map.serialize_entry("reasons", &reasons)?;
        if !tool.local_fallbacks.is_empty() {
            map.serialize_entry("local_fallbacks", &tool.local_fallbacks)?;
        }
        let vars: BTreeMap<&str, VariableJson<'_>> = tool
            .variables
            .iter()
            .filter_map(|name| self.snapshot.variables.get(name))
            .map(|variable| (variable.name.as_str(), VariableJson(variable)))
            .collect();
        map.serialize_entry("vars", &vars)?;
        map.end()
    }
}

/// `{ "name", "mode", "source", "explicit" }`.
struct FlagJson<'a>(&'a FlagValue);

impl Serialize for FlagJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("name", self.0.name())?;
        map.serialize_entry("mode", self.0.mode().as_str())?;
        map.serialize_entry("source", &self.0.source().to_string())?;
        map.serialize_entry("explicit", &self.0.source().is_explicit())?;
        map.end()
    }
}

/// Serializes as `{ "env", "vault_mode", "flags": [...], "refresh_id", "passes", "tools":
/// [...], "files", "duplicates" }`; each tool is `{ "slug", "enabled", "reasons", "vars": { NAME: { "source",
/// ... } } }`. Secret values are absent; a secret shows its fingerprint.
impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("env", &self.env)?;
        map.serialize_entry("vault_mode", self.vault_mode.as_str())?;
        let flags: Vec<FlagJson<'_>> = self.flags.iter().map(FlagJson).collect();
        map.serialize_entry("flags", &flags)?;
        map.serialize_entry("refresh_id", &self.refresh_id.to_string())?;
        map.serialize_entry("passes", &self.passes_check())?;
        let tools: Vec<ToolJson<'_>> = self
            .tools
            .iter()
            .map(|tool| ToolJson {
                snapshot: self,
                tool,
            })
            .collect();
        map.serialize_entry("tools", &tools)?;
        let files: Vec<FileJson> = self
            .files
            .iter()
            .map(|file| FileJson {
                path: file.path.display().to_string(),
                loaded: file.loaded,
            })
            .collect();
        map.serialize_entry("files", &files)?;
        let duplicates: Vec<String> = self
            .duplicates
            .iter()
            .map(|(path, dup)| {
                format!(
                    "{} sets {} on line {} and again on line {} (the last wins)",
                    path.display(),
                    dup.key,
                    dup.earlier_line,
                    dup.line
                )
            })
            .collect();
        map.serialize_entry("duplicates", &duplicates)?;
        map.end()
    }
}
