//! The running host: backends, loaded components and the route table, built
//! from the settings and the manifest.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::capabilities::{Backends, sql, wide};
use crate::config::Settings;
use crate::http::router::RouteTable;
use crate::manifest::{ComponentSpec, Manifest};
use crate::runtime::compile_cache::{CacheOutcome, CompileCache};
use crate::runtime::engine::{EngineLimits, build_engine, start_epoch_ticker};
use crate::runtime::registry::{LoadedComponent, Loader, Registry};

/// Everything a request needs, shared by all connections.
pub struct App {
    backends: Backends,
    registry: Registry,
    routes: RouteTable,
    openapi: Option<bytes::Bytes>,
    admin: Option<crate::http::admin::AdminToken>,
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
        let engine = build_engine(EngineLimits::default())?;
        start_epoch_ticker(&engine);
        let loader = Loader::new(engine, CompileCache::new(settings.compile_cache_dir()));

        let mut registry = Registry::default();
        for spec in &manifest.components {
            let component = load_component(&loader, &backends, spec).await?;
            registry.insert(component);
        }
        let routes = manifest.route_table();
        let openapi = manifest.openapi.as_deref().map(read_openapi).transpose()?;
        Ok(Self {
            backends,
            registry,
            routes,
            openapi,
            admin: None,
        })
    }

    /// Turns the admin API on with `token` (it is off without one).
    pub fn with_admin_token(mut self, token: Option<&str>) -> Self {
        self.admin = token.map(crate::http::admin::AdminToken::new);
        self
    }

    /// The admin API's token; `None` when the admin API is off.
    pub fn admin_token(&self) -> Option<&crate::http::admin::AdminToken> {
        self.admin.as_ref()
    }

    /// Every loaded component.
    pub fn components(&self) -> Vec<Arc<LoadedComponent>> {
        self.registry.all()
    }

    /// The route patterns that lead to component `name`.
    pub fn routes_of(&self, name: &str) -> Vec<String> {
        self.routes
            .iter()
            .filter(|(_, component)| *component == name)
            .map(|(route, _)| route.to_string())
            .collect()
    }

    /// The API's OpenAPI document, when the manifest names one.
    pub fn openapi(&self) -> Option<&bytes::Bytes> {
        self.openapi.as_ref()
    }

    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The component serving `path`, if a route matches.
    pub fn component_for(&self, path: &str) -> Option<Arc<LoadedComponent>> {
        self.routes
            .resolve(path)
            .and_then(|name| self.registry.get(name))
    }
}

/// Reads the OpenAPI document at `path`, checking that it is one.
fn read_openapi(path: &std::path::Path) -> Result<bytes::Bytes> {
    let text = std::fs::read(path)
        .with_context(|| format!("reading the OpenAPI document {}", path.display()))?;
    let document: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("parsing the OpenAPI document {}", path.display()))?;
    let version = document["openapi"].as_str().unwrap_or_default();
    if !version.starts_with("3.") {
        bail!(
            "{} is not an OpenAPI 3 document (its \"openapi\" field is {:?})",
            path.display(),
            version
        );
    }
    Ok(text.into())
}

/// Applies the SQL migrations of `spec` and declares its wide tables
/// (in its namespace); the declared tables by name.
pub async fn prepare_databases(
    backends: &Backends,
    spec: &ComponentSpec,
) -> Result<wide::TableSet> {
    if let Some(dir) = &spec.sql_migrations {
        let migrations = sql::Migration::read_dir(dir)?;
        let applied = sql::apply_migrations(backends.sql.as_ref(), &spec.name, &migrations)
            .await
            .with_context(|| format!("migrating the database of component {}", spec.name))?;
        if applied > 0 {
            tracing::info!(component = %spec.name, "applied {applied} sql migration(s)");
        }
    }
    let mut declared = wide::TableSet::new();
    for path in &spec.wide_tables {
        let tables = wide::read_tables(&spec.namespace, path)?;
        let tables = wide::declare_tables(backends.wide.as_ref(), &tables)
            .await
            .with_context(|| format!("declaring the wide tables of component {}", spec.name))?;
        declared.extend(tables);
    }
    Ok(declared)
}

async fn load_component(
    loader: &Loader,
    backends: &Backends,
    spec: &ComponentSpec,
) -> Result<LoadedComponent> {
    let started = Instant::now();
    let mut component = loader.load(spec)?;
    component.wide_tables = Arc::new(prepare_databases(backends, spec).await?);
    let how = match component.cache {
        CacheOutcome::Hit => "from cache",
        CacheOutcome::Compiled => "compiled",
    };
    tracing::info!(
        component = %spec.name,
        version = component.short_version(),
        "loaded ({how}) in {:.0?}",
        started.elapsed()
    );
    Ok(component)
}
