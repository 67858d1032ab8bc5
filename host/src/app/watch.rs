//! Watches the manifest and every component's `.wasm`: a changed component
//! file is swapped in (and announced to the fleet), a changed manifest
//! reloaded. Bursts of events are settled before acting, so a file being
//! written is read once it is complete.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::App;

/// How long a watched file must stay quiet before its change is acted on.
const SETTLE: Duration = Duration::from_millis(50);

/// Starts watching for the life of the process; every file is watched
/// when this returns.
pub async fn spawn(app: Arc<App>) -> Result<()> {
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
    /// Watches the directories of the manifest and of every component file.
    async fn cover(&mut self, app: &App, manifest_path: &Path) {
        let manifest = app.deployer().manifest().await;
        let files = std::iter::once(manifest_path.to_owned())
            .chain(manifest.components.iter().map(|c| absolute(&c.source)));
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
    while let Some(first) = received.recv().await {
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
        if changed.contains(&manifest_path) {
            match app.reload_manifest().await {
                Ok(_) => watching.cover(&app, &manifest_path).await,
                Err(e) => tracing::error!("{e}"),
            }
        }
        for name in components_at(&app, &changed).await {
            match app.deploy_file(&name).await {
                Ok(_) => {}
                Err(e) => tracing::error!(component = %name, "kept the serving version: {e}"),
            }
        }
    }
}

/// The manifest and every component's file.
async fn watched_files(app: &App, manifest_path: &Path) -> BTreeSet<PathBuf> {
    let manifest = app.deployer().manifest().await;
    let sources = manifest.components.iter().map(|c| absolute(&c.source));
    sources.chain([manifest_path.to_owned()]).collect()
}

/// The components whose files are among `changed`.
async fn components_at(app: &App, changed: &BTreeSet<PathBuf>) -> Vec<String> {
    let manifest = app.deployer().manifest().await;
    manifest
        .components
        .iter()
        .filter(|c| changed.contains(&absolute(&c.source)))
        .map(|c| c.name.clone())
        .collect()
}

/// `path` made absolute against the working directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
