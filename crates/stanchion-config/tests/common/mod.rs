//! Helpers shared by the integration tests: real files in a temporary directory.

#![allow(dead_code)] // Each test binary uses a different subset of the helpers.

use std::path::{Path, PathBuf};

use stanchion_config::{ConfigLoader, Registry};

/// A temporary directory holding dotenv files, secret files and a registry.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Write `content` to `relative`, creating parent directories.
    pub(crate) fn write(&self, relative: &str, content: &str) -> PathBuf {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, content).expect("write file");
        path
    }

    pub(crate) fn remove(&self, relative: &str) {
        std::fs::remove_file(self.path(relative)).expect("remove file");
    }

    /// A loader over this directory with an injected, otherwise empty process environment.
    pub(crate) fn loader(&self, registry: &str, env: &[(&str, &str)]) -> ConfigLoader {
        ConfigLoader::new(Registry::from_toml_str(registry).expect("registry"))
            .with_dir(self.root())
            .with_process_env(env.iter().map(|(k, v)| (*k, *v)))
    }
}
