//! Keeping a service's configuration fresh without a restart: the file watcher, and SIGHUP, the
//! operator's way to pull the rollout lever now.

use std::{io, sync::Arc};

use stanchion_config::{ConfigService, WatchHandle};

/// The tracing target of the reload events.
pub const RELOAD_TARGET: &str = "stanchion::reload";

/// Spawns a task on the current runtime that refreshes `config` on every SIGHUP, until the
/// runtime stops or the returned handle is aborted. The refresh runs on the blocking pool (it
/// reads files); its outcome is logged by the configuration service (`configuration
/// refreshed` with any `rollout mode switched`, or `configuration refresh failed; keeping the
/// last good snapshot`) under the refresh ID. On platforms without SIGHUP it does nothing.
///
/// The handler is installed before this returns, so a SIGHUP sent once the service logged its
/// start is never lost, and it replaces the default action (which ends the process).
///
/// # Errors
///
/// When the signal handler cannot be installed.
pub fn refresh_on_hangup(config: Arc<ConfigService>) -> io::Result<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = signal(SignalKind::hangup())?;
        Ok(tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!(target: RELOAD_TARGET, signal = "SIGHUP", "refreshing the configuration");
                let config = Arc::clone(&config);
                // The outcome is logged and counted by the service itself.
                let _outcome =
                    tokio::task::spawn_blocking(move || config.refresh().map(drop)).await;
            }
        }))
    }
    #[cfg(not(unix))]
    {
        drop(config);
        Ok(tokio::spawn(async {}))
    }
}

/// The configuration refreshed on every change of its files (the watcher) and on every SIGHUP,
/// for as long as this value lives: what a service starts once, beside its server. Dropping it
/// stops both.
///
/// A directory that cannot be watched is logged (WARN, [`RELOAD_TARGET`]) and leaves SIGHUP as
/// the only trigger, rather than stopping the start: the service still runs, and refreshes on
/// demand.
#[derive(Debug)]
#[must_use = "dropping it stops the refreshes"]
pub struct ConfigRefresh {
    hangup: tokio::task::JoinHandle<()>,
    watch: Option<WatchHandle>,
}

impl ConfigRefresh {
    /// Starts the watcher and the SIGHUP task (on the current tokio runtime).
    ///
    /// # Errors
    ///
    /// When the signal handler cannot be installed.
    pub fn start(config: impl Into<ConfigService>) -> io::Result<Self> {
        let config = config.into();
        let watch = match config.watch() {
            Ok(watch) => Some(watch),
            Err(error) => {
                tracing::warn!(target: RELOAD_TARGET, error = %error,
                    "configuration changes will need a SIGHUP");
                None
            }
        };
        let hangup = refresh_on_hangup(Arc::new(config))?;
        Ok(Self { hangup, watch })
    }

    /// Whether the file watcher runs (false: only SIGHUP refreshes).
    pub fn is_watching(&self) -> bool {
        self.watch.is_some()
    }
}

impl Drop for ConfigRefresh {
    fn drop(&mut self) {
        self.hangup.abort();
    }
}
