//! Watches the manifest and every component's `.wasm`: a changed component
//! file is swapped in (and announced to the fleet), a changed manifest
//! reloaded. A manifest whose reload was refused because a component it
//! adds was not built yet is reloaded once that `.wasm` appears. Bursts of
//! events are settled before acting, so a file being written is read once
//! it is complete.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::App;

/// How long a watched file must stay quiet before its change is acted on.
const SETTLE: Duration = Duration::from_millis(50);
/// How often the files a refused manifest waits for are looked for.
const PENDING_POLL: Duration = Duration::from_secs(1);

/// Starts watching for the life of the process; every file is watched
/// when this returns.
pub(super) async fn spawn(app: Arc<App>) -> Result<()> {
    let (changes, received) = mpsc::unbounded_channel();
    let watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if !matches!(event.kind, EventKind::Access(_)) => {
                for path in event.paths {
                    let _ = changes.send(path);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("file watch error: {e}"),
        })?;
    let mut watching = Watching {
        watcher,
        dirs: BTreeSet::new(),
    };
    let manifest_path = absolute(app.deployer().manifest_path());
    watching.cover(&app, &manifest_path).await;
    tokio::spawn(watch_loop(app, watching, manifest_path, received));
    Ok(())
}

/// The directories being watched.
struct Watching {
    watcher: notify::RecommendedWatcher,
    dirs: BTreeSet<PathBuf>,
}

impl Watching {
    /// Watches the directories of the manifest and of every component file,
    /// loaded or only named by the manifest on disk.
    async fn cover(&mut self, app: &App, manifest_path: &Path) {
        let files = watched_files(app, manifest_path).await;
        for file in files {
            let Some(dir) = file.parent().map(Path::to_owned) else {
                continue;
            };
            if self.dirs.contains(&dir) {
                continue;
            }
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    tracing::debug!("watching {}", dir.display());
                    self.dirs.insert(dir);
                }
                Err(e) => tracing::warn!("cannot watch {}: {e}", dir.display()),
            }
        }
    }
}

async fn watch_loop(
    app: Arc<App>,
    mut watching: Watching,
    manifest_path: PathBuf,
    mut received: mpsc::UnboundedReceiver<PathBuf>,
) {
    let mut tried = BTreeSet::new();
    // Whether the last reload was refused: only then may the manifest on
    // disk name files the host has not loaded.
    let mut refused = false;
    loop {
        let first = tokio::select! {
            path = received.recv() => match path {
                Some(path) => path,
                None => return,
            },
            // A folder that did not exist cannot be watched: look for the
            // files a refused manifest waits for now and then.
            () = tokio::time::sleep(PENDING_POLL), if refused => {
                let pending = not_yet_loaded(&app, &manifest_path).await;
                let found: BTreeSet<(PathBuf, SystemTime)> =
                    pending.into_iter().filter_map(modified).collect();
                // Each version of a file is tried once, not every poll.
                if !found.is_subset(&tried) {
                    tried.extend(found);
                    refused = !reload(&app, &mut watching, &manifest_path).await;
                }
                continue;
            }
        };
        let watched = watched_files(&app, &manifest_path).await;
        if !watched.contains(&first) {
            continue;
        }
        let mut changed = BTreeSet::from([first]);
        let mut quiet_from = tokio::time::Instant::now() + SETTLE;
        while let Ok(Some(path)) = tokio::time::timeout_at(quiet_from, received.recv()).await {
            if watched.contains(&path) {
                changed.insert(path);
                quiet_from = tokio::time::Instant::now() + SETTLE;
            }
        }
        let pending = not_yet_loaded(&app, &manifest_path).await;
        if changed.contains(&manifest_path) || !changed.is_disjoint(&pending) {
            refused = !reload(&app, &mut watching, &manifest_path).await;
        }
        for name in components_at(&app, &changed).await {
            match app.deploy_file(&name).await {
                Ok(_) => {}
                Err(e) => tracing::error!(component = %name, "kept the serving version: {e}"),
            }
        }
    }
}

/// `file` with its modification time, if it exists.
fn modified(file: PathBuf) -> Option<(PathBuf, SystemTime)> {
    let time = std::fs::metadata(&file).and_then(|m| m.modified()).ok()?;
    Some((file, time))
}

/// Re-reads the manifest and watches what it names; false if the reload
/// was refused.
async fn reload(app: &App, watching: &mut Watching, manifest_path: &Path) -> bool {
    let reloaded = app.reload_manifest().await;
    if let Err(e) = &reloaded {
        tracing::error!("{e}");
    }
    watching.cover(app, manifest_path).await;
    reloaded.is_ok()
}

/// The manifest, every loaded component's file and the files of the
/// components the manifest on disk names but the host has not loaded.
async fn watched_files(app: &App, manifest_path: &Path) -> BTreeSet<PathBuf> {
    let manifest = app.deployer().manifest().await;
    let sources = on_disk_files(&manifest.components);
    let mut files: BTreeSet<PathBuf> = sources.chain([manifest_path.to_owned()]).collect();
    files.extend(not_yet_loaded(app, manifest_path).await);
    files
}

/// Component files the manifest on disk names and the host has not loaded
/// (its reload was refused, e.g. because one was not built yet).
async fn not_yet_loaded(app: &App, manifest_path: &Path) -> BTreeSet<PathBuf> {
    let Ok(on_disk) = crate::manifest::Manifest::load(manifest_path) else {
        return BTreeSet::new();
    };
    let loaded = app.deployer().manifest().await;
    let loaded: BTreeSet<PathBuf> = on_disk_files(&loaded.components).collect();
    on_disk_files(&on_disk.components)
        .filter(|source| !loaded.contains(source))
        .collect()
}

/// The components whose files are among `changed`.
async fn components_at(app: &App, changed: &BTreeSet<PathBuf>) -> Vec<String> {
    let manifest = app.deployer().manifest().await;
    manifest
        .components
        .iter()
        .filter(|c| c.registry.is_none() && changed.contains(&absolute(&c.source)))
        .map(|c| c.name.clone())
        .collect()
}

/// The files of the components that come from files (not registries).
fn on_disk_files(
    components: &[crate::manifest::ComponentSpec],
) -> impl Iterator<Item = PathBuf> + '_ {
    components
        .iter()
        .filter(|c| c.registry.is_none())
        .map(|c| absolute(&c.source))
}

/// `path` made absolute against the working directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
