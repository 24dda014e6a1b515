//! The agent's configuration: listen address, tools (through the configuration service) and
//! the redactor every loaded secret is registered with.

use std::{
    collections::BTreeMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use stanchion::Metrics;

use crate::provider::Model;
use stanchion_config::{ConfigLoader, ConfigService, CriticalToolDisabled, LoadError};
use stanchion_redact::Redactor;

/// `AGENT_ADDR`: where the agent listens.
pub const ADDR_VAR: &str = "AGENT_ADDR";
/// The default of [`ADDR_VAR`].
pub const DEFAULT_ADDR: &str = "127.0.0.1:8081";
/// `AGENT_CONFIG_DIR`: the directory holding `tools.toml` and the `.env*` files.
pub const CONFIG_DIR_VAR: &str = "AGENT_CONFIG_DIR";
/// `AGENT_SHUTDOWN_DELAY_MS`: after SIGTERM, how long the agent keeps accepting connections
/// with `/readyz` failing before its listener closes (0 to 60000; default
/// [`DEFAULT_SHUTDOWN_DELAY`]).
pub const SHUTDOWN_DELAY_VAR: &str = "AGENT_SHUTDOWN_DELAY_MS";
/// Both services' drain delay when their `*_SHUTDOWN_DELAY_MS` is unset: one readiness probe
/// period of the shipped manifests (`periodSeconds: 5`), so a probe sees `/readyz` fail while
/// the listener still accepts.
pub const DEFAULT_SHUTDOWN_DELAY: Duration = Duration::from_secs(5);
/// The longest drain delay accepted: it adds to the time a stop takes, and the manifests'
/// grace period must cover it plus the 20 s drain deadline.
const MAX_SHUTDOWN_DELAY_MS: u64 = 60_000;
/// The model tool's slug; the agent cannot answer without it.
pub const MODEL_TOOL: &str = "model";
/// The query-quota tool's slug.
pub const QUOTA_TOOL: &str = "query-quota";
/// Queries each user may make per minute, while the quota tool is enabled.
pub const QUERIES_PER_MINUTE_VAR: &str = "AGENT_QUERIES_PER_MINUTE";

/// The example's own `config/` directory, found from where the crate was built so that
/// `cargo run` works from any directory of a checkout.
pub fn default_config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// Why a service cannot start. Messages name the setting, file and line, never a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A listen address does not parse.
    #[error("{var} is not a socket address such as 127.0.0.1:8081")]
    Addr {
        /// The variable.
        var: &'static str,
    },
    /// A setting other than an address is unusable.
    #[error("{var}: {message}")]
    Setting {
        /// The variable.
        var: &'static str,
        /// What is accepted.
        message: String,
    },
    /// The configuration could not be loaded at all.
    #[error("configuration in {}: {error}", dir.display())]
    Config {
        /// The configuration directory.
        dir: PathBuf,
        /// The loader's error.
        #[source]
        error: LoadError,
    },
    /// A tool the service cannot run without is disabled here.
    #[error(transparent)]
    CriticalTool(#[from] CriticalToolDisabled),
}

/// Where a service reads its settings: the real process environment (never written), or an
/// injected map standing in for it (tests run several services in one process, each with its
/// own "environment").
#[derive(Clone, Default)]
pub struct Env(Option<Arc<BTreeMap<String, String>>>);

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY: an injected environment may hold secrets; show its size only.
        match &self.0 {
            Some(map) => write!(f, "Env(injected, {} vars)", map.len()),
            None => f.write_str("Env(process environment)"),
        }
    }
}

impl Env {
    /// The real process environment.
    pub fn process() -> Self {
        Self(None)
    }

    /// `vars` instead of the process environment.
    pub fn injected<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self(Some(Arc::new(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )))
    }

    /// The value of `name`, when set and UTF-8.
    pub fn get(&self, name: &str) -> Option<String> {
        match &self.0 {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }

    /// A configuration loader for the registry `dir/tools.toml` and the `.env*` files in
    /// `dir`, reading these variables as its process environment and registering every
    /// secret with `redactor`.
    pub fn loader(&self, dir: &Path, redactor: &Redactor) -> ConfigLoader {
        let loader = ConfigLoader::from_dir(dir).with_secret_sink(redactor.clone());
        match &self.0 {
            Some(map) => loader.with_process_env(map.iter().map(|(k, v)| (k.clone(), v.clone()))),
            None => loader,
        }
    }
}

/// Parses `var` as a socket address, with a default.
///
/// # Errors
///
/// [`StartError::Addr`] when it does not parse.
pub fn socket_addr(vars: &Env, var: &'static str, default: &str) -> Result<SocketAddr, StartError> {
    vars.get(var)
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
        .trim()
        .parse()
        .map_err(|_| StartError::Addr { var })
}

/// Parses `var` as a shutdown delay in milliseconds (0 to 60000; 0 closes the listener at
/// the signal, for tests), [`DEFAULT_SHUTDOWN_DELAY`] when unset or blank. It is read once at
/// start, like the address: the server is built with it.
///
/// # Errors
///
/// [`StartError::Setting`] naming `var` when it is not a whole number of milliseconds in range.
pub fn shutdown_delay(vars: &Env, var: &'static str) -> Result<Duration, StartError> {
    let Some(value) = vars.get(var).filter(|value| !value.trim().is_empty()) else {
        return Ok(DEFAULT_SHUTDOWN_DELAY);
    };
    match value.trim().parse::<u64>() {
        Ok(ms) if ms <= MAX_SHUTDOWN_DELAY_MS => Ok(Duration::from_millis(ms)),
        _ => Err(StartError::Setting {
            var,
            message: format!(
                "must be a whole number of milliseconds from 0 to {MAX_SHUTDOWN_DELAY_MS}"
            ),
        }),
    }
}

/// Starts the configuration service on `dir` and refuses a snapshot where a critical tool is
/// disabled.
///
/// # Errors
///
/// [`StartError::Config`] when a source is unusable, [`StartError::CriticalTool`] when a
/// critical tool is disabled.
pub fn start_config(
    vars: &Env,
    dir: &Path,
    redactor: &Redactor,
) -> Result<Arc<ConfigService>, StartError> {
    let service =
        ConfigService::start(vars.loader(dir, redactor)).map_err(|error| StartError::Config {
            dir: dir.to_owned(),
            error,
        })?;
    service.snapshot().require_critical()?;
    Ok(Arc::new(service))
}

/// The agent's configuration. Build it with [`from_env`](Self::from_env) (a service) or
/// [`from_vars`](Self::from_vars) (tests: the real environment is then not read at all).
#[derive(Clone)]
pub struct AgentConfig {
    addr: SocketAddr,
    shutdown_delay: Duration,
    config: Arc<ConfigService>,
    redactor: Redactor,
    metrics: Option<Metrics>,
    model: Model,
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY and size: the redactor's matcher holds every secret; show a summary.
        f.debug_struct("AgentConfig")
            .field("addr", &self.addr)
            .field("shutdown_delay", &self.shutdown_delay)
            .field("config_env", &self.config.snapshot().env())
            .field("model", &self.model)
            .field("metrics", &self.metrics.is_some())
            .finish_non_exhaustive()
    }
}

impl AgentConfig {
    /// Reads `AGENT_ADDR`, `AGENT_SHUTDOWN_DELAY_MS`, `AGENT_CONFIG_DIR` and the tools configuration (registry, `.env*`
    /// files, process environment, secret files) from the process environment.
    ///
    /// # Errors
    ///
    /// An unusable address, shutdown delay or configuration, or a disabled critical tool (the
    /// model).
    pub fn from_env() -> Result<Self, StartError> {
        Self::load(Env::process(), Redactor::new())
    }

    /// [`from_env`](Self::from_env) with `vars` standing in for the process environment.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, StartError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self::load(Env::injected(vars), Redactor::new())
    }

    /// Loads from `env`, registering every loaded secret with `redactor`, so a log writer
    /// built on the same redactor masks them (a `main` installs its subscriber first, then
    /// loads, so the configuration's own events are logged).
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn load(vars: Env, redactor: Redactor) -> Result<Self, StartError> {
        let addr = socket_addr(&vars, ADDR_VAR, DEFAULT_ADDR)?;
        let shutdown_delay = shutdown_delay(&vars, SHUTDOWN_DELAY_VAR)?;
        let dir = vars
            .get(CONFIG_DIR_VAR)
            .filter(|dir| !dir.is_empty())
            .map_or_else(default_config_dir, PathBuf::from);
        let config = start_config(&vars, &dir, &redactor)?;
        let model = Model::from_snapshot(&config.snapshot())?;
        Ok(Self {
            addr,
            shutdown_delay,
            config,
            redactor,
            metrics: None,
            model,
        })
    }

    /// Listen on `addr` instead (`127.0.0.1:0` for a free loopback port).
    #[must_use]
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Record metrics with `metrics` and serve them on `/metrics` (a service on its own
    /// thread passes [`Metrics::for_current_thread`]). Without it, [`serve`](crate::serve)
    /// installs the global recorder ([`Metrics::install_global`]).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The metrics handle given with [`with_metrics`](Self::with_metrics).
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// The model `MODEL_PROVIDER` selected.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Keep accepting for `delay` after the shutdown signal, with `/readyz` failing, before
    /// the listener closes (instead of `AGENT_SHUTDOWN_DELAY_MS`; zero closes it at once).
    #[must_use]
    pub fn with_shutdown_delay(mut self, delay: Duration) -> Self {
        self.shutdown_delay = delay;
        self
    }

    /// How long the agent keeps accepting, with readiness failing, after the shutdown signal
    /// ([`stanchion::Server::with_shutdown_delay`]).
    pub fn shutdown_delay(&self) -> Duration {
        self.shutdown_delay
    }

    /// Where [`crate::spawn_on_thread`] and the binary listen.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration service.
    pub fn config(&self) -> &Arc<ConfigService> {
        &self.config
    }

    /// The redactor every secret of the configuration is registered with (a clone sharing
    /// the registrations); the agent's log writer must use it.
    pub fn redactor(&self) -> Redactor {
        self.redactor.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_configuration_enables_the_model_and_registers_its_key() {
        let config = AgentConfig::from_vars([("AGENT_ADDR", "127.0.0.1:0")]).expect("starts");
        let snapshot = config.config().snapshot();
        assert!(snapshot.is_enabled(MODEL_TOOL));
        assert!(snapshot.is_enabled(QUOTA_TOOL));
        let line = "key=dev-only-local-model-key-not-a-secret";
        assert!(
            !config
                .redactor()
                .redact(line)
                .contains("dev-only-local-model")
        );
    }

    #[test]
    fn a_missing_model_key_stops_the_start_with_every_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(
            default_config_dir().join("tools.toml"),
            dir.path().join("tools.toml"),
        )
        .expect("copy registry");
        let dir_str = dir.path().to_str().expect("utf-8 temp path").to_owned();
        let error = AgentConfig::from_vars([(CONFIG_DIR_VAR, dir_str)]).expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("critical tool `model`"), "{message}");
        assert!(message.contains("MODEL_API_KEY") && message.contains("MODEL_PROVIDER"));
    }

    #[test]
    fn production_reads_the_key_from_a_mounted_file_and_never_the_development_one() {
        let error = AgentConfig::from_vars([("APP_ENV", "production")]).expect_err("no key");
        let message = error.to_string();
        assert!(message.contains("MODEL_API_KEY"), "{message}");

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("MODEL_API_KEY");
        std::fs::write(&path, "a-production-model-key-from-the-platform\n").expect("write");
        let config = AgentConfig::from_vars([
            ("APP_ENV", "production"),
            (
                "MODEL_API_KEY_FILE",
                path.to_str().expect("utf-8 temp path"),
            ),
        ])
        .expect("production starts following the docs");
        assert!(config.config().snapshot().is_enabled(MODEL_TOOL));
    }

    #[test]
    fn an_http_provider_needs_an_endpoint() {
        let error = AgentConfig::from_vars([("MODEL_PROVIDER", "http")]).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "MODEL_ENDPOINT: must be an http:// URL when MODEL_PROVIDER=http"
        );
        let config = AgentConfig::from_vars([
            ("MODEL_PROVIDER", "http"),
            ("MODEL_ENDPOINT", "http://127.0.0.1:9/v1/answer"),
        ])
        .expect("starts");
        assert!(matches!(config.model(), Model::Remote(_)));
        assert!(!format!("{:?}", config.model()).contains("dev-only-local-model-key"));
    }

    #[test]
    fn the_shutdown_delay_defaults_to_a_probe_period_and_accepts_zero() {
        let config = AgentConfig::from_vars([(ADDR_VAR, "127.0.0.1:0")]).expect("starts");
        assert_eq!(config.shutdown_delay(), DEFAULT_SHUTDOWN_DELAY);
        assert!(!DEFAULT_SHUTDOWN_DELAY.is_zero());
        let config = AgentConfig::from_vars([(ADDR_VAR, "127.0.0.1:0"), (SHUTDOWN_DELAY_VAR, "0")])
            .expect("starts");
        assert_eq!(config.shutdown_delay(), Duration::ZERO);
        let config =
            AgentConfig::from_vars([(ADDR_VAR, "127.0.0.1:0"), (SHUTDOWN_DELAY_VAR, " 2500 ")])
                .expect("starts");
        assert_eq!(config.shutdown_delay(), Duration::from_millis(2500));
        for bad in ["-1", "5s", "60001", "1.5"] {
            let error = AgentConfig::from_vars([(SHUTDOWN_DELAY_VAR, bad)]).expect_err(bad);
            assert_eq!(
                error.to_string(),
                "AGENT_SHUTDOWN_DELAY_MS: must be a whole number of milliseconds from 0 to 60000",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_bad_address_is_named() {
        let error = AgentConfig::from_vars([(ADDR_VAR, "localhost")]).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "AGENT_ADDR is not a socket address such as 127.0.0.1:8081"
        );
    }
}
