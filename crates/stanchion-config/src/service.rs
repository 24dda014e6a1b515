//! The long-lived service: a snapshot readers load without blocking, refreshed on demand.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use stanchion_rollout::Gate;

use crate::{
    flags::{FlagValue, Switch, switches},
    load::{ConfigLoader, LoadError},
    snapshot::{Flip, RefreshId, Snapshot},
};

/// Holds the current [`Snapshot`] and refreshes it.
///
/// Readers call [`snapshot`](Self::snapshot): an `ArcSwap` load, no lock, never blocked by a
/// refresh. A refresh that fails keeps the last good snapshot and counts the failure. Cheap to
/// clone: every clone shares one current snapshot (pass it to routes, health checks, gates).
#[derive(Clone, Debug)]
pub struct ConfigService {
    pub(crate) inner: Arc<Shared>,
}

/// A service held in an `Arc` (as before it was `Clone`) is the same service.
impl From<Arc<ConfigService>> for ConfigService {
    fn from(service: Arc<ConfigService>) -> Self {
        Self::clone(&service)
    }
}

impl From<&Arc<ConfigService>> for ConfigService {
    fn from(service: &Arc<ConfigService>) -> Self {
        Self::clone(service)
    }
}

/// What every clone of a [`ConfigService`] shares.
#[derive(Debug)]
pub(crate) struct Shared {
    loader: ConfigLoader,
    current: ArcSwap<Snapshot>,
    /// Serializes refreshes (on demand and from the watcher); readers never take it.
    refresh_lock: Mutex<()>,
    failures: AtomicU64,
    last_successful: AtomicBool,
}

impl ConfigService {
    /// Load once; the service starts only from a good snapshot.
    ///
    /// # Errors
    ///
    /// The first load's error.
    pub fn start(loader: ConfigLoader) -> Result<Self, LoadError> {
        let first = loader.load()?;
        crate::telemetry::record_refresh_state(true, 0);
        for flag in first.flags() {
            tracing::info!(target: "stanchion_config", refresh_id = %first.refresh_id(),
                flag = flag.name(), mode = flag.mode().as_str(), source = %flag.source(),
                "rollout mode");
        }
        Ok(Self {
            inner: Arc::new(Shared {
                loader,
                current: ArcSwap::from_pointee(first),
                refresh_lock: Mutex::new(()),
                failures: AtomicU64::new(0),
                last_successful: AtomicBool::new(true),
            }),
        })
    }

    /// Records the current state again: the tool gauges of the current snapshot, whether the
    /// last refresh succeeded, and the refresh failures so far (as an absolute count).
    ///
    /// Loads record these when they happen, to whatever recorder is current then; a service
    /// that loads its configuration before it installs its metrics recorder (it should: the
    /// configuration decides what to serve) calls this once the recorder is in place, or on
    /// every scrape, so nothing recorded before is lost. Refresh durations are samples, not
    /// state: only those taken after the recorder is installed are counted.
    pub fn record_metrics(&self) {
        crate::telemetry::record_snapshot(&self.inner.current.load());
        crate::telemetry::record_refresh_state(
            self.inner.last_successful.load(Ordering::Relaxed),
            self.inner.failures.load(Ordering::Relaxed),
        );
    }

    /// The current snapshot (lock-free), to keep as long as needed.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.current.load_full()
    }

    /// A short-lived view of the current snapshot for one quick read (`is_enabled`, a value):
    /// lock-free and, unlike [`snapshot`](Self::snapshot), usually without touching the
    /// reference count. Hold it briefly: many live views make later reads slower.
    pub fn current(&self) -> SnapshotRef {
        SnapshotRef(self.inner.current.load())
    }

    /// A rollout gate for `flag` that reads the flag's mode from the current snapshot at every
    /// decision, so a refresh (SIGHUP, the file watcher) switches it without a restart.
    ///
    /// ```
    /// use stanchion_config::{ConfigLoader, ConfigService, Registry, RolloutMode};
    ///
    /// let registry = Registry::from_toml_str("[flags.AUTH_MODE]\ndefault = \"shadow\"\n")?;
    /// let service = ConfigService::start(
    ///     ConfigLoader::new(registry).with_process_env([("AUTH_MODE", "enforced")]),
    /// )?;
    /// let gate = service.gate("AUTH_MODE")?;
    /// assert_eq!(gate.mode(), RolloutMode::Enforced);
    /// assert!(service.gate("AUTH_MOD").is_err()); // a typo is an error, not a default
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The registry does not declare `flag` (a misspelt flag would otherwise never switch).
    pub fn gate(&self, flag: &'static str) -> Result<Gate, UnknownFlag> {
        let snapshot = self.inner.current.load();
        let default = snapshot
            .flags()
            .iter()
            .find(|value| value.name() == flag)
            .map(FlagValue::mode)
            .ok_or_else(|| UnknownFlag {
                flag,
                declared: snapshot
                    .flags()
                    .iter()
                    .map(|f| f.name().to_owned())
                    .collect(),
            })?;
        let service = self.clone();
        // Every snapshot of this service comes from the same registry, so the flag stays
        // declared; the fallback only covers a registry file edited to drop it, which a
        // refresh would then have to load (the last mode read stays in effect).
        Ok(Gate::new(flag, move || {
            service.inner.current.load().mode(flag).unwrap_or(default)
        }))
    }

    /// The loader this service refreshes with.
    pub fn loader(&self) -> &ConfigLoader {
        &self.inner.loader
    }

    /// Whether the last load or refresh succeeded (a failed one keeps the last good snapshot).
    pub fn last_refresh_successful(&self) -> bool {
        self.inner.last_successful.load(Ordering::Relaxed)
    }

    /// How many refreshes failed since start.
    pub fn refresh_failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Reload every source now. On success the new snapshot replaces the old one and the
    /// report lists the tools that flipped; on failure the old snapshot stays.
    ///
    /// # Errors
    ///
    /// The load error, with the refresh ID and the snapshot kept.
    pub fn refresh(&self) -> Result<RefreshReport, RefreshError> {
        let _serial = self
            .inner
            .refresh_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let id = self.inner.loader.next_id();
        let span = tracing::info_span!(target: "stanchion_config", "stanchion_config.refresh", refresh_id = %id);
        let _entered = span.enter();
        let started = Instant::now();
        let result = self.inner.loader.load_as(id);
        let duration = started.elapsed();
        metrics::histogram!(crate::metric_names::REFRESH_DURATION_SECONDS)
            .record(duration.as_secs_f64());
        let duration_ms = duration.as_secs_f64() * 1000.0;
        match result {
            Ok(snapshot) => {
                let (flipped, switches) = {
                    let before = self.inner.current.load();
                    (
                        before.flipped(&snapshot),
                        switches(before.flags(), snapshot.flags()),
                    )
                };
                self.inner.current.store(Arc::new(snapshot));
                self.inner.last_successful.store(true, Ordering::Relaxed);
                crate::telemetry::record_refresh_state(
                    true,
                    self.inner.failures.load(Ordering::Relaxed),
                );
                for flip in &flipped {
                    tracing::info!(target: "stanchion_config", refresh_id = %id, tool = %flip.slug,
                        enabled = flip.enabled, "tool flipped");
                }
                for switch in &switches {
                    // WARN: a switch is an operator pulling the lever; it must stand out.
                    tracing::warn!(target: "stanchion_config", refresh_id = %id,
                        flag = switch.flag.as_str(), from = switch.from.as_str(),
                        to = switch.to.as_str(), "rollout mode switched");
                    stanchion_rollout::metric_names::record_switch(
                        switch.flag.clone().into(),
                        switch.from,
                        switch.to,
                    );
                }
                tracing::info!(target: "stanchion_config", refresh_id = %id, duration_ms,
                    flipped = flipped.len(), switched = switches.len(), "configuration refreshed");
                Ok(RefreshReport {
                    id,
                    duration,
                    flipped,
                    switches,
                })
            }
            Err(error) => {
                let failures = self.inner.failures.fetch_add(1, Ordering::Relaxed) + 1;
                self.inner.last_successful.store(false, Ordering::Relaxed);
                crate::telemetry::record_refresh_state(false, failures);
                let kept = self.inner.current.load().refresh_id();
                tracing::error!(target: "stanchion_config", refresh_id = %id, duration_ms,
                    kept = %kept, kind = error.kind(), error = %error,
                    "configuration refresh failed; keeping the last good snapshot");
                Err(RefreshError { id, kept, error })
            }
        }
    }
}

/// [`ConfigService::gate`] for a flag the registry does not declare.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{flag} is not a rollout flag of this registry (declared: {})", declared.join(", "))]
pub struct UnknownFlag {
    flag: &'static str,
    declared: Vec<String>,
}

/// A short-lived view of the current snapshot; see [`ConfigService::current`].
pub struct SnapshotRef(arc_swap::Guard<Arc<Snapshot>>);

impl std::ops::Deref for SnapshotRef {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.0
    }
}

impl std::fmt::Debug for SnapshotRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self.0, f)
    }
}

/// What a successful refresh changed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RefreshReport {
    /// The refresh (its events carry the same ID).
    pub id: RefreshId,
    /// How long the load took.
    pub duration: Duration,
    /// The tools whose enabled state changed.
    pub flipped: Vec<Flip>,
    /// The rollout flags whose mode changed (each also logged as `rollout mode switched` and
    /// counted).
    pub switches: Vec<Switch>,
}

/// A failed refresh: the service still serves the snapshot `kept`.
#[derive(Debug, thiserror::Error)]
#[error("configuration refresh {id} failed, keeping snapshot {kept}: {error}")]
pub struct RefreshError {
    id: RefreshId,
    kept: RefreshId,
    #[source]
    error: LoadError,
}

impl RefreshError {
    /// The failed refresh.
    pub fn id(&self) -> RefreshId {
        self.id
    }

    /// The snapshot still served.
    pub fn kept(&self) -> RefreshId {
        self.kept
    }

    /// Why the load failed.
    pub fn error(&self) -> &LoadError {
        &self.error
    }
}
