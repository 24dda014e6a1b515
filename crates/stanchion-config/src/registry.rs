//! The tools registry: which variables each optional integration needs, from TOML or Rust.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    fmt,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use stanchion_rollout::RolloutMode;

use crate::flags::FlagSpec;

/// A check a variable's value must pass; the failure message never contains the value.
#[derive(Clone, Debug)]
pub struct Validation {
    rule: Rule,
}

#[derive(Clone, Debug)]
enum Rule {
    Url { schemes: Vec<String> },
    Integer { min: Option<i64>, max: Option<i64> },
    OneOf(Vec<String>),
    Regex(regex::Regex),
}

impl Validation {
    /// An absolute URL with a host (`https://example.com/x`), any scheme.
    pub fn url() -> Self {
        Self {
            rule: Rule::Url {
                schemes: Vec::new(),
            },
        }
    }

    /// An absolute URL with a host whose scheme is one of `schemes` (compared lowercase).
    pub fn url_with_schemes<I, S>(schemes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            rule: Rule::Url {
                schemes: schemes
                    .into_iter()
                    .map(|s| s.into().to_ascii_lowercase())
                    .collect(),
            },
        }
    }

    /// A base-10 integer (`i64`) within `min..=max`; either bound may be absent.
    pub fn integer(min: Option<i64>, max: Option<i64>) -> Self {
        Self {
            rule: Rule::Integer { min, max },
        }
    }

    /// Exactly one of `values` (case-sensitive).
    pub fn one_of<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            rule: Rule::OneOf(values.into_iter().map(Into::into).collect()),
        }
    }

    /// Matches the regular expression `pattern` (unanchored unless it anchors itself).
    ///
    /// # Errors
    ///
    /// When `pattern` is not a valid regular expression.
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        Ok(Self {
            rule: Rule::Regex(regex::Regex::new(pattern)?),
        })
    }

    /// Check `value`; the error says why in words that never repeat the value.
    ///
    /// # Errors
    ///
    /// A human reason when the value fails the rule.
    pub fn check(&self, value: &str) -> Result<(), String> {
        match &self.rule {
            Rule::Url { schemes } => {
                let url =
                    url::Url::parse(value).map_err(|error| format!("is not a URL ({error})"))?;
                if !url.has_host() {
                    return Err("is not a URL with a host".to_owned());
                }
                if !schemes.is_empty() && !schemes.iter().any(|s| s == url.scheme()) {
                    return Err(format!(
                        "must use one of the schemes {}",
                        schemes.join(", ")
                    ));
                }
                Ok(())
            }
            Rule::Integer { min, max } => {
                let number: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| "is not a whole number".to_owned())?;
                if let Some(min) = min.filter(|min| number < *min) {
                    return Err(format!("is below the minimum {min}"));
                }
                if let Some(max) = max.filter(|max| number > *max) {
                    return Err(format!("is above the maximum {max}"));
                }
                Ok(())
            }
            Rule::OneOf(values) => {
                if values.iter().any(|allowed| allowed == value) {
                    Ok(())
                } else {
                    Err(format!("is not one of {}", values.join(", ")))
                }
            }
            Rule::Regex(regex) => {
                if regex.is_match(value) {
                    Ok(())
                } else {
                    Err(format!("does not match the pattern `{}`", regex.as_str()))
                }
            }
        }
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Rule::Url { schemes } if schemes.is_empty() => f.write_str("url"),
            Rule::Url { schemes } => write!(f, "url ({})", schemes.join(", ")),
            Rule::Integer { min, max } => {
                let show = |bound: &Option<i64>| bound.map_or("…".to_owned(), |b| b.to_string());
                write!(f, "integer {}..={}", show(min), show(max))
            }
            Rule::OneOf(values) => write!(f, "one of {}", values.join(", ")),
            Rule::Regex(regex) => write!(f, "regex `{}`", regex.as_str()),
        }
    }
}

/// One optional integration and the variables it needs. Built in Rust with `with_*` setters
/// or loaded from a `[[tools]]` table; [`Registry::new`] checks it.
#[derive(Clone, Debug)]
pub struct ToolSpec {
    pub(crate) slug: String,
    pub(crate) name: Option<String>,
    pub(crate) required: Vec<String>,
    pub(crate) optional: Vec<String>,
    pub(crate) defaults: BTreeMap<String, String>,
    pub(crate) secrets: BTreeSet<String>,
    pub(crate) environments: Option<Vec<String>>,
    pub(crate) critical: bool,
    pub(crate) kill_switch: Option<String>,
    pub(crate) validations: BTreeMap<String, Validation>,
    pub(crate) descriptions: BTreeMap<String, String>,
}

impl ToolSpec {
    /// A tool called `slug` (lowercase letters, digits, `-`, `_`) that needs nothing yet.
    pub fn new(slug: impl Into<String>) -> Self {
        Self {
            slug: slug.into(),
            name: None,
            required: Vec::new(),
            optional: Vec::new(),
            defaults: BTreeMap::new(),
            secrets: BTreeSet::new(),
            environments: None,
            critical: false,
            kill_switch: None,
            validations: BTreeMap::new(),
            descriptions: BTreeMap::new(),
        }
    }

    /// A human name for reports (default: none, the slug is shown).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Variables that must be set and non-empty for the tool to be enabled.
    #[must_use]
    pub fn with_required<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required.extend(names.into_iter().map(Into::into));
        self
    }

    /// Variables the tool reads when set; checked by their validation when present.
    #[must_use]
    pub fn with_optional<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.optional.extend(names.into_iter().map(Into::into));
        self
    }

    /// A default for an optional variable: the lowest-precedence source.
    #[must_use]
    pub fn with_default(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.defaults.insert(name.into(), value.into());
        self
    }

    /// Mark variables as secrets: held as `SecretString`, shown only as a fingerprint.
    #[must_use]
    pub fn with_secrets<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.secrets.extend(names.into_iter().map(Into::into));
        self
    }

    /// The environments the tool may be enabled in (default: all).
    #[must_use]
    pub fn with_environments<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.environments = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Whether the service must not start without this tool where it is allowed (default false).
    #[must_use]
    pub fn with_critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// A variable that turns the tool off when set to `1`, `true`, `yes` or `on` (default: none).
    #[must_use]
    pub fn with_kill_switch(mut self, name: impl Into<String>) -> Self {
        self.kill_switch = Some(name.into());
        self
    }

    /// A validation for one of the tool's variables.
    #[must_use]
    pub fn with_validation(mut self, name: impl Into<String>, validation: Validation) -> Self {
        self.validations.insert(name.into(), validation);
        self
    }

    /// Say what `name` is for, in one sentence (shown by `stanchion config template`, the
    /// generated `.env.example`). Never put a value here: the registry is committed.
    #[must_use]
    pub fn with_description(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.descriptions.insert(name.into(), text.into());
        self
    }

    /// The description of `name`, when the registry gives one.
    pub fn description(&self, name: &str) -> Option<&str> {
        self.descriptions.get(name).map(String::as_str)
    }

    /// The default of the optional variable `name`, when it has one.
    pub fn default_value(&self, name: &str) -> Option<&str> {
        self.defaults.get(name).map(String::as_str)
    }

    /// The validation of `name`, when it has one.
    pub fn validation(&self, name: &str) -> Option<&Validation> {
        self.validations.get(name)
    }

    /// The tool's slug.
    pub fn slug(&self) -> &str {
        &self.slug
    }

    /// The human name, or the slug when none was given.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.slug)
    }

    /// Whether the tool is critical.
    pub fn is_critical(&self) -> bool {
        self.critical
    }

    /// Required variables, in declaration order.
    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// Optional variables, in declaration order.
    pub fn optional(&self) -> &[String] {
        &self.optional
    }

    /// The kill-switch variable, if any.
    pub fn kill_switch(&self) -> Option<&str> {
        self.kill_switch.as_deref()
    }

    /// The environments the tool is allowed in; `None` means all.
    pub fn environments(&self) -> Option<&[String]> {
        self.environments.as_deref()
    }

    /// Whether `name` is one of this tool's secrets.
    pub fn is_secret(&self, name: &str) -> bool {
        self.secrets.contains(name)
    }

    /// Every variable the tool reads: required, optional, then the kill switch.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.required
            .iter()
            .chain(&self.optional)
            .chain(&self.kill_switch)
            .map(String::as_str)
    }

    fn problems(&self, problems: &mut Vec<String>) {
        let slug = &self.slug;
        let slug_ok = slug.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !slug_ok {
            problems.push(format!(
                "tool slug {slug:?} must start with a lowercase letter and use only a-z, 0-9, `-`, `_`"
            ));
        }
        let mut seen = BTreeSet::new();
        for name in self.variables() {
            if !is_var_name(name) {
                problems.push(format!(
                    "tool {slug}: {name:?} is not a variable name (A-Z, a-z, 0-9, `_`, not starting with a digit)"
                ));
            }
            if !seen.insert(name) {
                problems.push(format!("tool {slug}: {name} is listed more than once"));
            }
        }
        for name in &self.secrets {
            if !self.required.contains(name) && !self.optional.contains(name) {
                problems.push(format!(
                    "tool {slug}: secret {name} is neither required nor optional"
                ));
            }
        }
        for name in self.defaults.keys() {
            if !self.optional.contains(name) {
                problems.push(format!(
                    "tool {slug}: default for {name}, which is not an optional variable"
                ));
            }
            if self.secrets.contains(name) {
                // SECURITY: a secret default would live in the registry, in version control.
                problems.push(format!("tool {slug}: secret {name} may not have a default"));
            }
        }
        for (name, validation) in &self.validations {
            if !self.required.contains(name) && !self.optional.contains(name) {
                problems.push(format!(
                    "tool {slug}: validation for {name}, which the tool does not read"
                ));
            }
            if let Some(value) = self.defaults.get(name)
                && let Err(why) = validation.check(value)
            {
                problems.push(format!("tool {slug}: the default for {name} {why}"));
            }
        }
        for name in self.descriptions.keys() {
            if !self.variables().any(|variable| variable == name) {
                problems.push(format!(
                    "tool {slug}: description for {name}, which the tool does not read"
                ));
            }
        }
        if let Some(environments) = &self.environments {
            for env in environments {
                if !is_env_name(env) {
                    problems.push(format!(
                        "tool {slug}: environment {env:?} must use only a-z, 0-9, `-`, `_`"
                    ));
                }
            }
        }
    }
}

/// Whether `name` is a variable name the registry accepts (`[A-Za-z_][A-Za-z0-9_]*`).
pub(crate) fn is_var_name(name: &str) -> bool {
    name.as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `name` is a usable environment name: it becomes part of a file name.
pub(crate) fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A checked list of tools.
#[derive(Clone, Debug)]
pub struct Registry {
    tools: Vec<ToolSpec>,
    /// The rollout flags, declared ones first, then the built-in `SECRETS_VAULT_MODE` unless
    /// declared.
    flags: Vec<FlagSpec>,
    /// Every variable any tool reads, sorted, without repeats.
    variables: Vec<String>,
    // PERF: a hash set; the loader asks once per variable per load.
    secrets: HashSet<String>,
}

impl Registry {
    /// Check `tools` and build a registry; every problem is reported at once.
    ///
    /// # Errors
    ///
    /// Duplicate slugs, bad names, secrets or defaults for undeclared variables, a default on
    /// a secret, a default failing its own validation.
    pub fn new(tools: Vec<ToolSpec>) -> Result<Self, RegistryError> {
        Self::build(tools, Vec::new())
    }

    /// The same registry with rollout `flags` instead of the ones it declared (the built-in
    /// `SECRETS_VAULT_MODE` stays unless `flags` declares it).
    ///
    /// # Errors
    ///
    /// A flag name that is not a variable name, is declared twice, or is also a tool's
    /// variable (one name, one meaning).
    pub fn with_flags(self, flags: Vec<FlagSpec>) -> Result<Self, RegistryError> {
        Self::build(self.tools, flags)
    }

    fn build(tools: Vec<ToolSpec>, mut flags: Vec<FlagSpec>) -> Result<Self, RegistryError> {
        let mut problems = Vec::new();
        let mut flag_names = BTreeSet::new();
        for flag in &flags {
            if !is_var_name(&flag.name) {
                problems.push(format!("flag {} is not a variable name", flag.name));
            }
            if !flag_names.insert(flag.name.as_str()) {
                problems.push(format!("flag {} is declared twice", flag.name));
            }
            if let Some(tool) = tools
                .iter()
                .find(|tool| tool.variables().any(|v| v == flag.name))
            {
                problems.push(format!(
                    "{} is both a rollout flag and a variable of tool {}",
                    flag.name, tool.slug
                ));
            }
        }
        if !flag_names.contains(crate::load::VAULT_MODE_VAR) {
            flags.push(FlagSpec::vault_mode());
        }
        let mut slugs = BTreeSet::new();
        for tool in &tools {
            if !slugs.insert(tool.slug.as_str()) {
                problems.push(format!("tool slug {} is used twice", tool.slug));
            }
            tool.problems(&mut problems);
        }
        let mut defaults: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
        for tool in &tools {
            for (name, value) in &tool.defaults {
                if let Some((other, other_value)) = defaults.insert(name, (&tool.slug, value))
                    && other_value != value
                {
                    problems.push(format!(
                        "tools {other} and {} give {name} different defaults",
                        tool.slug
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(RegistryError {
                path: None,
                problems,
            });
        }
        // A variable any tool calls secret is secret everywhere: the conservative reading.
        let secrets = tools
            .iter()
            .flat_map(|tool| tool.secrets.iter().cloned())
            .collect();
        let variables: BTreeSet<&str> = tools.iter().flat_map(ToolSpec::variables).collect();
        let variables = variables.into_iter().map(str::to_owned).collect();
        Ok(Self {
            tools,
            flags,
            variables,
            secrets,
        })
    }

    /// Parse and check a registry written in TOML (see docs/configuration.md for the format).
    ///
    /// # Errors
    ///
    /// TOML syntax or shape errors (with line), then every problem [`Registry::new`] finds.
    pub fn from_toml_str(text: &str) -> Result<Self, RegistryError> {
        let raw: RawRegistry = toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .map(|span| 1 + text[..span.start.min(text.len())].matches('\n').count());
            let problem = match line {
                Some(line) => format!("line {line}: {}", error.message()),
                None => error.message().to_owned(),
            };
            RegistryError {
                path: None,
                problems: vec![problem],
            }
        })?;
        let mut problems = Vec::new();
        let mut tools = Vec::with_capacity(raw.tools.len());
        for raw_tool in raw.tools {
            let mut tool = ToolSpec::new(raw_tool.slug)
                .with_required(raw_tool.required)
                .with_optional(raw_tool.optional)
                .with_secrets(raw_tool.secrets)
                .with_critical(raw_tool.critical);
            tool.name = raw_tool.name;
            tool.environments = raw_tool.environments;
            tool.kill_switch = raw_tool.kill_switch;
            tool.defaults = raw_tool.defaults;
            tool.descriptions = raw_tool.describe;
            for (name, raw_validation) in raw_tool.validate {
                match raw_validation.build() {
                    Ok(validation) => {
                        tool.validations.insert(name, validation);
                    }
                    Err(error) => problems.push(format!(
                        "tool {}: the pattern for {name} is not a valid regular expression ({error})",
                        tool.slug
                    )),
                }
            }
            tools.push(tool);
        }
        let mut flags = Vec::with_capacity(raw.flags.len());
        for (name, raw_flag) in raw.flags {
            match RolloutMode::parse(&raw_flag.default) {
                Ok(mode) => {
                    let mut flag = FlagSpec::new(name, mode);
                    flag.description = raw_flag.description;
                    flags.push(flag);
                }
                Err(error) => problems.push(format!("flag {name}: the default {error}")),
            }
        }
        match Self::build(tools, flags) {
            Ok(registry) if problems.is_empty() => Ok(registry),
            Ok(_) => Err(RegistryError {
                path: None,
                problems,
            }),
            Err(mut error) => {
                problems.append(&mut error.problems);
                error.problems = problems;
                Err(error)
            }
        }
    }

    /// Read, parse and check a TOML registry file.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or [`Registry::from_toml_str`] fails; the error names the file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| RegistryError {
            path: Some(path.to_owned()),
            problems: vec![format!("cannot read the file ({})", error.kind())],
        })?;
        Self::from_toml_str(&text).map_err(|mut error| {
            error.path = Some(path.to_owned());
            error
        })
    }

    /// The tools in declaration order.
    pub fn tools(&self) -> &[ToolSpec] {
        &self.tools
    }

    /// The rollout flags: the declared ones, then `SECRETS_VAULT_MODE` (built in, default
    /// `off`) unless declared.
    pub fn flags(&self) -> &[FlagSpec] {
        &self.flags
    }

    /// The tool called `slug`.
    pub fn tool(&self, slug: &str) -> Option<&ToolSpec> {
        self.tools.iter().find(|tool| tool.slug == slug)
    }

    /// Whether any tool declares `name` a secret.
    pub fn is_secret(&self, name: &str) -> bool {
        self.secrets.contains(name)
    }

    /// Every variable any tool reads, sorted and without repeats.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Every default, by variable name.
    pub(crate) fn defaults(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.tools.iter().flat_map(|tool| {
            tool.defaults
                .iter()
                .map(move |(name, value)| (tool.slug.as_str(), name.as_str(), value.as_str()))
        })
    }
}

/// A registry that cannot be used: every problem found, and the file when there is one.
#[derive(Clone, Debug, thiserror::Error)]
pub struct RegistryError {
    path: Option<PathBuf>,
    problems: Vec<String>,
}

impl RegistryError {
    /// The registry file, when the registry came from one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Every problem, one sentence each.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "tools registry {} is unusable", path.display())?,
            None => f.write_str("tools registry is unusable")?,
        }
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    #[serde(default)]
    tools: Vec<RawTool>,
    /// `[flags.NAME]` tables, by name.
    #[serde(default)]
    flags: BTreeMap<String, RawFlag>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlag {
    default: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    slug: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    optional: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    environments: Option<Vec<String>>,
    #[serde(default)]
    critical: bool,
    #[serde(default)]
    kill_switch: Option<String>,
    #[serde(default)]
    defaults: BTreeMap<String, String>,
    #[serde(default)]
    validate: BTreeMap<String, RawValidation>,
    #[serde(default)]
    describe: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawValidation {
    Url {
        #[serde(default)]
        schemes: Vec<String>,
    },
    Integer {
        #[serde(default)]
        min: Option<i64>,
        #[serde(default)]
        max: Option<i64>,
    },
    OneOf {
        values: Vec<String>,
    },
    Regex {
        pattern: String,
    },
}

impl RawValidation {
    fn build(self) -> Result<Validation, regex::Error> {
        Ok(match self {
            Self::Url { schemes } => Validation::url_with_schemes(schemes),
            Self::Integer { min, max } => Validation::integer(min, max),
            Self::OneOf { values } => Validation::one_of(values),
            Self::Regex { pattern } => Validation::regex(&pattern)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_problem_is_reported_at_once() {
        let error = Registry::from_toml_str(
            r#"
            [[tools]]
            slug = "Bad Slug"
            required = ["A", "1B"]
            secrets = ["C"]
            defaults = { A = "x" }
            [[tools]]
            slug = "ok"
            optional = ["P"]
            secrets = ["P"]
            defaults = { P = "x" }
            validate = { Q = { kind = "regex", pattern = "(" } }
            "#,
        )
        .unwrap_err();
        assert_eq!(error.problems().len(), 6, "{error}");
    }

    #[test]
    fn a_toml_syntax_error_names_the_line() {
        let error = Registry::from_toml_str("[[tools]]\nslug = \n").unwrap_err();
        assert!(error.problems()[0].starts_with("line 2:"), "{error}");
    }

    #[test]
    fn validations_explain_without_the_value() {
        let cases = [
            (Validation::url(), "not a url at all"),
            (
                Validation::url_with_schemes(["https"]),
                "http://example.com",
            ),
            (Validation::integer(Some(1), Some(10)), "11"),
            (Validation::integer(Some(1), Some(10)), "zero"),
            (Validation::one_of(["a", "b"]), "c-value"),
            (Validation::regex("^x+$").unwrap(), "yyy"),
        ];
        for (validation, value) in cases {
            let why = validation.check(value).unwrap_err();
            assert!(!why.contains(value), "{why}");
        }
        assert!(Validation::url().check("https://example.com/a").is_ok());
        assert!(Validation::integer(Some(1), None).check("5").is_ok());
    }
}
