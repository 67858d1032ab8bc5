//! `summer seed`: runs the manifest's seed component once over the
//! configured backends, after bringing every component's SQL migrations and
//! wide tables up to date, and reports its progress and what it wrote.

mod bindings;
mod progress;
mod state;
pub mod terminal;

use std::sync::Arc;

use anyhow::{Context, Result};
use wasmtime::Store;
use wasmtime::component::Linker;

use crate::capabilities::{self, Backends};
use crate::config::Settings;
use crate::manifest::{MAX_MEMORY_BYTES, Manifest};
use crate::runtime::compile_cache::CompileCache;
use crate::runtime::configure::{configure, open_sources};
use crate::runtime::engine::{EngineLimits, build_engine};
use crate::runtime::loader::Loader;
use crate::runtime::prepare_databases;
use crate::runtime::state::{HostState, Sandbox};
use bindings::Seeder;
use state::SeedState;

pub(crate) use bindings::exports::summer::platform::seed::{Outcome, Plan};
pub use progress::{Progress, Reporter, Stage};

/// Epoch ticks a seed run may take: it has no deadline (it is interrupted
/// through its progress reports instead), and the engine has no ticker.
const NO_DEADLINE: u64 = 1 << 40;

/// What a seed run makes; the same numbers and seed make the same data.
#[derive(Clone, Debug, clap::Args)]
pub struct Sizes {
    /// Users to create (each with a unique email).
    #[arg(long, default_value_t = 1000)]
    pub users: u32,
    /// Groups to create; users join them, most joining a few.
    #[arg(long, default_value_t = 50)]
    pub groups: u32,
    /// Messages to write, spread over the groups' conversations and time.
    #[arg(long, default_value_t = 10_000)]
    pub messages: u32,
    /// Average friends per user; a few users have many, most have few.
    #[arg(long, default_value_t = 10)]
    pub friends_per_user: u32,
    /// Files to upload (generated images and text).
    #[arg(long, default_value_t = 20)]
    pub(crate) files: u32,
    /// The random seed. Each seed makes its own batch of data; running a
    /// seed a second time is refused.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl Sizes {
    /// The plan the seed component runs.
    pub fn plan(&self) -> Plan {
        Plan {
            users: self.users,
            groups: self.groups,
            messages: self.messages,
            friends_per_user: self.friends_per_user,
            files: self.files,
            seed: self.seed,
        }
    }
}

/// A finished (or stopped) run: what the component says it wrote, and the
/// stages it went through.
pub struct Report {
    pub outcome: Outcome,
    pub(crate) stages: Vec<Stage>,
    /// Each capability and the backend it used.
    pub(crate) backends: Vec<(String, String)>,
}

/// Runs the seed component of the manifest in `settings` with `plan`.
pub async fn run(settings: &Settings, plan: Plan, progress: Arc<Progress>) -> Result<Report> {
    let manifest = Manifest::load(&settings.manifest)?;
    let spec = manifest.seed.clone().with_context(|| {
        format!(
            "the manifest {} has no [seed] component to run",
            settings.manifest.display()
        )
    })?;
    let backends = Backends::open(settings).await?;
    let described: Vec<(String, String)> = backends
        .describe()
        .into_iter()
        .map(|(capability, backend)| (capability.to_string(), backend))
        .collect();
    for (capability, backend) in &described {
        tracing::info!("{capability}: {backend}");
    }
    for component in &manifest.components {
        prepare_databases(&backends, component).await?;
    }
    let tables = prepare_databases(&backends, &spec).await?;

    let engine = build_engine(EngineLimits {
        max_instances: 2,
        ..EngineLimits::with_memory_cap(MAX_MEMORY_BYTES)
    })?;
    let loader = Loader::new(
        engine.clone(),
        CompileCache::new(settings.compile_cache_dir()),
        crate::oci::Cache::new(settings.data_dir.join("oci")),
    );
    let checked = loader.compile(&spec)?;
    let mut linker = Linker::<SeedState>::new(&engine);
    wasmtime_wasi_http::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
    capabilities::add_to_linker(&mut linker, &spec.grants)?;
    progress::add_to_linker(&mut linker)?;

    let sources = open_sources(&settings.variable_places())?;
    let configuration = configure(&spec, &sources)?;
    let host = HostState::sandbox(
        backends,
        Sandbox {
            component: spec.name.as_str().into(),
            namespace: spec.namespace.as_str().into(),
            wide_tables: Arc::new(tables),
            buckets: spec.buckets.clone(),
            variables: configuration.variables,
            memory_bytes: spec.limits.memory_bytes,
            outbound: configuration.outbound,
        },
    );
    let state = SeedState {
        host,
        progress: progress.clone(),
    };
    let mut store = Store::new(&engine, state);
    store.limiter(|state| &mut state.host.limits);
    store.set_epoch_deadline(NO_DEADLINE);
    let seeder = Seeder::instantiate_async(&mut store, &checked.component, &linker)
        .await
        .map_err(anyhow::Error::from)
        .with_context(|| format!("instantiating the seed component {}", spec.name))?;
    let outcome = seeder
        .summer_platform_seed()
        .call_run(&mut store, plan)
        .await
        .map_err(anyhow::Error::from)
        .with_context(|| format!("the seed component {} failed", spec.name))?;
    progress.end_stage();
    Ok(Report {
        outcome,
        stages: progress.stages(),
        backends: described,
    })
}
