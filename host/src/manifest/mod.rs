//! The manifest: which components exist, where their `.wasm` lives, which
//! routes they serve and which capabilities they are granted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

mod outbound;
mod routes;

pub(crate) use outbound::OutboundHosts;
pub use routes::{RoutePattern, RouteTable};

use crate::capabilities::Capability;
use crate::capabilities::keyvalue::{Buckets, check_bucket};
use crate::capabilities::variables::{
    Declaration, Declared, check_template, env_name, template_variables,
};

/// Per-component execution limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ComponentLimits {
    pub(crate) memory_bytes: usize,
    pub(crate) timeout: Duration,
    /// The largest request body the component is handed.
    pub(crate) max_body_bytes: u64,
    /// How many requests it serves at once; more get 503.
    pub(crate) concurrency: u32,
}

impl Default for ComponentLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 << 20,
            timeout: Duration::from_secs(30),
            max_body_bytes: 16 << 20,
            concurrency: 500,
        }
    }
}

/// A parsed and checked manifest; every path in it is absolute.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub components: Vec<ComponentSpec>,
    /// The component `summer seed` runs (a `seeder`, with no routes).
    pub seed: Option<ComponentSpec>,
    /// The OpenAPI document of the API, served at `/openapi.json`.
    pub(crate) openapi: Option<PathBuf>,
}

/// One component entry.
#[derive(Clone, Debug)]
pub struct ComponentSpec {
    pub(crate) name: String,
    /// Its `.wasm` file; for a registry source, the reference as written.
    pub(crate) source: PathBuf,
    /// Where it is pulled from, when `source` is `oci://…`.
    pub(crate) registry: Option<crate::oci::Reference>,
    pub(crate) routes: Vec<RoutePattern>,
    pub(crate) grants: BTreeSet<Capability>,
    /// Where the component's cache keys, blob keys and graph labels live;
    /// components with the same namespace share them. Defaults to the name.
    pub(crate) namespace: String,
    /// Directory of `.sql` migrations applied when the component loads.
    pub(crate) sql_migrations: Option<PathBuf>,
    /// Files declaring the component's `wide` tables, created when it loads.
    pub(crate) wide_tables: Vec<PathBuf>,
    /// The `wasi:keyvalue` buckets it may open.
    pub(crate) buckets: Arc<Buckets>,
    pub(crate) limits: ComponentLimits,
    /// Where it may send HTTP requests; nowhere by default.
    pub(crate) allowed_outbound_hosts: std::sync::Arc<OutboundHosts>,
    /// `allowed_outbound_hosts` entries that use variables (`{{ name }}`),
    /// parsed once the variables have their values.
    pub(crate) outbound_templates: Vec<String>,
    /// The variables it reads through `wasi:config`.
    pub(crate) variables: Declared,
    /// How many requests one instance may serve, one after another, before
    /// it is dropped; 1 (the default) is a fresh instance per request.
    pub(crate) instance_reuse: u32,
}

impl ComponentSpec {
    /// Whether `other` loads the same way (it may serve other routes).
    pub(crate) fn same_component(&self, other: &ComponentSpec) -> bool {
        self.name == other.name
            && self.source == other.source
            && self.registry == other.registry
            && self.grants == other.grants
            && self.namespace == other.namespace
            && self.sql_migrations == other.sql_migrations
            && self.wide_tables == other.wide_tables
            && self.buckets == other.buckets
            && self.limits == other.limits
            && self.allowed_outbound_hosts == other.allowed_outbound_hosts
            && self.outbound_templates == other.outbound_templates
            && self.variables == other.variables
            && self.instance_reuse == other.instance_reuse
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    openapi: Option<PathBuf>,
    #[serde(default, rename = "component")]
    components: Vec<RawComponent>,
    #[serde(default)]
    seed: Option<RawComponent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    name: String,
    source: PathBuf,
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    grants: Vec<Capability>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    sql: Option<RawSql>,
    #[serde(default)]
    wide: Option<RawWide>,
    #[serde(default)]
    keyvalue: Option<RawKeyvalue>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: std::collections::BTreeMap<String, Declaration>,
    #[serde(default)]
    instance_reuse: Option<u32>,
}

/// `keyvalue = { buckets = ["default", ...] }`: the only buckets the
/// component may open (any, without it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyvalue {
    buckets: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory_mib: Option<u32>,
    timeout_ms: Option<u64>,
    body_kib: Option<u64>,
    concurrency: Option<u32>,
}

/// The most requests a component may serve at once (the engine's instance pool).
pub(crate) const MAX_CONCURRENCY: u32 = 1000;

/// The most requests one instance may serve before it is dropped.
pub(crate) const MAX_INSTANCE_REUSE: u32 = 10_000;

/// The largest memory limit a manifest may set (the engine's per-memory cap).
pub(crate) const MAX_MEMORY_MIB: u32 = 1024;
/// [`MAX_MEMORY_MIB`] in bytes.
pub(crate) const MAX_MEMORY_BYTES: usize = (MAX_MEMORY_MIB as usize) << 20;

impl RawLimits {
    fn resolve(self) -> Result<ComponentLimits> {
        let mut limits = ComponentLimits::default();
        if let Some(mib) = self.memory_mib {
            if !(1..=MAX_MEMORY_MIB).contains(&mib) {
                bail!("limits.memory_mib must be from 1 to {MAX_MEMORY_MIB}, not {mib}");
            }
            limits.memory_bytes = (mib as usize) << 20;
        }
        if let Some(ms) = self.timeout_ms {
            if ms == 0 {
                bail!("limits.timeout_ms must be at least 1");
            }
            limits.timeout = std::time::Duration::from_millis(ms);
        }
        if let Some(kib) = self.body_kib {
            limits.max_body_bytes = kib
                .checked_mul(1024)
                .ok_or_else(|| anyhow::anyhow!("limits.body_kib {kib} is too large"))?;
        }
        if let Some(concurrency) = self.concurrency {
            if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
                bail!("limits.concurrency must be from 1 to {MAX_CONCURRENCY}, not {concurrency}");
            }
            limits.concurrency = concurrency;
        }
        Ok(limits)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSql {
    migrations: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWide {
    tables: OneOrMany,
}

/// A path, or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<PathBuf> {
        match self {
            OneOrMany::One(path) => vec![path],
            OneOrMany::Many(paths) => paths,
        }
    }
}

impl Manifest {
    /// Reads and checks the manifest at `path`. Relative paths inside it are
    /// relative to the manifest's own directory.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        let base = path
            .canonicalize()
            .with_context(|| format!("resolving manifest path {}", path.display()))?;
        let base = base.parent().unwrap_or(Path::new("/"));
        Self::parse(&text, base).with_context(|| format!("in manifest {}", path.display()))
    }

    /// Parses manifest text, resolving relative paths against `base`.
    pub(crate) fn parse(text: &str, base: &Path) -> Result<Self> {
        let raw: RawManifest = toml::from_str(text)?;
        let components = raw
            .components
            .into_iter()
            .map(|c| ComponentSpec::from_raw(c, base))
            .collect::<Result<Vec<_>>>()?;
        if let Some(empty) = components.iter().find(|c| c.routes.is_empty()) {
            bail!("component {:?} has no routes", empty.name);
        }
        let seed = raw
            .seed
            .map(|s| ComponentSpec::from_raw(s, base))
            .transpose()
            .context("in the seed component")?;
        if seed.as_ref().is_some_and(|s| !s.routes.is_empty()) {
            bail!("the seed component serves no routes: remove its routes");
        }
        let manifest = Manifest {
            components,
            seed,
            openapi: raw.openapi.map(|path| base.join(path)),
        };
        manifest.check()?;
        Ok(manifest)
    }

    /// The route table of every component's routes.
    pub fn route_table(&self) -> RouteTable {
        RouteTable::new(
            self.components
                .iter()
                .flat_map(|c| c.routes.iter().map(|r| (r.clone(), c.name.clone()))),
        )
    }

    /// The handler component called `name`.
    pub(crate) fn component(&self, name: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.name == name)
    }

    fn check(&self) -> Result<()> {
        let mut names = BTreeSet::new();
        let mut routes = BTreeSet::new();
        let mut variables = std::collections::BTreeMap::new();
        for component in &self.components {
            if !names.insert(component.name.as_str()) {
                bail!("component {:?} is listed twice", component.name);
            }
            for (variable, _) in component.variables.iter() {
                let env = env_name(&component.name, variable);
                let owner = format!("{}.{variable}", component.name);
                if let Some(other) = variables.insert(env.clone(), owner.clone()) {
                    bail!("variables {other} and {owner} are both set by {env}: rename one");
                }
            }
            for route in &component.routes {
                if route.canonical().starts_with("/_admin") {
                    bail!("route {route} is under /_admin, which the host keeps for its admin API");
                }
                if !routes.insert(route.canonical()) {
                    bail!("route {route} is claimed by more than one component");
                }
            }
        }
        Ok(())
    }
}

impl ComponentSpec {
    fn from_raw(raw: RawComponent, base: &Path) -> Result<Self> {
        if !is_valid_name(&raw.name) {
            bail!(
                "component name {:?} must be lowercase letters, digits and single '-', starting with a letter and not ending with '-'",
                raw.name
            );
        }
        let routes = raw
            .routes
            .iter()
            .map(|r| r.parse::<RoutePattern>())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("in the routes of component {:?}", raw.name))?;
        let grants: BTreeSet<Capability> = raw.grants.into_iter().collect();
        let namespace = raw.namespace.unwrap_or_else(|| raw.name.clone());
        if !is_valid_name(&namespace) {
            bail!(
                "namespace {namespace:?} of component {:?} must be lowercase letters, digits and single '-', starting with a letter and not ending with '-'",
                raw.name
            );
        }
        let sql_migrations = raw.sql.map(|sql| base.join(sql.migrations));
        if sql_migrations.is_some() && !grants.contains(&Capability::Sql) {
            bail!(
                "component {:?} has sql migrations but no sql grant",
                raw.name
            );
        }
        let wide_tables: Vec<PathBuf> = raw
            .wide
            .map(|wide| wide.tables.into_vec())
            .unwrap_or_default()
            .into_iter()
            .map(|path| base.join(path))
            .collect();
        if !wide_tables.is_empty() && !grants.contains(&Capability::Wide) {
            bail!(
                "component {:?} declares wide tables but has no wide grant",
                raw.name
            );
        }
        let buckets = match raw.keyvalue {
            None => Buckets::Any,
            Some(keyvalue) => {
                if !grants.contains(&Capability::Keyvalue) {
                    bail!(
                        "component {:?} lists keyvalue buckets but has no keyvalue grant",
                        raw.name
                    );
                }
                for bucket in &keyvalue.buckets {
                    check_bucket(bucket).map_err(|reason| {
                        anyhow::anyhow!("in component {:?}: {reason}", raw.name)
                    })?;
                }
                Buckets::Only(keyvalue.buckets.into_iter().collect())
            }
        };
        let limits = raw
            .limits
            .resolve()
            .with_context(|| format!("in component {:?}", raw.name))?;
        let variables = Declared::new(raw.variables)
            .map_err(|reason| anyhow::anyhow!("in component {:?}: {reason}", raw.name))?;
        let (outbound_templates, fixed): (Vec<String>, Vec<String>) = raw
            .allowed_outbound_hosts
            .into_iter()
            .partition(|entry| !template_variables(entry).is_empty());
        for template in &outbound_templates {
            check_template(&raw.name, template, &variables)?;
        }
        let allowed_outbound_hosts =
            OutboundHosts::parse(&fixed).with_context(|| format!("in component {:?}", raw.name))?;
        let instance_reuse = raw.instance_reuse.unwrap_or(1);
        if !(1..=MAX_INSTANCE_REUSE).contains(&instance_reuse) {
            bail!(
                "component {:?}: instance_reuse must be from 1 to {MAX_INSTANCE_REUSE}, not {instance_reuse}",
                raw.name
            );
        }
        let registry = registry_source(&raw.name, &raw.source)?;
        let source = match registry {
            Some(_) => raw.source,
            None => base.join(raw.source),
        };
        Ok(Self {
            name: raw.name,
            source,
            registry,
            routes,
            grants,
            namespace,
            sql_migrations,
            wide_tables,
            buckets: Arc::new(buckets),
            limits,
            allowed_outbound_hosts: allowed_outbound_hosts.into(),
            outbound_templates,
            variables,
            instance_reuse,
        })
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.contains("--")
        && !name.ends_with('-')
}

/// Reads the OpenAPI document at `path`, checking that it is one.
pub(crate) fn read_openapi(path: &std::path::Path) -> Result<bytes::Bytes> {
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

/// The registry reference of a `source = "oci://…"` entry.
fn registry_source(component: &str, source: &Path) -> Result<Option<crate::oci::Reference>> {
    let Some(text) = source
        .to_str()
        .filter(|s| s.starts_with(crate::oci::SCHEME))
    else {
        return Ok(None);
    };
    crate::oci::Reference::parse(text)
        .map(Some)
        .with_context(|| format!("in component {component:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/srv/app";

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse(text, Path::new(BASE))
    }

    #[test]
    fn resolves_paths_against_the_manifest_directory() {
        let m = parse(
            r#"
            [[component]]
            name = "users"
            source = "target/components/users.wasm"
            routes = ["/users", "/users/{id}"]
            grants = ["sql"]
            sql = { migrations = "components/users/migrations" }
            "#,
        )
        .unwrap();
        let users = &m.components[0];
        assert_eq!(
            users.source,
            Path::new("/srv/app/target/components/users.wasm")
        );
        assert_eq!(
            users.sql_migrations.as_deref(),
            Some(Path::new("/srv/app/components/users/migrations"))
        );
        assert!(users.grants.contains(&Capability::Sql));
        assert_eq!(users.routes.len(), 2);
    }

    #[test]
    fn body_and_concurrency_limits_are_read_and_bounded() {
        let with_limits = |limits: &str| {
            parse(&format!(
                "[[component]]\nname = \"a\"\nsource = \"a.wasm\"\nroutes = [\"/a\"]\nlimits = {{ {limits} }}\n"
            ))
        };
        let m = with_limits("body_kib = 2, concurrency = 3").unwrap();
        assert_eq!(m.components[0].limits.max_body_bytes, 2048);
        assert_eq!(m.components[0].limits.concurrency, 3);
        let defaults = with_limits("").unwrap().components[0].limits;
        assert_eq!(defaults, ComponentLimits::default());
        for bad in [
            "concurrency = 0",
            "concurrency = 1001",
            "body_kib = 18014398509481984",
        ] {
            let err = with_limits(bad).unwrap_err();
            assert!(format!("{err:#}").contains("limits."), "{bad}: {err:#}");
        }
    }

    #[test]
    fn the_namespace_defaults_to_the_name_and_may_be_shared() {
        let m = parse(
            r#"
            [[component]]
            name = "a"
            source = "a.wasm"
            routes = ["/a"]
            [[component]]
            name = "b"
            source = "b.wasm"
            routes = ["/b"]
            namespace = "trip"
            "#,
        )
        .unwrap();
        assert_eq!(m.components[0].namespace, "a");
        assert_eq!(m.components[1].namespace, "trip");
        let err = parse(
            r#"
            [[component]]
            name = "a"
            source = "a.wasm"
            routes = ["/a"]
            namespace = "Trip/1"
            "#,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("namespace"), "{err:#}");
    }

    #[test]
    fn rejects_routes_under_the_admin_api() {
        let err = parse(
            r#"
            [[component]]
            name = "a"
            source = "a.wasm"
            routes = ["/_admin/x"]
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("/_admin"), "{err}");
    }

    #[test]
    fn rejects_a_route_claimed_twice() {
        let err = parse(
            r#"
            [[component]]
            name = "a"
            source = "a.wasm"
            routes = ["/x/{id}"]
            [[component]]
            name = "b"
            source = "b.wasm"
            routes = ["/x/{other}"]
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("more than one component"), "{err}");
    }

    #[test]
    fn rejects_unknown_capabilities_and_fields() {
        let unknown_grant = r#"
            [[component]]
            name = "a"
            source = "a.wasm"
            routes = ["/a"]
            grants = ["sockets"]
        "#;
        assert!(parse(unknown_grant).is_err());
        let unknown_field = r#"
            [[component]]
            name = "a"
            source = "a.wasm"
            routes = ["/a"]
            rutes = ["/b"]
        "#;
        assert!(parse(unknown_field).is_err());
    }

    #[test]
    fn rejects_migrations_without_the_sql_grant() {
        let err = parse(
            r#"
            [[component]]
            name = "a"
            source = "a.wasm"
            routes = ["/a"]
            sql = { migrations = "m" }
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no sql grant"), "{err}");
    }

    #[test]
    fn limits_default_and_override() {
        let m = parse(
            r#"
            [[component]]
            name = "a"
            source = "a.wasm"
            routes = ["/a"]
            [[component]]
            name = "b"
            source = "b.wasm"
            routes = ["/b"]
            limits = { memory_mib = 16, timeout_ms = 250 }
            "#,
        )
        .unwrap();
        let defaults = ComponentLimits::default();
        assert_eq!(m.components[0].limits.memory_bytes, defaults.memory_bytes);
        assert_eq!(m.components[1].limits.memory_bytes, 16 << 20);
        assert_eq!(
            m.components[1].limits.timeout,
            std::time::Duration::from_millis(250)
        );
        for bad in [
            "{ memory_mib = 0 }",
            "{ memory_mib = 4096 }",
            "{ timeout_ms = 0 }",
            "{ cpu = 1 }",
        ] {
            let text = format!(
                "[[component]]\nname = \"a\"\nsource = \"a.wasm\"\nroutes = [\"/a\"]\nlimits = {bad}\n"
            );
            assert!(parse(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn checks_component_names() {
        assert!(is_valid_name("users"));
        assert!(is_valid_name("friend-graph2"));
        assert!(!is_valid_name("Users"));
        assert!(!is_valid_name("2users"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("../etc"));
    }
}
