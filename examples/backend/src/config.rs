//! The backend's configuration: listen address, the agent to call, and the tools (through the
//! configuration service), with the production checks.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use example_agent::{Env, StartError, shutdown_delay, socket_addr, start_config};
use secrecy::ExposeSecret as _;
use stanchion::Metrics;
use stanchion_config::{ConfigService, Snapshot};
use stanchion_redact::Redactor;

/// `BACKEND_ADDR`: where the backend listens.
pub const ADDR_VAR: &str = "BACKEND_ADDR";
/// The default of [`ADDR_VAR`].
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// `BACKEND_SHUTDOWN_DELAY_MS`: after SIGTERM, how long the backend keeps accepting
/// connections with `/readyz` failing before its listener closes (0 to 60000; default
/// [`example_agent::DEFAULT_SHUTDOWN_DELAY`], 5 s).
pub const SHUTDOWN_DELAY_VAR: &str = "BACKEND_SHUTDOWN_DELAY_MS";
/// `BACKEND_CONFIG_DIR`: the directory holding `tools.toml` and the `.env*` files.
pub const CONFIG_DIR_VAR: &str = "BACKEND_CONFIG_DIR";
/// The HS256 secret (a secret of the `auth` tool).
pub const JWT_SECRET_VAR: &str = "AUTH_JWT_SECRET";
/// The agent's base URL (of the `chat` tool); unset: an in-process agent.
pub const AGENT_URL_VAR: &str = "AGENT_URL";
/// How long one agent call may take, in milliseconds (of the `chat` tool; default 10000).
pub const AGENT_TIMEOUT_VAR: &str = "AGENT_TIMEOUT_MS";
/// The authentication tool (critical).
pub const AUTH_TOOL: &str = "auth";
/// The chat tool: `POST /api/v1/chat`.
pub const CHAT_TOOL: &str = "chat";
/// The training-plans tool: `GET /api/v1/training-plans/active`.
pub const TRAINING_PLANS_TOOL: &str = "training-plans";

/// The development JWT secret shipped in `config/.env.development` and `config/.env.test`
/// (read only in those environments). It is public, so every other environment (staging,
/// production) refuses to start while it is the configured secret, wherever it came from.
pub const DEVELOPMENT_JWT_SECRET: &str = "dev-only-jwt-secret-do-not-use-in-production";

const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The example's own `config/` directory, found from where the crate was built so that
/// `cargo run -p example-backend` works from any directory of a checkout.
pub fn default_config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// The backend's configuration. Build it with [`from_env`](Self::from_env) (a service) or
/// [`from_vars`](Self::from_vars) (tests: the real environment is then not read at all).
#[derive(Clone)]
pub struct BackendConfig {
    addr: SocketAddr,
    shutdown_delay: Duration,
    env: Env,
    config: Arc<ConfigService>,
    redactor: Redactor,
    agent_url: Option<String>,
    agent_timeout: Duration,
    metrics: Option<Metrics>,
}

impl fmt::Debug for BackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY and size: the redactor's matcher holds every secret; show a summary.
        f.debug_struct("BackendConfig")
            .field("addr", &self.addr)
            .field("shutdown_delay", &self.shutdown_delay)
            .field("env", &self.env)
            .field("config_env", &self.config.snapshot().env())
            .field("agent_url", &self.agent_url)
            .field("agent_timeout", &self.agent_timeout)
            .field("metrics", &self.metrics.is_some())
            .finish_non_exhaustive()
    }
}

impl BackendConfig {
    /// Reads `BACKEND_ADDR`, `BACKEND_SHUTDOWN_DELAY_MS`, `BACKEND_CONFIG_DIR` and the tools configuration (registry,
    /// `.env*` files, process environment, secret files), including `AGENT_URL`,
    /// `AGENT_TIMEOUT_MS` and `AUTH_JWT_SECRET`.
    ///
    /// # Errors
    ///
    /// An unusable address, shutdown delay or configuration, a disabled critical tool (`auth`: a missing or
    /// short `AUTH_JWT_SECRET`), or the development secret with `APP_ENV=production`.
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
    pub fn load(env: Env, redactor: Redactor) -> Result<Self, StartError> {
        let addr = socket_addr(&env, ADDR_VAR, DEFAULT_ADDR)?;
        let shutdown_delay = shutdown_delay(&env, SHUTDOWN_DELAY_VAR)?;
        let dir = env
            .get(CONFIG_DIR_VAR)
            .filter(|dir| !dir.is_empty())
            .map_or_else(default_config_dir, PathBuf::from);
        let config = start_config(&env, &dir, &redactor)?;
        // SECURITY: the public development secret is refused outside development and test by
        // the loader itself (reason DEVELOPMENT_VALUE, critical tool `auth` disabled), so
        // `stanchion config check` fails on it with the same reason.
        let snapshot = config.snapshot();
        let (agent_url, agent_timeout) = agent_settings(&snapshot);
        Ok(Self {
            addr,
            shutdown_delay,
            env,
            config,
            redactor,
            agent_url,
            agent_timeout,
            metrics: None,
        })
    }

    /// Use the agent at `url` (`http://host:port`) instead of `AGENT_URL` or an in-process
    /// agent. An unusable URL makes [`serve`](crate::serve) fail with `InvalidInput`.
    #[must_use]
    pub fn with_agent_url(mut self, url: impl Into<String>) -> Self {
        self.agent_url = Some(url.into());
        self
    }

    /// Give up on an agent call after `timeout` (instead of `AGENT_TIMEOUT_MS`).
    #[must_use]
    pub fn with_agent_timeout(mut self, timeout: Duration) -> Self {
        self.agent_timeout = timeout;
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

    /// Listen on `addr` instead (`127.0.0.1:0` for a free loopback port).
    #[must_use]
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Keep accepting for `delay` after the shutdown signal, with `/readyz` failing, before
    /// the listener closes (instead of `BACKEND_SHUTDOWN_DELAY_MS`; zero closes it at once).
    #[must_use]
    pub fn with_shutdown_delay(mut self, delay: Duration) -> Self {
        self.shutdown_delay = delay;
        self
    }

    /// How long the backend keeps accepting, with readiness failing, after the shutdown
    /// signal ([`stanchion::Server::with_shutdown_delay`]).
    pub fn shutdown_delay(&self) -> Duration {
        self.shutdown_delay
    }

    /// Where the binary (and [`spawn_on_thread`](crate::spawn_on_thread)) listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The agent's base URL; `None`: [`serve`](crate::serve) starts an in-process agent.
    pub fn agent_url(&self) -> Option<&str> {
        self.agent_url.as_deref()
    }

    /// How long one agent call may take.
    pub fn agent_timeout(&self) -> Duration {
        self.agent_timeout
    }

    /// The configuration service.
    pub fn config(&self) -> &Arc<ConfigService> {
        &self.config
    }

    /// The redactor every secret of the configuration is registered with (a clone sharing the
    /// registrations); the backend's log writer must use it.
    pub fn redactor(&self) -> Redactor {
        self.redactor.clone()
    }

    /// Where the settings came from (the in-process agent reads the same environment).
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The HS256 secret, when the `auth` tool is enabled (always, after a successful load).
    pub(crate) fn jwt_secret(&self) -> Option<Vec<u8>> {
        let snapshot = self.config.snapshot();
        snapshot
            .is_enabled(AUTH_TOOL)
            .then(|| snapshot.secret(JWT_SECRET_VAR))
            .flatten()
            .map(|secret| secret.expose_secret().as_bytes().to_vec())
    }

    /// Signs a token with the configured secret (what `backend mint-token` prints).
    ///
    /// # Errors
    ///
    /// When signing fails.
    pub fn mint_token(
        &self,
        sub: &str,
        ttl_secs: i64,
        plan: Option<&str>,
    ) -> Result<String, crate::MintError> {
        let secret = self.jwt_secret().unwrap_or_default();
        crate::auth::mint_token_with_plan(&secret, sub, ttl_secs, plan)
    }
}

fn agent_settings(snapshot: &Snapshot) -> (Option<String>, Duration) {
    if !snapshot.is_enabled(CHAT_TOOL) {
        return (None, DEFAULT_AGENT_TIMEOUT);
    }
    let url = snapshot
        .value(AGENT_URL_VAR)
        .filter(|url| !url.is_empty())
        .map(str::to_owned);
    let timeout = snapshot
        .value(AGENT_TIMEOUT_VAR)
        .and_then(|ms| ms.parse().ok())
        .map_or(DEFAULT_AGENT_TIMEOUT, Duration::from_millis);
    (url, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_development_and_test_files_hold_the_development_secret() {
        let line = format!("{JWT_SECRET_VAR}={DEVELOPMENT_JWT_SECRET}\n");
        for file in [".env.development", ".env.test"] {
            let text = std::fs::read_to_string(default_config_dir().join(file)).expect(file);
            assert!(text.contains(&line), "{file}");
        }
        let shared = std::fs::read_to_string(default_config_dir().join(".env")).expect(".env");
        assert!(
            !shared.contains(DEVELOPMENT_JWT_SECRET),
            "read in every environment"
        );
        let config = BackendConfig::from_vars([(ADDR_VAR, "127.0.0.1:0")]).expect("loads");
        assert_eq!(
            config.jwt_secret().as_deref(),
            Some(DEVELOPMENT_JWT_SECRET.as_bytes())
        );
        assert_eq!(config.agent_url(), None);
        assert_eq!(config.agent_timeout(), Duration::from_secs(10));
        let redacted = config
            .redactor()
            .redact(DEVELOPMENT_JWT_SECRET)
            .into_owned();
        assert!(!redacted.contains("dev-only-jwt"), "{redacted}");
    }

    #[test]
    fn production_refuses_the_development_secret() {
        let error = BackendConfig::from_vars([
            ("APP_ENV", "production"),
            (JWT_SECRET_VAR, DEVELOPMENT_JWT_SECRET),
        ])
        .expect_err("refused in prod");
        let message = error.to_string();
        assert!(message.contains("critical tool `auth`"), "{message}");
        assert!(message.contains("DEVELOPMENT_VALUE"), "{message}");
        assert!(message.contains(".env.development"), "{message}");
        assert!(!message.contains(DEVELOPMENT_JWT_SECRET));
        let real = "a-production-secret-from-the-vault-0123456789";
        let config = BackendConfig::from_vars([("APP_ENV", "production"), (JWT_SECRET_VAR, real)])
            .expect("a real secret starts");
        assert_eq!(config.jwt_secret().as_deref(), Some(real.as_bytes()));
    }

    #[test]
    fn production_without_a_secret_names_the_variable() {
        let error =
            BackendConfig::from_vars([("APP_ENV", "production")]).expect_err("no secret in prod");
        let message = error.to_string();
        assert!(message.contains("critical tool `auth`"), "{message}");
        assert!(message.contains(JWT_SECRET_VAR), "{message}");
    }

    #[test]
    fn production_starts_with_the_secret_in_a_file_as_the_docs_say() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("AUTH_JWT_SECRET");
        let real = "a-production-secret-mounted-as-a-file-0123456789";
        std::fs::write(&path, format!("{real}\n")).expect("write");
        let file_var = format!("{JWT_SECRET_VAR}_FILE");
        for env in ["staging", "production"] {
            let config = BackendConfig::from_vars([
                ("APP_ENV", env),
                (file_var.as_str(), path.to_str().expect("utf-8")),
            ])
            .unwrap_or_else(|error| panic!("{env} starts following the docs: {error}"));
            assert_eq!(config.jwt_secret().as_deref(), Some(real.as_bytes()));
        }
    }

    #[test]
    fn a_short_secret_disables_auth_and_stops_the_start() {
        let error =
            BackendConfig::from_vars([(JWT_SECRET_VAR, "tiny-s3cr3t")]).expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("critical tool `auth`"), "{message}");
        assert!(!message.contains("tiny-s3cr3t"), "{message}");
    }

    #[test]
    fn the_shutdown_delay_has_a_default_accepts_zero_and_names_a_bad_value() {
        let config = BackendConfig::from_vars([(ADDR_VAR, "127.0.0.1:0")]).expect("loads");
        assert_eq!(
            config.shutdown_delay(),
            example_agent::DEFAULT_SHUTDOWN_DELAY
        );
        let config = BackendConfig::from_vars([(SHUTDOWN_DELAY_VAR, "0")]).expect("loads");
        assert_eq!(config.shutdown_delay(), Duration::ZERO);
        // The agent's variable is the agent's: it does not move the backend's delay.
        let config =
            BackendConfig::from_vars([(example_agent::SHUTDOWN_DELAY_VAR, "0")]).expect("loads");
        assert_eq!(
            config.shutdown_delay(),
            example_agent::DEFAULT_SHUTDOWN_DELAY
        );
        let error = BackendConfig::from_vars([(SHUTDOWN_DELAY_VAR, "soon")]).expect_err("bad");
        assert!(
            error.to_string().starts_with("BACKEND_SHUTDOWN_DELAY_MS: "),
            "{error}"
        );
    }

    #[test]
    fn agent_settings_come_from_the_chat_tool() {
        let config = BackendConfig::from_vars([
            (AGENT_URL_VAR, "http://127.0.0.1:9"),
            (AGENT_TIMEOUT_VAR, "250"),
        ])
        .expect("loads");
        assert_eq!(config.agent_url(), Some("http://127.0.0.1:9"));
        assert_eq!(config.agent_timeout(), Duration::from_millis(250));
        let config = config
            .with_agent_url("http://127.0.0.1:10")
            .with_agent_timeout(Duration::from_secs(1));
        assert_eq!(config.agent_url(), Some("http://127.0.0.1:10"));

        // An invalid URL disables chat (it is listed with its reason) instead of silently
        // starting an in-process agent.
        let config = BackendConfig::from_vars([(AGENT_URL_VAR, "ftp://agent")]).expect("loads");
        assert!(!config.config().snapshot().is_enabled(CHAT_TOOL));
        assert_eq!(config.agent_url(), None);
    }
}
