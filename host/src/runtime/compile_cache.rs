//! The on-disk cache of compiled components, keyed by the content hash of
//! the `.wasm` and the engine's compatibility hash, so a restart does not
//! recompile unchanged components.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Whether a load found the compiled artifact already on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheOutcome {
    Hit,
    Compiled,
}

/// The content hash that names a component version.
pub(crate) fn content_hash(wasm: &[u8]) -> String {
    format!("{:x}", Sha256::digest(wasm))
}

/// Compiled components on disk.
#[derive(Clone, Debug)]
pub(crate) struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Returns the compiled component for `wasm`, from disk when present.
    pub(crate) fn load(&self, engine: &Engine, wasm: &[u8]) -> Result<(Component, CacheOutcome)> {
        let path = self.entry_path(engine, wasm);
        if let Some(component) = self.read(engine, &path) {
            return Ok((component, CacheOutcome::Hit));
        }
        let component = Component::new(engine, wasm)?;
        if let Err(e) = self.write(&component, &path) {
            tracing::warn!(
                "could not cache compiled component at {}: {e:#}",
                path.display()
            );
        }
        Ok((component, CacheOutcome::Compiled))
    }

    fn entry_path(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hasher.finish();
        self.dir
            .join(format!("{}-{engine_hash:016x}.cwasm", content_hash(wasm)))
    }

    fn read(&self, engine: &Engine, path: &Path) -> Option<Component> {
        if !path.exists() {
            return None;
        }
        // SAFETY: files in this directory are written only by `write` below,
        // from `Component::serialize` of this same engine configuration (the
        // file name carries the engine's compatibility hash), and wasmtime
        // still checks the header's version and settings on load.
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!("ignoring unreadable cache entry {}: {e:#}", path.display());
                None
            }
        }
    }

    fn write(&self, component: &Component, path: &Path) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let bytes = component.serialize()?;
        let temp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&temp, bytes).context("writing compiled component")?;
        std::fs::rename(&temp, path).context("moving compiled component into place")?;
        Ok(())
    }
}
