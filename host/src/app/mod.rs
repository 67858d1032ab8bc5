//! The running host: backends, the deployer that owns the loaded components
//! and their routes, the fleet it may belong to, and the file watcher.

mod watch;

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;

use crate::capabilities::Backends;
use crate::capabilities::cache::redis_client;
use crate::config::Settings;
use crate::manifest::{MAX_MEMORY_BYTES, Manifest};
use crate::runtime::compile_cache::CompileCache;
use crate::runtime::deploy::{DeployError, Deployer, Reload, SavedDeployments, Swap, Trigger};
use crate::runtime::engine::{EngineLimits, build_engine, start_epoch_ticker};
use crate::runtime::fleet::{Fleet, FleetReport};
use crate::runtime::loader::{LoadedComponent, Loader};
use crate::runtime::registry::Routing;

/// Everything a request needs, shared by all connections.
pub struct App {
    backends: Backends,
    deployer: Arc<Deployer>,
    fleet: Option<Arc<Fleet>>,
}

/// A swap on this host, and what the fleet made of it.
#[derive(Debug)]
pub(crate) struct Deployed {
    pub(crate) swap: Swap,
    /// The other hosts' confirmations; `None` outside a fleet or when the
    /// version did not change.
    pub(crate) fleet: Option<Result<FleetReport, String>>,
}

impl App {
    /// Opens the backends and loads every component of the manifest.
    pub async fn start(settings: &Settings) -> Result<Self> {
        let manifest = Manifest::load(&settings.manifest)?;
        if manifest.components.is_empty() {
            bail!(
                "the manifest {} lists no components",
                settings.manifest.display()
            );
        }
        let backends = Backends::open(settings).await?;
        for (capability, backend) in backends.describe() {
            tracing::info!("{capability}: {backend}");
        }
        let engine = build_engine(EngineLimits::with_memory_cap(MAX_MEMORY_BYTES))?;
        start_epoch_ticker(&engine);
        let loader = Loader::new(
            engine,
            CompileCache::new(settings.compile_cache_dir()),
            crate::oci::Cache::new(settings.data_dir.join("oci")),
        );
        let saved = SavedDeployments::new(settings.data_dir.join("deployments"));
        let started = std::time::Instant::now();
        let deployer = Deployer::start(
            loader,
            backends.clone(),
            settings.variable_places(),
            settings.manifest.clone(),
            manifest,
            saved,
        )
        .await?;
        for component in deployer.registry().current().all() {
            tracing::info!(
                component = %component.name,
                version = component.short_version(),
                "loaded ({})",
                match component.cache {
                    crate::runtime::compile_cache::CacheOutcome::Hit => "from cache",
                    crate::runtime::compile_cache::CacheOutcome::Compiled => "compiled",
                }
            );
        }
        tracing::info!("components ready in {:.0?}", started.elapsed());
        Ok(Self {
            backends,
            deployer: Arc::new(deployer),
            fleet: None,
        })
    }

    /// Joins fleet `name` over the configured Redis, so deploys here reach
    /// the other hosts and theirs reach this one.
    pub async fn join_fleet(&mut self, name: &str, settings: &Settings) -> Result<()> {
        let Some(server) = settings.redis.server()? else {
            bail!("fleet {name} needs Redis (REDIS_URL or REDIS_HOST) to carry its deploys");
        };
        if settings.storage.endpoint.is_none() {
            tracing::warn!(
                "fleet {name} has no shared blob store (STORAGE_ENDPOINT): \
                 hosts without this data directory cannot fetch deployed components"
            );
        }
        let (client, _) = redis_client(&settings.redis, &server)?;
        let blob = self.backends.blob.clone();
        let fleet = Fleet::join(name, client, blob, self.deployer.clone()).await?;
        self.fleet = Some(fleet);
        Ok(())
    }

    /// Watches the manifest and the components' files for changes.
    pub async fn watch(self: &Arc<Self>) -> Result<()> {
        watch::spawn(self.clone())
            .await
            .context("watching the component files")
    }

    /// What new requests are routed by.
    /// The capabilities granted to the components serving now (read from
    /// the routing, so a probe never waits for a deploy in progress).
    pub(crate) fn granted(&self) -> std::collections::BTreeSet<crate::capabilities::Capability> {
        let routing = self.routing();
        let components = routing.all();
        components
            .iter()
            .flat_map(|c| c.grants.iter().copied())
            .collect()
    }

    pub(crate) fn routing(&self) -> Arc<Routing> {
        self.deployer.registry().current()
    }

    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    pub(crate) fn deployer(&self) -> &Deployer {
        &self.deployer
    }

    /// Swaps in `wasm` as component `name`, here and across the fleet.
    pub(crate) async fn deploy(
        &self,
        name: &str,
        wasm: Bytes,
        trigger: Trigger,
    ) -> Result<Deployed, DeployError> {
        let swap = self.deployer.deploy(name, wasm, trigger).await?;
        Ok(self.announce(swap).await)
    }

    /// Swaps in the component a registry `reference` names as component
    /// `name`, here and across the fleet.
    pub(crate) async fn deploy_from_registry(
        &self,
        name: &str,
        reference: &crate::oci::Reference,
    ) -> Result<Deployed, DeployError> {
        let swap = self.deployer.deploy_from_registry(name, reference).await?;
        Ok(self.announce(swap).await)
    }

    /// Swaps in the manifest's file of component `name`, here and across
    /// the fleet.
    pub(crate) async fn deploy_file(&self, name: &str) -> Result<Deployed, DeployError> {
        let swap = self.deployer.deploy_file(name).await?;
        Ok(self.announce(swap).await)
    }

    /// Returns component `name` to its previous version, here and across
    /// the fleet.
    pub(crate) async fn rollback(&self, name: &str) -> Result<Deployed, DeployError> {
        let swap = self.deployer.rollback(name).await?;
        Ok(self.announce(swap).await)
    }

    /// Re-reads the manifest (on this host only).
    pub(crate) async fn reload_manifest(&self) -> Result<Reload, DeployError> {
        self.deployer.reload_manifest().await
    }

    async fn announce(&self, swap: Swap) -> Deployed {
        let fleet = match (&self.fleet, swap.changed) {
            (Some(fleet), true) => Some(self.announce_to(fleet, &swap).await),
            _ => None,
        };
        Deployed { swap, fleet }
    }

    async fn announce_to(&self, fleet: &Fleet, swap: &Swap) -> Result<FleetReport, String> {
        let component: Option<Arc<LoadedComponent>> = self.routing().get(&swap.component);
        let component = component
            .filter(|c| c.version == swap.version)
            .ok_or_else(|| "a newer swap replaced this version first".to_owned())?;
        fleet.announce(&component).await.map_err(|e| {
            tracing::warn!(fleet = fleet.name(), "could not announce the deploy: {e:#}");
            format!("{e:#}")
        })
    }
}
