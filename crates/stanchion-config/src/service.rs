//! The long-lived service: a snapshot readers load without blocking, refreshed on demand.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;

use crate::{
    load::{ConfigLoader, LoadError},
    snapshot::{Flip, RefreshId, Snapshot},
};

/// Holds the current [`Snapshot`] and refreshes it.
///
/// Readers call [`snapshot`](Self::snapshot): an `ArcSwap` load, no lock, never blocked by a
/// refresh. A refresh that fails keeps the last good snapshot and counts the failure.
#[derive(Debug)]
pub struct ConfigService {
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
        Ok(Self {
            loader,
            current: ArcSwap::from_pointee(first),
            refresh_lock: Mutex::new(()),
            failures: AtomicU64::new(0),
            last_successful: AtomicBool::new(true),
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
        crate::telemetry::record_snapshot(&self.current.load());
        crate::telemetry::record_refresh_state(
            self.last_successful.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
        );
    }

    /// The current snapshot (lock-free), to keep as long as needed.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// A short-lived view of the current snapshot for one quick read (`is_enabled`, a value):
    /// lock-free and, unlike [`snapshot`](Self::snapshot), usually without touching the
    /// reference count. Hold it briefly: many live views make later reads slower.
    pub fn current(&self) -> SnapshotRef {
        SnapshotRef(self.current.load())
    }

    /// The loader this service refreshes with.
    pub fn loader(&self) -> &ConfigLoader {
        &self.loader
    }

    /// How many refreshes failed since start.
    pub fn refresh_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Reload every source now. On success the new snapshot replaces the old one and the
    /// report lists the tools that flipped; on failure the old snapshot stays.
    ///
    /// # Errors
    ///
    /// The load error, with the refresh ID and the snapshot kept.
    pub fn refresh(&self) -> Result<RefreshReport, RefreshError> {
        let _serial = self
            .refresh_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let id = self.loader.next_id();
        let span = tracing::info_span!(target: "stanchion_config", "stanchion_config.refresh", refresh_id = %id);
        let _entered = span.enter();
        let started = Instant::now();
        let result = self.loader.load_as(id);
        let duration = started.elapsed();
        metrics::histogram!(crate::metric_names::REFRESH_DURATION_SECONDS)
            .record(duration.as_secs_f64());
        let duration_ms = duration.as_secs_f64() * 1000.0;
        match result {
            Ok(snapshot) => {
                let flipped = self.current.load().flipped(&snapshot);
                self.current.store(Arc::new(snapshot));
                self.last_successful.store(true, Ordering::Relaxed);
                crate::telemetry::record_refresh_state(true, self.failures.load(Ordering::Relaxed));
                for flip in &flipped {
                    tracing::info!(target: "stanchion_config", refresh_id = %id, tool = %flip.slug,
                        enabled = flip.enabled, "tool flipped");
                }
                tracing::info!(target: "stanchion_config", refresh_id = %id, duration_ms,
                    flipped = flipped.len(), "configuration refreshed");
                Ok(RefreshReport {
                    id,
                    duration,
                    flipped,
                })
            }
            Err(error) => {
                let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
                self.last_successful.store(false, Ordering::Relaxed);
                crate::telemetry::record_refresh_state(false, failures);
                let kept = self.current.load().refresh_id();
                tracing::error!(target: "stanchion_config", refresh_id = %id, duration_ms,
                    kept = %kept, kind = error.kind(), error = %error,
                    "configuration refresh failed; keeping the last good snapshot");
                Err(RefreshError { id, kept, error })
            }
        }
    }
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
