//! Hot swap: the one path every new component version takes, whether it
//! came from a watched file, the admin API, a rollback, another host of the
//! fleet or a manifest reload. A swap compiles, checks and pre-instantiates
//! off the request path, prepares the component's databases, then switches
//! atomically; a version that fails any step is refused and the old one
//! keeps serving.

mod saved;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub(crate) use saved::SavedDeployments;

use super::compile_cache::content_hash;
use super::configure::{Configuration, configure, open_sources};
use super::databases::prepare_databases;
use super::loader::{LoadError, LoadedComponent, Loader, read_source, short};
use super::registry::{Registry, Routing};
use crate::capabilities::Backends;
use crate::capabilities::variables::{Sources, VariableError};
use crate::config::VariablePlaces;
use crate::manifest::read_openapi;
use crate::manifest::{ComponentSpec, Manifest};

/// How many earlier versions of each component stay loaded for rollbacks.
pub(crate) const KEPT_VERSIONS: usize = 4;

/// What asked for a swap (for logs and replies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// The `.wasm` the manifest points at changed.
    File,
    /// `PUT /_admin/components/{name}` (or `summer deploy`).
    Api,
    /// `summer rollback` or its API.
    Rollback,
    /// Another host of the fleet deployed it.
    Fleet,
}

impl Trigger {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Trigger::File => "file",
            Trigger::Api => "api",
            Trigger::Rollback => "rollback",
            Trigger::Fleet => "fleet",
        }
    }
}

/// Why a swap was refused; whatever was serving keeps serving.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeployError {
    #[error("no component named {0:?} in the manifest")]
    UnknownComponent(String),
    #[error(transparent)]
    Invalid(#[from] LoadError),
    #[error("component {component}: preparing its databases failed: {source:#}")]
    Databases {
        component: String,
        source: anyhow::Error,
    },
    #[error("component {0} has no earlier version to roll back to")]
    NoEarlierVersion(String),
    #[error("the manifest was not reloaded: {0:#}")]
    Manifest(anyhow::Error),
    /// `.env` or the secrets could not be read.
    #[error(transparent)]
    VariableSources(#[from] VariableError),
    #[error("component {component}: {source:#}")]
    Configuration {
        component: String,
        source: anyhow::Error,
    },
    #[error("component {component}: {source}")]
    Pull {
        component: String,
        source: crate::oci::OciError,
    },
}

/// A finished swap.
#[derive(Clone, Debug)]
pub(crate) struct Swap {
    pub(crate) component: String,
    pub(crate) version: String,
    pub(crate) previous: Option<String>,
    /// False when that version was already serving.
    pub(crate) changed: bool,
    pub(crate) took: Duration,
    pub(crate) trigger: Trigger,
}

/// What a manifest reload changed, by component name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reload {
    pub(crate) added: Vec<String>,
    pub(crate) removed: Vec<String>,
    pub(crate) reloaded: Vec<String>,
    pub(crate) routes: usize,
}

/// Swaps components in the registry, one swap at a time.
pub(crate) struct Deployer {
    loader: Loader,
    backends: Backends,
    places: VariablePlaces,
    registry: Arc<Registry>,
    manifest_path: PathBuf,
    saved: SavedDeployments,
    state: tokio::sync::Mutex<State>,
}

/// The manifest in force and each component's earlier versions, newest last.
struct State {
    manifest: Manifest,
    earlier: HashMap<String, Vec<Arc<LoadedComponent>>>,
}

impl Deployer {
    /// Loads every component of `manifest` (a saved deployment in place of
    /// the file when the file has not changed since) and starts serving them.
    pub(crate) async fn start(
        loader: Loader,
        backends: Backends,
        places: VariablePlaces,
        manifest_path: PathBuf,
        manifest: Manifest,
        saved: SavedDeployments,
    ) -> anyhow::Result<Self> {
        let sources = open_sources(&places)?;
        let mut components = Vec::new();
        for spec in &manifest.components {
            let wasm = saved.take_over(spec)?;
            let configuration = configuration(&sources, spec)?;
            let component = load(&loader, &backends, spec, wasm, configuration).await?;
            components.push(Arc::new(component));
        }
        let routing = routing_for(&manifest, components)?;
        Ok(Self {
            loader,
            backends,
            places,
            registry: Arc::new(Registry::new(routing)),
            manifest_path,
            saved,
            state: tokio::sync::Mutex::new(State {
                manifest,
                earlier: HashMap::new(),
            }),
        })
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub(crate) fn manifest_path(&self) -> &std::path::Path {
        &self.manifest_path
    }

    /// The manifest in force.
    pub(crate) async fn manifest(&self) -> Manifest {
        self.state.lock().await.manifest.clone()
    }

    /// The earlier versions of `name` a rollback can return to, newest first.
    pub(crate) async fn earlier_versions(&self, name: &str) -> Vec<Arc<LoadedComponent>> {
        let state = self.state.lock().await;
        let earlier = state.earlier.get(name).cloned().unwrap_or_default();
        earlier.into_iter().rev().collect()
    }

    /// Swaps in `wasm` as the new version of component `name`.
    pub(crate) async fn deploy(
        &self,
        name: &str,
        wasm: Bytes,
        trigger: Trigger,
    ) -> Result<Swap, DeployError> {
        self.deploy_version(name, wasm, trigger, None).await
    }

    /// Pulls the component `reference` names (or takes it from the cache of
    /// pulls) and swaps it in as the new version of component `name`.
    pub(crate) async fn deploy_from_registry(
        &self,
        name: &str,
        reference: &crate::oci::Reference,
    ) -> Result<Swap, DeployError> {
        let (wasm, pinned) = pull(&self.loader, name, reference).await?;
        self.deploy_version(name, wasm, Trigger::Api, Some(pinned))
            .await
    }

    /// Swaps in `wasm` as the new version of component `name`, pulled from
    /// the registry reference `pulled_from` when it says so.
    pub(crate) async fn deploy_version(
        &self,
        name: &str,
        wasm: Bytes,
        trigger: Trigger,
        pulled_from: Option<Arc<str>>,
    ) -> Result<Swap, DeployError> {
        let started = Instant::now();
        let mut state = self.state.lock().await;
        let spec = state.spec(name)?.clone();
        let current = self.registry.current().get(name);
        let version = content_hash(&wasm);
        // The same bytes from another source still swap, so that what is
        // shown as serving says where it came from.
        let same = |c: &&Arc<LoadedComponent>| c.version == version && c.pulled_from == pulled_from;
        if let Some(current) = current.as_ref().filter(same) {
            return Ok(unchanged(current, started, trigger));
        }
        let configuration = configuration(&open_sources(&self.places)?, &spec)?;
        let mut component = load(
            &self.loader,
            &self.backends,
            &spec,
            Some(wasm),
            configuration,
        )
        .await?;
        component.pulled_from = pulled_from;
        if let Some(current) = current.filter(|c| c.limits == component.limits) {
            // Versions of one component share its concurrency limit.
            component.gate = current.gate.clone();
        }
        let swap = self.switch(&mut state, &spec, Arc::new(component), trigger, started);
        Ok(swap)
    }

    /// Swaps in whatever the manifest's file of component `name` now holds.
    pub(crate) async fn deploy_file(&self, name: &str) -> Result<Swap, DeployError> {
        let spec = self.state.lock().await.spec(name)?.clone();
        let wasm = tokio::task::spawn_blocking(move || read_source(&spec))
            .await
            .expect("reading a component file panicked")?;
        self.deploy(name, wasm, Trigger::File).await
    }

    /// Returns component `name` to the version before the current one.
    pub(crate) async fn rollback(&self, name: &str) -> Result<Swap, DeployError> {
        let started = Instant::now();
        let mut state = self.state.lock().await;
        let spec = state.spec(name)?.clone();
        let earlier = state
            .earlier
            .get_mut(name)
            .and_then(Vec::pop)
            .ok_or_else(|| DeployError::NoEarlierVersion(name.to_owned()))?;
        let component = Arc::new(earlier.reinstated());
        let previous = self.registry.switch(component.clone());
        self.saved
            .record(&spec, &component.version, &component.wasm);
        let swap = Swap {
            component: name.to_owned(),
            version: component.version.clone(),
            previous: previous.map(|p| p.version.clone()),
            changed: true,
            took: started.elapsed(),
            trigger: Trigger::Rollback,
        };
        record_swap(&swap);
        Ok(swap)
    }

    /// Re-reads the manifest: new components are loaded, removed ones
    /// dropped, changed ones reloaded from their files, and the route table
    /// replaced, all in one switch. Nothing changes when any step fails.
    pub(crate) async fn reload_manifest(&self) -> Result<Reload, DeployError> {
        let mut state = self.state.lock().await;
        let manifest = Manifest::load(&self.manifest_path).map_err(DeployError::Manifest)?;
        let current = self.registry.current();
        let sources = open_sources(&self.places)?;
        let mut reload = Reload::default();
        let mut components = Vec::new();
        for spec in &manifest.components {
            let old = state.manifest.component(&spec.name);
            let configuration = configuration(&sources, spec)?;
            match (old, current.get(&spec.name)) {
                (Some(old), Some(loaded))
                    if old.same_component(spec) && configuration == loaded.configuration() =>
                {
                    components.push(loaded);
                }
                (old, _) => {
                    let component =
                        load(&self.loader, &self.backends, spec, None, configuration).await?;
                    components.push(Arc::new(component));
                    match old {
                        Some(_) => reload.reloaded.push(spec.name.clone()),
                        None => reload.added.push(spec.name.clone()),
                    }
                }
            }
        }
        for old in &state.manifest.components {
            if manifest.component(&old.name).is_none() {
                reload.removed.push(old.name.clone());
            }
        }
        let routing = routing_for(&manifest, components).map_err(DeployError::Manifest)?;
        reload.routes = manifest.route_table().iter().count();
        self.registry.replace(routing);
        for name in reload.removed.iter().chain(&reload.reloaded) {
            state.earlier.remove(name);
        }
        state.manifest = manifest;
        tracing::info!(
            added = ?reload.added,
            removed = ?reload.removed,
            reloaded = ?reload.reloaded,
            "reloaded the manifest ({} routes)",
            reload.routes
        );
        Ok(reload)
    }

    /// Puts `component` in service and keeps the one it replaces for rollbacks.
    fn switch(
        &self,
        state: &mut State,
        spec: &ComponentSpec,
        component: Arc<LoadedComponent>,
        trigger: Trigger,
        started: Instant,
    ) -> Swap {
        let previous = self.registry.switch(component.clone());
        if let Some(previous) = &previous {
            let earlier = state.earlier.entry(spec.name.clone()).or_default();
            earlier.push(previous.clone());
            if earlier.len() > KEPT_VERSIONS {
                earlier.remove(0);
            }
        }
        match trigger {
            Trigger::File => self.saved.forget(&spec.name),
            _ => self.saved.record(spec, &component.version, &component.wasm),
        }
        let swap = Swap {
            component: spec.name.clone(),
            version: component.version.clone(),
            previous: previous.map(|p| p.version.clone()),
            changed: true,
            took: started.elapsed(),
            trigger,
        };
        record_swap(&swap);
        swap
    }
}

impl State {
    fn spec(&self, name: &str) -> Result<&ComponentSpec, DeployError> {
        self.manifest
            .component(name)
            .ok_or_else(|| DeployError::UnknownComponent(name.to_owned()))
    }
}

fn unchanged(current: &LoadedComponent, started: Instant, trigger: Trigger) -> Swap {
    Swap {
        component: current.name.to_string(),
        version: current.version.clone(),
        previous: Some(current.version.clone()),
        changed: false,
        took: started.elapsed(),
        trigger,
    }
}

/// Logs a swap and counts it in the metrics.
fn record_swap(swap: &Swap) {
    crate::observe::metrics::metrics().swap(&swap.component, swap.trigger.as_str());
    tracing::info!(
        component = %swap.component,
        version = short(&swap.version),
        previous = swap.previous.as_deref().map(short),
        trigger = swap.trigger.as_str(),
        "swapped in {:.0?}",
        swap.took
    );
}

/// The routing of `manifest` over `components`.
fn routing_for(
    manifest: &Manifest,
    components: Vec<Arc<LoadedComponent>>,
) -> anyhow::Result<Routing> {
    let openapi = manifest.openapi.as_deref().map(read_openapi).transpose()?;
    Ok(Routing::new(components, manifest.route_table(), openapi))
}

/// `spec`'s configuration from `sources`.
fn configuration(sources: &Sources, spec: &ComponentSpec) -> Result<Configuration, DeployError> {
    configure(spec, sources).map_err(|source| DeployError::Configuration {
        component: spec.name.clone(),
        source,
    })
}

/// Pulls the component `reference` names for component `name` (or takes it
/// from the loader's cache of pulls): its bytes, and the reference pinned
/// to the digest it resolved to.
async fn pull(
    loader: &Loader,
    name: &str,
    reference: &crate::oci::Reference,
) -> Result<(Bytes, Arc<str>), DeployError> {
    let pulled = crate::oci::pull(reference, loader.pulled())
        .await
        .map_err(|source| DeployError::Pull {
            component: name.to_owned(),
            source,
        })?;
    let pinned = reference.pinned(&pulled.digest).to_string();
    Ok((pulled.wasm, pinned.into()))
}

/// Loads component `spec` from `wasm` (when `None`, its file, or its
/// registry: pulled, or taken from the cache of pulls) off the async
/// runtime, then applies its migrations, declares its wide tables and
/// gives it `configuration`.
async fn load(
    loader: &Loader,
    backends: &Backends,
    spec: &ComponentSpec,
    wasm: Option<Bytes>,
    configuration: Configuration,
) -> Result<LoadedComponent, DeployError> {
    let started = Instant::now();
    let (wasm, pulled_from) = match (wasm, &spec.registry) {
        (None, Some(reference)) => {
            let (wasm, pinned) = pull(loader, &spec.name, reference).await?;
            (Some(wasm), Some(pinned))
        }
        (wasm, _) => (wasm, None),
    };
    let (loader, owned_spec) = (loader.clone(), spec.clone());
    let mut component = tokio::task::spawn_blocking(move || match wasm {
        Some(wasm) => loader.load_bytes(&owned_spec, wasm),
        None => loader.load(&owned_spec),
    })
    .await
    .expect("loading a component panicked")?;
    let tables =
        prepare_databases(backends, spec)
            .await
            .map_err(|source| DeployError::Databases {
                component: spec.name.clone(),
                source,
            })?;
    component.wide_tables = Arc::new(tables);
    component.configure(configuration);
    component.pulled_from = pulled_from;
    tracing::debug!(
        component = %spec.name,
        version = component.short_version(),
        cache = ?component.cache,
        "loaded in {:.0?}",
        started.elapsed()
    );
    Ok(component)
}
