//! SIGHUP refreshes the configuration: the operator's way to pull the rollout lever now, without
//! waiting for the file watcher and without a restart.

use std::{io, sync::Arc};

use stanchion_config::ConfigService;

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
