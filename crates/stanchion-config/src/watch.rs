//! Refresh on file change (feature `watch`).
//!
//! Directories are watched, not files: Kubernetes swaps a mounted secret by renaming a
//! `..data` symlink inside the mount directory, and a watch on the old file would only see it
//! disappear. One background thread (no async runtime) debounces events and calls
//! [`ConfigService::refresh`].

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{Arc, mpsc},
    thread,
    time::Duration,
};

use notify::{
    EventKind, RecommendedWatcher, RecursiveMode, Watcher,
    event::{AccessKind, AccessMode, MetadataKind, ModifyKind},
};

use crate::{Origin, service::ConfigService};

/// Events closer together than this trigger one refresh (an editor's save or an atomic swap
/// is several events).
const DEBOUNCE: Duration = Duration::from_millis(100);

/// Keeps the watcher alive; dropping it stops watching.
#[derive(Debug)]
pub struct WatchHandle {
    _watcher: RecommendedWatcher,
    watched: Vec<PathBuf>,
}

impl WatchHandle {
    /// The directories being watched.
    pub fn watched(&self) -> &[PathBuf] {
        &self.watched
    }
}

/// The watcher could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {}: {source}", path.display())]
pub struct WatchError {
    path: PathBuf,
    #[source]
    source: notify::Error,
}

impl WatchError {
    /// The directory that could not be watched.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

struct Interest {
    dotenv_dir: PathBuf,
    any_file_dirs: BTreeSet<PathBuf>,
    registry_file: Option<PathBuf>,
}

impl Interest {
    fn wants(&self, path: &Path) -> bool {
        let parent = path.parent().unwrap_or(Path::new(""));
        if self.any_file_dirs.contains(parent) || self.registry_file.as_deref() == Some(path) {
            return true;
        }
        parent == self.dotenv_dir
            && path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(".env"))
    }
}

fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Any | EventKind::Other => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(_) => false,
    }
}

impl ConfigService {
    /// Watch the dotenv directory, the secrets directory, the registry file's directory and
    /// the directories of `NAME_FILE` targets; refresh after each burst of changes.
    ///
    /// Directories that do not exist are skipped. The background thread holds only a weak
    /// reference: it ends when the handle or the service is dropped.
    ///
    /// # Errors
    ///
    /// The platform watcher cannot be created or a directory cannot be watched.
    pub fn watch(&self) -> Result<WatchHandle, WatchError> {
        let loader = self.loader();
        let dotenv_dir = loader.dir().to_owned();
        let mut any_file_dirs = BTreeSet::new();
        if let Some(dir) = loader.secrets_dir() {
            any_file_dirs.insert(dir.to_owned());
        }
        for variable in self.snapshot().variables() {
            for candidate in variable.chain() {
                if let Origin::FileIndirection { path, .. } = candidate.origin()
                    && let Some(parent) = path.parent()
                {
                    any_file_dirs.insert(parent.to_owned());
                }
            }
        }
        let registry_file = loader.registry_file().map(Path::to_owned);
        let mut dirs: BTreeSet<PathBuf> = any_file_dirs.clone();
        dirs.insert(dotenv_dir.clone());
        if let Some(parent) = registry_file.as_deref().and_then(Path::parent) {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            dirs.insert(parent.to_owned());
        }
        let interest = Interest {
            dotenv_dir,
            any_file_dirs,
            registry_file,
        };
        let (sender, receiver) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(sender).map_err(|source| WatchError {
            path: PathBuf::new(),
            source,
        })?;
        let mut watched = Vec::new();
        for dir in dirs.into_iter().filter(|dir| dir.is_dir()) {
            watcher
                .watch(&dir, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError {
                    path: dir.clone(),
                    source,
                })?;
            watched.push(dir);
        }
        let service = Arc::downgrade(&self.inner);
        let relevant = move |event: notify::Result<notify::Event>| match event {
            Ok(event) => is_change(&event.kind) && event.paths.iter().any(|p| interest.wants(p)),
            // A watcher error (e.g. queue overflow) may hide a change: refresh to be safe.
            Err(_) => true,
        };
        thread::Builder::new()
            .name("stanchion-config-watch".to_owned())
            .spawn(move || {
                while let Ok(first) = receiver.recv() {
                    let mut wanted = relevant(first);
                    loop {
                        match receiver.recv_timeout(DEBOUNCE) {
                            Ok(event) => wanted |= relevant(event),
                            Err(mpsc::RecvTimeoutError::Timeout) => break,
                            Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    if !wanted {
                        continue;
                    }
                    let Some(inner) = service.upgrade() else {
                        return;
                    };
                    let service = ConfigService { inner };
                    // Failures are logged, counted and keep the last good snapshot.
                    let _outcome = service.refresh();
                }
            })
            .map_err(|error| WatchError {
                path: PathBuf::new(),
                source: notify::Error::io(error),
            })?;
        Ok(WatchHandle {
            _watcher: watcher,
            watched,
        })
    }
}
