//! Gathering every source into owned data, then resolving each tool.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt, fs, io,
    path::{Path, PathBuf},
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use secrecy::{ExposeSecret, SecretString};
use stanchion_rollout::RolloutMode;

use crate::{
    dotenv::{self, ParseError, ParsedDotenv, VarLookup},
    flags::{FlagSources, FlagValue},
    registry::{Registry, RegistryError, ToolSpec, is_env_name},
    snapshot::{
        DotenvFile, Reason, ReasonKind, RefreshId, Snapshot, ToolStatus, VarProblem, Variable,
        describe_problem,
    },
    source::{Candidate, FingerprintKey, Held, Origin, SecretSink, SourceKind},
};

/// The variable that names the environment when no explicit name is given.
pub const ENV_NAME_VAR: &str = "APP_ENV";
/// The rollout flag that selects the strict secrets mode (built into every registry, default
/// `off`), when [`ConfigLoader::with_vault_mode`] does not.
pub const VAULT_MODE_VAR: &str = "SECRETS_VAULT_MODE";
/// The environment used when neither an explicit name nor `APP_ENV` is set.
pub const DEFAULT_ENV: &str = "development";
/// Secret files larger than this are refused (a mounted secret is a few bytes to a few KiB).
pub const MAX_SECRET_FILE_BYTES: u64 = 1024 * 1024;

/// Why a load failed as a whole (a tool's own problems are reasons, not errors).
///
/// Messages name the file and line, never a value from it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The tools registry is unusable.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A dotenv file has a syntax error.
    #[error("dotenv file {} {error}", path.display())]
    Dotenv {
        /// The file.
        path: PathBuf,
        /// The kind and line.
        error: ParseError,
    },
    /// A dotenv file exists but cannot be read.
    #[error("cannot read {} ({kind})", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        kind: io::ErrorKind,
    },
    /// A setting (environment name, secrets mode) is not usable.
    #[error("{setting}: {message}")]
    Setting {
        /// The flag or variable that carries the setting.
        setting: String,
        /// What is accepted.
        message: String,
    },
}

impl LoadError {
    /// A stable snake_case kind, used as the metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Registry(_) => "registry",
            Self::Dotenv { .. } => "dotenv",
            Self::Io { .. } => "io",
            Self::Setting { .. } => "setting",
        }
    }

    /// The file the error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Registry(error) => error.path(),
            Self::Dotenv { path, .. } | Self::Io { path, .. } => Some(path),
            Self::Setting { .. } => None,
        }
    }
}

#[derive(Clone, Debug)]
enum RegistrySource {
    Fixed(Arc<Registry>),
    File(PathBuf),
}

/// Loads every source and resolves every tool; each [`load`](Self::load) returns a fresh
/// [`Snapshot`]. Configure with `with_*` setters.
pub struct ConfigLoader {
    registry: RegistrySource,
    dir: PathBuf,
    env_name: Option<String>,
    process_env: Option<HashMap<String, String>>,
    secrets_dir: Option<PathBuf>,
    vault_mode: Option<RolloutMode>,
    sink: Option<Arc<dyn SecretSink>>,
    key: FingerprintKey,
    next_id: AtomicU64,
}

impl fmt::Debug for ConfigLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigLoader")
            .field("registry", &self.registry)
            .field("dir", &self.dir)
            .field("env_name", &self.env_name)
            // SECURITY: an injected environment may hold secrets; show its size only.
            .field(
                "process_env_vars",
                &self.process_env.as_ref().map(HashMap::len),
            )
            .field("secrets_dir", &self.secrets_dir)
            .field("vault_mode", &self.vault_mode)
            .field("secret_sink", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

impl ConfigLoader {
    /// A loader for a registry built in code. Dotenv files are read from the current directory.
    pub fn new(registry: Registry) -> Self {
        Self::with_source(RegistrySource::Fixed(Arc::new(registry)))
    }

    /// A loader that re-reads the TOML registry at `path` on every load, so a refresh picks up
    /// registry edits too (and a broken edit keeps the last good snapshot).
    pub fn from_registry_file(path: impl Into<PathBuf>) -> Self {
        Self::with_source(RegistrySource::File(path.into()))
    }

    /// The convention of a service's configuration directory: the registry `dir/tools.toml`
    /// (read again on every refresh) and the `.env*` files in `dir`.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self::from_registry_file(dir.join("tools.toml")).with_dir(dir)
    }

    fn with_source(registry: RegistrySource) -> Self {
        Self {
            registry,
            dir: PathBuf::from("."),
            env_name: None,
            process_env: None,
            secrets_dir: None,
            vault_mode: None,
            sink: None,
            key: FingerprintKey::per_process(),
            next_id: AtomicU64::new(0),
        }
    }

    /// The directory holding `.env`, `.env.<env>`, ... (default: the current directory).
    #[must_use]
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// The environment name (default: `APP_ENV`, else `development`).
    #[must_use]
    pub fn with_env_name(mut self, name: impl Into<String>) -> Self {
        self.env_name = Some(name.into());
        self
    }

    /// Use these variables as the process environment instead of reading the real one (tests,
    /// or a service that captured its environment at start). The real environment is never
    /// written either way.
    #[must_use]
    pub fn with_process_env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.process_env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// A directory of secret files, one per variable, named `NAME` or `name` (default: none).
    #[must_use]
    pub fn with_secrets_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.secrets_dir = Some(dir.into());
        self
    }

    /// The strict secrets mode, whatever the sources say (default: the `SECRETS_VAULT_MODE`
    /// flag, resolved like the others).
    #[must_use]
    pub fn with_vault_mode(mut self, mode: RolloutMode) -> Self {
        self.vault_mode = Some(mode);
        self
    }

    /// Register every secret value read with `sink` (e.g. a redactor) (default: none).
    #[must_use]
    pub fn with_secret_sink(mut self, sink: impl SecretSink + 'static) -> Self {
        self.sink = Some(Arc::new(sink));
        self
    }

    /// The fingerprint key (default: random per process).
    #[must_use]
    pub fn with_fingerprint_key(mut self, key: FingerprintKey) -> Self {
        self.key = key;
        self
    }

    /// The dotenv directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The secrets directory, if any.
    pub fn secrets_dir(&self) -> Option<&Path> {
        self.secrets_dir.as_deref()
    }

    /// The registry file, when the registry is re-read on each load.
    pub fn registry_file(&self) -> Option<&Path> {
        match &self.registry {
            RegistrySource::File(path) => Some(path),
            RegistrySource::Fixed(_) => None,
        }
    }

    /// Read every source and resolve every tool.
    ///
    /// Emits a `tracing` event (target `stanchion_config`) for each missing required variable
    /// and each disabled tool, and sets the tool gauges.
    ///
    /// # Errors
    ///
    /// An unusable registry, a malformed or unreadable dotenv file, or a bad setting.
    pub fn load(&self) -> Result<Snapshot, LoadError> {
        self.load_as(self.next_id())
    }

    pub(crate) fn next_id(&self) -> RefreshId {
        RefreshId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    pub(crate) fn load_as(&self, id: RefreshId) -> Result<Snapshot, LoadError> {
        let result = self.load_with_id(id);
        match &result {
            Ok(snapshot) => crate::telemetry::record_snapshot(snapshot),
            Err(error) => {
                metrics::counter!(crate::metric_names::LOAD_ERRORS_TOTAL, "kind" => error.kind())
                    .increment(1);
            }
        }
        result
    }

    fn load_with_id(&self, id: RefreshId) -> Result<Snapshot, LoadError> {
        let registry = match &self.registry {
            RegistrySource::Fixed(registry) => Arc::clone(registry),
            RegistrySource::File(path) => Arc::new(Registry::from_toml_file(path)?),
        };
        let captured;
        let process_env = match &self.process_env {
            Some(vars) => vars,
            None => {
                captured = capture_process_env();
                &captured
            }
        };
        let env = self.env_name(process_env)?;
        let (files, layers) = self.read_dotenv(&env, process_env)?;
        let flags = FlagSources {
            process_env,
            layers: &layers,
            vault_override: self.vault_mode,
        }
        .resolve(registry.flags())?;
        let vault_mode = flags
            .iter()
            .find(|flag| flag.name() == VAULT_MODE_VAR)
            .map_or(RolloutMode::Off, FlagValue::mode);
        let gathered = Gathered {
            registry: &registry,
            process_env,
            layers: &layers,
            files: &files,
            secrets_dir: self.secrets_dir.as_deref(),
            secrets_listing: list_dir(self.secrets_dir.as_deref())?,
            file_vars: process_env
                .keys()
                .chain(layers.iter().flat_map(|(_, parsed)| parsed.keys()))
                .filter_map(|key| key.strip_suffix("_FILE"))
                .collect(),
            key: &self.key,
            sink: self.sink.as_deref(),
        };
        let variables = gathered.variables();
        let public = self.development_values(&env, &registry, process_env);
        let tools: Vec<ToolStatus> = registry
            .tools()
            .iter()
            .map(|spec| resolve_tool(spec, &variables, &public, &env, vault_mode, id))
            .collect();
        let tool_index = tools
            .iter()
            .enumerate()
            .map(|(index, tool)| (tool.slug.clone(), index))
            .collect();
        let duplicates = layers
            .iter()
            .flat_map(|(path, parsed)| {
                parsed
                    .duplicates()
                    .iter()
                    .map(move |dup| (path.to_path_buf(), dup.clone()))
            })
            .collect();
        Ok(Snapshot {
            refresh_id: id,
            env,
            vault_mode,
            flags,
            tools,
            tool_index,
            variables,
            files,
            duplicates,
        })
    }

    fn env_name(&self, process_env: &HashMap<String, String>) -> Result<String, LoadError> {
        let (setting, name) = match (&self.env_name, process_env.get(ENV_NAME_VAR)) {
            (Some(name), _) => ("--env", name.clone()),
            (None, Some(name)) if !name.is_empty() => (ENV_NAME_VAR, name.clone()),
            (None, _) => return Ok(DEFAULT_ENV.to_owned()),
        };
        // SECURITY: the name becomes part of a file name, so no `/`, `..` or `.`.
        if is_env_name(&name) && name != "local" {
            Ok(name)
        } else {
            Err(LoadError::Setting {
                setting: setting.to_owned(),
                message: "the environment name must be 1-64 characters of a-z, 0-9, `-`, `_` \
                          and may not be `local`"
                    .to_owned(),
            })
        }
    }

    /// Outside `development` and `test`: the secrets' values in this directory's
    /// `.env.development` and `.env.test`, which are committed and so public. SECURITY: an
    /// environment that shares one of them is running on a value anyone can read. Those files
    /// are not sources here, so one that does not parse is not an error of this environment;
    /// it only cannot be compared.
    fn development_values(
        &self,
        env: &str,
        registry: &Registry,
        process_env: &HashMap<String, String>,
    ) -> PublicValues {
        let mut public = PublicValues::new();
        if matches!(env, "development" | "test") {
            return public;
        }
        for name in [".env.development", ".env.test"] {
            let path = self.dir.join(name);
            let Ok(bytes) = fs::read(&path) else { continue };
            let Ok(parsed) = dotenv::parse_bytes(&bytes, process_env, &Lower(&[])) else {
                continue;
            };
            for key in parsed.keys() {
                if let Some(value) = parsed.get(key)
                    && registry.is_secret(key)
                    && !value.is_empty()
                {
                    public
                        .entry(key.to_owned())
                        .or_default()
                        .push((path.display().to_string(), SecretString::from(value)));
                }
            }
        }
        public
    }

    /// The dotenv cascade, lowest precedence first.
    fn read_dotenv(
        &self,
        env: &str,
        process_env: &HashMap<String, String>,
    ) -> Result<(Vec<DotenvFile>, Layers), LoadError> {
        let mut names = vec![".env".to_owned(), format!(".env.{env}")];
        // `.env.local` is skipped in test so test runs do not depend on a developer's overrides.
        if env != "test" {
            names.push(".env.local".to_owned());
        }
        names.push(format!(".env.{env}.local"));
        let mut files = Vec::with_capacity(names.len());
        let mut layers: Layers = Vec::with_capacity(names.len());
        for name in names {
            let path = self.dir.join(name);
            match fs::read(&path) {
                Ok(bytes) => {
                    let lower = Lower(&layers);
                    let parsed =
                        dotenv::parse_bytes(&bytes, process_env, &lower).map_err(|error| {
                            LoadError::Dotenv {
                                path: path.clone(),
                                error,
                            }
                        })?;
                    files.push(DotenvFile {
                        path: path.clone(),
                        loaded: true,
                    });
                    layers.push((Arc::from(path), parsed));
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    files.push(DotenvFile {
                        path,
                        loaded: false,
                    });
                }
                Err(error) => {
                    return Err(LoadError::Io {
                        path,
                        kind: error.kind(),
                    });
                }
            }
        }
        Ok((files, layers))
    }
}

/// Public development values of secrets, by name, with the file each comes from.
type PublicValues = HashMap<String, Vec<(String, SecretString)>>;

/// The loaded dotenv files, lowest precedence first.
pub(crate) type Layers = Vec<(Arc<Path>, ParsedDotenv)>;

/// The dotenv layers loaded so far, looked up highest first (for `${NAME}` expansion).
struct Lower<'a>(&'a [(Arc<Path>, ParsedDotenv)]);

impl VarLookup for Lower<'_> {
    fn get_var(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find_map(|(_, parsed)| parsed.get(name))
    }
}

fn capture_process_env() -> HashMap<String, String> {
    // Variables whose name or value is not UTF-8 are skipped: no registry name can match them.
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

struct Gathered<'a> {
    registry: &'a Registry,
    process_env: &'a HashMap<String, String>,
    layers: &'a [(Arc<Path>, ParsedDotenv)],
    files: &'a [DotenvFile],
    secrets_dir: Option<&'a Path>,
    /// The file names in the secrets directory, listed once per load.
    secrets_listing: HashSet<String>,
    /// `NAME` for every `NAME_FILE` set in the environment or a dotenv file.
    file_vars: HashSet<&'a str>,
    key: &'a FingerprintKey,
    sink: Option<&'a dyn SecretSink>,
}

/// A value read for a variable before it is known whether the variable is secret.
struct Raw {
    origin: Origin,
    value: String,
}

impl Gathered<'_> {
    fn variables(&self) -> BTreeMap<String, Variable> {
        let mut defaults: HashMap<&str, (&str, &str)> = HashMap::new();
        for (tool, name, value) in self.registry.defaults() {
            defaults.entry(name).or_insert((tool, value));
        }
        self.registry
            .variables()
            .iter()
            .map(|name| {
                (
                    name.clone(),
                    self.variable(name, defaults.get(name.as_str())),
                )
            })
            .collect()
    }

    fn variable(&self, name: &str, default: Option<&(&str, &str)>) -> Variable {
        let mut raws: Vec<Raw> = Vec::new();
        let mut tainted = false;
        if let Some((tool, value)) = default {
            raws.push(Raw {
                origin: Origin::Default {
                    tool: (*tool).to_owned(),
                },
                value: (*value).to_owned(),
            });
        }
        for (path, parsed) in self.layers {
            for entry in parsed.all(name) {
                // SECURITY: a value built from a secret by `${NAME}` expansion is a secret too.
                tainted |= entry
                    .references()
                    .iter()
                    .any(|reference| self.registry.is_secret(reference));
                raws.push(Raw {
                    origin: Origin::DotenvFile {
                        path: Arc::clone(path),
                        line: entry.line(),
                    },
                    value: entry.value().to_owned(),
                });
            }
        }
        if let Some(value) = self.process_env.get(name) {
            raws.push(Raw {
                origin: Origin::ProcessEnv,
                value: value.clone(),
            });
        }
        let mut problem = None;
        let lowercase = || name.to_ascii_lowercase();
        if let Some(dir) = self.secrets_dir {
            let lowercase = lowercase();
            // PERF: the directory was listed once; only files that exist are opened.
            let present = [name, lowercase.as_str()]
                .into_iter()
                .filter(|file| self.secrets_listing.contains(*file));
            for path in present.map(|file| dir.join(file)) {
                match read_secret_file(&path) {
                    Ok(Some(value)) => {
                        raws.push(Raw {
                            origin: Origin::SecretsDir { path },
                            value,
                        });
                        break;
                    }
                    Ok(None) => {}
                    Err(why) => {
                        problem = Some(VarProblem::Unreadable { path, why });
                        break;
                    }
                }
            }
        }
        let file_var = || format!("{name}_FILE");
        let mut file_target = None;
        // PERF: most variables have no `_FILE` companion; skip five lookups for them.
        let companion = if self.file_vars.contains(name) {
            self.lookup_plain(&file_var())
        } else {
            None
        };
        match companion {
            Some((file_origin, path)) if !path.is_empty() => {
                let path = PathBuf::from(path);
                file_target = Some(path.clone());
                let plain = raws
                    .iter()
                    .rev()
                    .find(|raw| raw.origin.kind() != SourceKind::Default)
                    .map(|raw| raw.origin.clone());
                if let Some(plain) = plain {
                    // Docker's `file_env`: both set is an error, whatever the layers.
                    problem = Some(VarProblem::Conflict {
                        plain,
                        file_var: file_origin,
                    });
                }
                match read_secret_file(&path) {
                    Ok(Some(value)) => {
                        // Indirection ranks just below the secrets directory.
                        let at = raws
                            .iter()
                            .position(|raw| raw.origin.kind() == SourceKind::SecretsDir)
                            .unwrap_or(raws.len());
                        raws.insert(
                            at,
                            Raw {
                                origin: Origin::FileIndirection {
                                    variable: file_var(),
                                    path,
                                },
                                value,
                            },
                        );
                    }
                    Ok(None) => {
                        problem.get_or_insert(VarProblem::Unreadable {
                            path,
                            why: "not found".to_owned(),
                        });
                    }
                    Err(why) => {
                        problem.get_or_insert(VarProblem::Unreadable { path, why });
                    }
                }
            }
            _ => {}
        }
        // PERF: the list of places looked in is only built for variables set nowhere.
        let mut searched = Vec::new();
        if raws.is_empty() {
            if let Some(dir) = self.secrets_dir {
                searched.push(dir.join(name).display().to_string());
                let lowercase = lowercase();
                if lowercase != name {
                    searched.push(dir.join(&lowercase).display().to_string());
                }
            }
            searched.push(match &file_target {
                Some(path) => format!("file {} (via {})", path.display(), file_var()),
                None => format!("{} (not set)", file_var()),
            });
            searched.push("process environment".to_owned());
            for file in self.files.iter().rev() {
                let note = if file.loaded { "" } else { " (absent)" };
                searched.push(format!("{}{note}", file.path.display()));
            }
        }
        let secret = tainted || self.registry.is_secret(name);
        if secret && let Some(sink) = self.sink {
            for raw in raws.iter().filter(|raw| !raw.value.is_empty()) {
                sink.register_secret(name, &SecretString::from(raw.value.as_str()));
            }
        }
        let chain = raws
            .into_iter()
            .rev()
            .map(|raw| Candidate {
                origin: raw.origin,
                value: Held::new(raw.value, secret),
            })
            .collect();
        Variable {
            name: name.to_owned(),
            secret,
            chain,
            problem,
            searched,
            fingerprint_key: secret.then(|| self.key.clone()),
            fingerprint: OnceLock::new(),
        }
    }

    /// The winning value of a variable outside the registry (e.g. `NAME_FILE`), from the
    /// process environment and dotenv files only.
    fn lookup_plain(&self, name: &str) -> Option<(Origin, &str)> {
        if let Some(value) = self.process_env.get(name) {
            return Some((Origin::ProcessEnv, value));
        }
        self.layers.iter().rev().find_map(|(path, parsed)| {
            parsed.last(name).map(|entry| {
                (
                    Origin::DotenvFile {
                        path: Arc::clone(path),
                        line: entry.line(),
                    },
                    entry.value(),
                )
            })
        })
    }
}

/// The UTF-8 file names in `dir`; a missing directory is empty (secrets may not be mounted in
/// development).
fn list_dir(dir: Option<&Path>) -> Result<HashSet<String>, LoadError> {
    let Some(dir) = dir else {
        return Ok(HashSet::new());
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(error) => {
            return Err(LoadError::Io {
                path: dir.to_owned(),
                kind: error.kind(),
            });
        }
    };
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect())
}

/// Read one secret file with Docker `$(< file)` semantics: trailing newlines are trimmed.
/// `Ok(None)` when the file does not exist; `Err(why)` never contains the content.
fn read_secret_file(path: &Path) -> Result<Option<String>, String> {
    // PERF: one open, then fstat on the handle: no second path lookup.
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.kind().to_string()),
    };
    let metadata = file.metadata().map_err(|error| error.kind().to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    if metadata.len() > MAX_SECRET_FILE_BYTES {
        return Err(format!("larger than {MAX_SECRET_FILE_BYTES} bytes"));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    // PERF: read exactly the size fstat reported: no extra `read` to see end-of-file. Mounted
    // secrets are replaced by rename, never appended to, so a concurrent writer cannot leave a
    // longer file behind this size.
    io::Read::read_to_end(&mut io::Read::take(file, metadata.len()), &mut bytes)
        .map_err(|error| error.kind().to_string())?;
    let mut text = String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_owned())?;
    while text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(Some(text))
}

fn is_truthy(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "" | "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn resolve_tool(
    spec: &ToolSpec,
    variables: &BTreeMap<String, Variable>,
    public: &PublicValues,
    env: &str,
    vault_mode: RolloutMode,
    id: RefreshId,
) -> ToolStatus {
    let mut reasons = Vec::new();
    let mut local_fallbacks = Vec::new();
    let allowed_here = spec
        .environments()
        .is_none_or(|envs| envs.iter().any(|allowed| allowed == env));
    if !allowed_here {
        let allowed = spec.environments().unwrap_or_default().join(", ");
        reasons.push(Reason {
            kind: ReasonKind::NotInEnvironment,
            variable: None,
            message: format!("not allowed in environment {env} (allowed: {allowed})"),
            searched: Vec::new(),
        });
    }
    let reason = |kind, name: &str, message: String| Reason {
        kind,
        variable: Some(name.to_owned()),
        message,
        searched: Vec::new(),
    };
    let problem_reason = |name: &str, problem: &VarProblem| {
        let kind = match problem {
            VarProblem::Conflict { .. } => ReasonKind::Conflict,
            VarProblem::Unreadable { .. } => ReasonKind::Unreadable,
        };
        reason(kind, name, describe_problem(name, problem))
    };
    if let Some(name) = spec.kill_switch()
        && let Some(variable) = variables.get(name)
    {
        if let Some(problem) = &variable.problem {
            reasons.push(problem_reason(name, problem));
        } else if let Some(winner) = variable.chain.first() {
            match is_truthy(winner.value.expose()) {
                Some(true) => reasons.push(reason(
                    ReasonKind::KillSwitch,
                    name,
                    format!("turned off by {name} (set in {})", winner.origin),
                )),
                Some(false) => {}
                None => reasons.push(reason(
                    ReasonKind::Invalid,
                    name,
                    format!(
                        "{name} (from {}) is not a switch value; use 1/0, true/false, \
                             yes/no or on/off",
                        winner.origin
                    ),
                )),
            }
        }
    }
    let required = spec.required().iter().map(|name| (name, true));
    let optional = spec.optional().iter().map(|name| (name, false));
    for (name, is_required) in required.chain(optional) {
        let Some(variable) = variables.get(name.as_str()) else {
            continue;
        };
        if let Some(problem) = &variable.problem {
            reasons.push(problem_reason(name, problem));
            continue;
        }
        let Some(winner) = variable.chain.first() else {
            if is_required {
                tracing::info!(
                    target: "stanchion_config",
                    refresh_id = %id,
                    env,
                    tool = spec.slug(),
                    variable = name.as_str(),
                    source = %variable.searched.join(", "),
                    "required variable missing"
                );
                reasons.push(Reason {
                    kind: ReasonKind::Missing,
                    variable: Some(name.clone()),
                    message: format!(
                        "{name} is not set; looked in: {}",
                        variable.searched.join(", ")
                    ),
                    searched: variable.searched.clone(),
                });
            }
            continue;
        };
        let value = winner.value.expose();
        if value.is_empty() {
            if is_required {
                reasons.push(reason(
                    ReasonKind::Empty,
                    name,
                    format!("{name} is set but empty (in {})", winner.origin),
                ));
            }
            continue;
        }
        if let Some(validation) = spec.validations.get(name.as_str())
            && let Err(why) = validation.check(value)
        {
            reasons.push(reason(
                ReasonKind::Invalid,
                name,
                format!("{name} (from {}) {why}", winner.origin),
            ));
        }
        if variable.secret
            && let Some((file, _)) = public.get(name.as_str()).and_then(|values| {
                values
                    .iter()
                    .find(|(_, public)| public.expose_secret() == value)
            })
        {
            reasons.push(reason(
                ReasonKind::DevelopmentValue,
                name,
                format!(
                    "secret {name} (from {}) is the public development value of {file}; \
                     environment {env} needs its own, e.g. in {name}_FILE (a mounted secret file)",
                    winner.origin
                ),
            ));
        }
        if variable.secret && winner.origin.kind() == SourceKind::DotenvFile {
            match vault_mode {
                RolloutMode::Enforced => reasons.push(reason(
                    ReasonKind::PlainFileSecret,
                    name,
                    format!(
                        "secret {name} comes from {}, a plain file; with SECRETS_VAULT_MODE=enforced \
                         secrets must come from the process environment, {name}_FILE or the \
                         secrets directory",
                        winner.origin
                    ),
                )),
                RolloutMode::Shadow => {
                    tracing::warn!(
                        target: "stanchion_config",
                        refresh_id = %id,
                        env,
                        tool = spec.slug(),
                        variable = name.as_str(),
                        source = %winner.origin,
                        "secret read from a plain file (local fallback, shadow mode)"
                    );
                    local_fallbacks.push(name.clone());
                }
                RolloutMode::Off => {}
            }
        }
    }
    if !reasons.is_empty() {
        let kinds: Vec<&str> = reasons.iter().map(|r| r.kind.as_str()).collect();
        let sources: Vec<String> = reasons
            .iter()
            .filter_map(|r| r.variable.as_deref())
            .filter_map(|name| variables.get(name))
            .map(|variable| {
                variable
                    .origin()
                    .map_or_else(|| "unset".to_owned(), ToString::to_string)
            })
            .collect();
        let critical = spec.is_critical() && allowed_here;
        let reasons_text = kinds.join(",");
        let source = sources.join(", ");
        if critical {
            tracing::warn!(target: "stanchion_config", refresh_id = %id, env, tool = spec.slug(),
                critical, reasons = %reasons_text, source = %source, "tool disabled");
        } else {
            tracing::info!(target: "stanchion_config", refresh_id = %id, env, tool = spec.slug(),
                critical, reasons = %reasons_text, source = %source, "tool disabled");
        }
    }
    ToolStatus {
        slug: spec.slug().to_owned(),
        name: spec.name().to_owned(),
        critical: spec.is_critical(),
        allowed_here,
        reasons,
        variables: spec.variables().map(str::to_owned).collect(),
        local_fallbacks,
    }
}
