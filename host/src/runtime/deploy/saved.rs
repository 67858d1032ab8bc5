//! Deployments outlive a restart: a version deployed over the manifest's
//! file is saved under the data directory and served again at start, unless
//! the file has changed since (then the newer file wins).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::manifest::ComponentSpec;
use crate::runtime::compile_cache::content_hash;
use crate::runtime::loader::short;

/// The saved deployments, one `.wasm` and one record per component.
#[derive(Clone, Debug)]
pub(crate) struct SavedDeployments {
    dir: PathBuf,
}

/// Which version was deployed, and over which version of the file.
#[derive(Serialize, Deserialize)]
struct Record {
    version: String,
    file_version: String,
}

impl SavedDeployments {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The saved deployment of `spec`, when the file it was deployed over is
    /// still the one the manifest points at; forgets it otherwise.
    pub(crate) fn take_over(&self, spec: &ComponentSpec) -> Result<Option<Bytes>> {
        let Some(record) = self.read_record(&spec.name)? else {
            return Ok(None);
        };
        let wasm = std::fs::read(self.wasm_path(&spec.name))
            .with_context(|| format!("reading the saved deployment of {}", spec.name))?;
        let file_version = file_version(&spec.source);
        if file_version.as_deref() != Some(&record.file_version)
            || content_hash(&wasm) != record.version
        {
            tracing::info!(
                component = %spec.name,
                "{} changed since version {} was deployed over it: serving the file",
                spec.source.display(),
                short(&record.version)
            );
            self.forget(&spec.name);
            return Ok(None);
        }
        tracing::info!(
            component = %spec.name,
            "serving deployed version {} (over file version {})",
            short(&record.version),
            short(&record.file_version)
        );
        Ok(Some(wasm.into()))
    }

    /// Saves `wasm` (of `version`) as the deployed version of `spec`, or
    /// forgets the saved one when it is the file's own version. A failure is
    /// logged: the swap itself has happened.
    pub(crate) fn record(&self, spec: &ComponentSpec, version: &str, wasm: &[u8]) {
        let Some(file_version) = file_version(&spec.source) else {
            return self.forget(&spec.name);
        };
        if file_version == version {
            return self.forget(&spec.name);
        }
        let record = Record {
            version: version.to_owned(),
            file_version,
        };
        if let Err(e) = self.write(&spec.name, wasm, &record) {
            tracing::warn!(
                component = %spec.name,
                "deployed, but it will not survive a restart: {e:#}"
            );
        }
    }

    /// Drops the saved deployment of component `name`, if any.
    pub(crate) fn forget(&self, name: &str) {
        for path in [self.record_path(name), self.wasm_path(name)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
            }
        }
    }

    fn read_record(&self, name: &str) -> Result<Option<Record>> {
        let path = self.record_path(name);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let record =
            serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(Some(record))
    }

    fn write(&self, name: &str, wasm: &[u8], record: &Record) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        write_atomically(&self.wasm_path(name), wasm)?;
        write_atomically(&self.record_path(name), &serde_json::to_vec(record)?)
    }

    fn wasm_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.wasm"))
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }
}

/// The content hash of the file at `path`, if it can be read.
fn file_version(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|wasm| content_hash(&wasm))
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes)
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component whose file holds "file version", with "deployed" saved
    /// as its deployment.
    struct Fixture {
        dir: tempfile::TempDir,
        spec: ComponentSpec,
        saved: SavedDeployments,
    }

    fn deployed_over_file() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let manifest = format!(
            "[[component]]\nname = \"users\"\nsource = {:?}\nroutes = [\"/users\"]\n",
            dir.path().join("users.wasm").display().to_string()
        );
        let path = dir.path().join("summer.toml");
        std::fs::write(&path, manifest).unwrap();
        let spec = crate::manifest::Manifest::load(&path).unwrap().components[0].clone();
        std::fs::write(&spec.source, b"file version").unwrap();
        let saved = SavedDeployments::new(dir.path().join("deployments"));
        saved.record(&spec, &content_hash(b"deployed"), b"deployed");
        Fixture { dir, spec, saved }
    }

    #[test]
    fn a_deployment_is_served_again_while_the_file_is_unchanged() {
        let Fixture {
            dir: _dir,
            spec,
            saved,
        } = deployed_over_file();
        for _ in 0..2 {
            let again = saved.take_over(&spec).unwrap();
            assert_eq!(again.as_deref(), Some(&b"deployed"[..]));
        }
    }

    #[test]
    fn a_file_changed_since_the_deployment_wins_and_the_deployment_is_dropped() {
        let Fixture {
            dir: _dir,
            spec,
            saved,
        } = deployed_over_file();
        std::fs::write(&spec.source, b"rebuilt").unwrap();
        assert!(saved.take_over(&spec).unwrap().is_none());
        std::fs::write(&spec.source, b"file version").unwrap();
        assert!(saved.take_over(&spec).unwrap().is_none(), "not forgotten");
    }

    #[test]
    fn deploying_the_files_own_version_saves_nothing() {
        let Fixture { dir, spec, saved } = deployed_over_file();
        saved.record(&spec, &content_hash(b"file version"), b"file version");
        assert!(saved.take_over(&spec).unwrap().is_none());
        assert!(!dir.path().join("deployments/users.wasm").exists());
    }

    #[test]
    fn a_saved_wasm_that_does_not_match_its_record_is_not_served() {
        let Fixture { dir, spec, saved } = deployed_over_file();
        std::fs::write(dir.path().join("deployments/users.wasm"), b"tampered").unwrap();
        assert!(saved.take_over(&spec).unwrap().is_none());
    }
}
