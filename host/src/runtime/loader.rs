//! Loading components: compile (or find in the cache), check imports
//! against grants, link and pre-instantiate.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::compile_cache::{CacheOutcome, CompileCache, content_hash};
use super::state::HostState;
use crate::capabilities::variables;
use crate::capabilities::{self, Capability};
use crate::manifest::{ComponentLimits, ComponentSpec};

/// A component ready to serve: compiled, checked, linked, pre-instantiated.
#[derive(Clone)]
pub(crate) struct LoadedComponent {
    pub(crate) name: Arc<str>,
    /// The namespace of its cache keys, blob keys and graph labels.
    pub(crate) namespace: Arc<str>,
    /// Content hash of the `.wasm` (hex SHA-256).
    pub(crate) version: String,
    pub(crate) pre: ProxyPre<HostState>,
    pub(crate) limits: ComponentLimits,
    pub(crate) loaded_at: SystemTime,
    pub(crate) cache: CacheOutcome,
    /// The `wide` tables the component declared, by name.
    pub(crate) wide_tables: Arc<crate::capabilities::wide::TableSet>,
    /// The `.wasm` itself, kept for rollbacks and fleet deploys.
    pub(crate) wasm: Bytes,
    /// Admits at most `limits.concurrency` requests at once, across the
    /// component's versions.
    pub(crate) gate: super::admission::Gate,
    /// The capabilities the manifest grants it.
    pub(crate) grants: BTreeSet<Capability>,
    /// Its variables, with their values (`wasi:config`).
    pub(crate) variables: Arc<crate::capabilities::variables::Resolved>,
    /// The `wasi:keyvalue` buckets it may open.
    pub(crate) buckets: Arc<crate::capabilities::keyvalue::Buckets>,
    /// Where it may send HTTP requests.
    pub(crate) outbound: Arc<crate::manifest::OutboundHosts>,
    /// Its instances waiting to serve again, when the manifest opts in.
    pub(crate) reuse: Option<Arc<super::reuse::Reuse>>,
    /// The first twelve hex digits of `version`, as headers, logs and
    /// metrics show it.
    pub(crate) short: Arc<str>,
    /// `name@short`, the value of the response header naming it.
    pub(crate) served_by: http::HeaderValue,
    /// The registry reference it was pulled from, pinned to the digest
    /// its tag resolved to.
    pub(crate) pulled_from: Option<Arc<str>>,
}

impl LoadedComponent {
    /// What the manifest entry resolved to when this version loaded.
    pub(crate) fn configuration(&self) -> super::configure::Configuration {
        super::configure::Configuration {
            variables: self.variables.clone(),
            outbound: self.outbound.clone(),
        }
    }

    pub(crate) fn configure(&mut self, configuration: super::configure::Configuration) {
        self.variables = configuration.variables;
        self.outbound = configuration.outbound;
    }

    /// The short version shown in headers and logs.
    pub(crate) fn short_version(&self) -> &str {
        &self.short
    }

    /// The same component, serving again from now (after a rollback).
    pub(crate) fn reinstated(&self) -> Self {
        Self {
            loaded_at: SystemTime::now(),
            reuse: self.reuse.as_ref().map(|r| Arc::new(r.renewed())),
            ..self.clone()
        }
    }
}

/// The first twelve hex digits of a version, as headers and logs show it.
pub(crate) fn short(version: &str) -> &str {
    &version[..version.len().min(12)]
}

/// Why a component could not be loaded; the old version (if any) keeps serving.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error(
        "component {component}: cannot read {path}: {source} (build it with tooling/build-components)"
    )]
    Read {
        component: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "component {component}: {origin} is not a valid WebAssembly component: {source:#}{hint}"
    )]
    Compile {
        component: String,
        /// The file, or "the new version" for one sent to the host.
        origin: String,
        source: anyhow::Error,
        /// What to do, when the bytes say what went wrong.
        hint: &'static str,
    },
    #[error(
        "component {component} imports {import}, but the manifest does not grant it \
         (add \"{capability}\" to its grants)"
    )]
    Ungranted {
        component: String,
        import: String,
        capability: Capability,
    },
    #[error(
        "component {component} imports {import}, which Summer does not serve. It serves {served}"
    )]
    UnknownImport {
        component: String,
        import: String,
        served: String,
    },
    #[error(
        "component {component} imports {import}, a version Summer does not serve: it serves \
         {served}; build the component against one of them"
    )]
    UnservedVersion {
        component: String,
        import: String,
        served: String,
    },
    #[error(
        "component {component} imports {import}, but components get no filesystem, sockets \
         or environment: keep data in Summer's capabilities (sql, cache, blob, wide, graph) and \
         reach other services over HTTP (allowed_outbound_hosts in the manifest)"
    )]
    Sandboxed { component: String, import: String },
    #[error("component {component} cannot be linked: {source:#}")]
    Link {
        component: String,
        source: anyhow::Error,
    },
    #[error(
        "component {component} does not export wasi:http/incoming-handler: build it for \
         the summer:platform/handler world (a cdylib whose handler is exported with \
         summer_sdk::http_component!, as `summer new` makes)"
    )]
    NotAHandler { component: String },
}

/// A compiled component whose imports are within its grants.
pub(crate) struct CheckedComponent {
    pub(crate) component: Component,
    pub(crate) cache: CacheOutcome,
    /// Content hash of the `.wasm` (hex SHA-256).
    pub(crate) version: String,
}

/// Compiles and links components for one engine.
#[derive(Clone)]
pub(crate) struct Loader {
    engine: Engine,
    cache: CompileCache,
    /// Where components pulled from registries are kept.
    pulled: crate::oci::Cache,
}

impl Loader {
    pub(crate) fn new(engine: Engine, cache: CompileCache, pulled: crate::oci::Cache) -> Self {
        Self {
            engine,
            cache,
            pulled,
        }
    }

    /// The cache of components pulled from registries.
    pub(crate) fn pulled(&self) -> &crate::oci::Cache {
        &self.pulled
    }

    /// Loads the handler component `spec` describes, from its file.
    pub(crate) fn load(&self, spec: &ComponentSpec) -> Result<LoadedComponent, LoadError> {
        self.load_from(spec, read_source(spec)?, &spec.source.display().to_string())
    }

    /// Loads `wasm` as a new version of the handler component `spec` describes.
    pub(crate) fn load_bytes(
        &self,
        spec: &ComponentSpec,
        wasm: Bytes,
    ) -> Result<LoadedComponent, LoadError> {
        self.load_from(spec, wasm, "the new version")
    }

    fn load_from(
        &self,
        spec: &ComponentSpec,
        wasm: Bytes,
        origin: &str,
    ) -> Result<LoadedComponent, LoadError> {
        let checked = self.check(spec, &wasm, origin)?;
        let pre = self.link(&checked.component, &spec.name, &spec.grants)?;
        let short_version: Arc<str> = short(&checked.version).into();
        let served_by = format!("{}@{short_version}", spec.name);
        Ok(LoadedComponent {
            served_by: http::HeaderValue::from_str(&served_by).map_err(|_| LoadError::Link {
                component: spec.name.clone(),
                source: anyhow::anyhow!("the name cannot go in a response header"),
            })?,
            short: short_version,
            version: checked.version,
            name: spec.name.as_str().into(),
            namespace: spec.namespace.as_str().into(),
            pre,
            limits: spec.limits,
            loaded_at: SystemTime::now(),
            cache: checked.cache,
            wide_tables: Default::default(),
            wasm,
            gate: super::admission::gate(spec.limits.concurrency),
            grants: spec.grants.clone(),
            buckets: spec.buckets.clone(),
            variables: Default::default(),
            outbound: spec.allowed_outbound_hosts.clone(),
            reuse: (spec.instance_reuse > 1).then(|| {
                let reuse = super::reuse::Reuse::new(spec.instance_reuse, spec.limits.concurrency);
                Arc::new(reuse)
            }),
            pulled_from: None,
        })
    }

    /// Reads and compiles (or finds in the cache) the component of `spec`,
    /// and checks its imports against its grants.
    pub(crate) fn compile(&self, spec: &ComponentSpec) -> Result<CheckedComponent, LoadError> {
        let origin = spec.source.display().to_string();
        self.check(spec, &read_source(spec)?, &origin)
    }

    /// Compiles (or finds in the cache) `wasm` and checks its imports
    /// against the grants of `spec`.
    fn check(
        &self,
        spec: &ComponentSpec,
        wasm: &[u8],
        origin: &str,
    ) -> Result<CheckedComponent, LoadError> {
        let name = &spec.name;
        let (component, cache) =
            self.cache
                .load(&self.engine, wasm)
                .map_err(|source| LoadError::Compile {
                    component: name.clone(),
                    origin: origin.to_owned(),
                    source,
                    hint: compile_hint(wasm),
                })?;
        check_imports(&self.engine, &component, name, &spec.grants)?;
        Ok(CheckedComponent {
            component,
            cache,
            version: content_hash(wasm),
        })
    }

    fn link(
        &self,
        component: &Component,
        name: &str,
        grants: &BTreeSet<Capability>,
    ) -> Result<ProxyPre<HostState>, LoadError> {
        let link_error = |source: anyhow::Error| LoadError::Link {
            component: name.to_owned(),
            source,
        };
        // Checked before linking: a component of another world (a seeder)
        // also has imports no handler gets, which would hide the real cause.
        if !exports_http_handler(&self.engine, component) {
            return Err(LoadError::NotAHandler {
                component: name.to_owned(),
            });
        }
        let mut linker = Linker::<HostState>::new(&self.engine);
        wasmtime_wasi_http::p2::add_to_linker_async(&mut linker)
            .map_err(|e| link_error(e.into()))?;
        capabilities::add_to_linker(&mut linker, grants).map_err(link_error)?;
        let instance_pre = linker
            .instantiate_pre(component)
            .map_err(|e| link_error(e.into()))?;
        ProxyPre::new(instance_pre).map_err(|_| LoadError::NotAHandler {
            component: name.to_owned(),
        })
    }
}

/// Whether `component` exports `wasi:http/incoming-handler` (any 0.2 version).
fn exports_http_handler(engine: &Engine, component: &Component) -> bool {
    component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name.starts_with("wasi:http/incoming-handler@0.2."))
}

/// What to do about bytes that did not compile, judged by their header:
/// a core module needs componentizing; anything else is not WebAssembly.
fn compile_hint(wasm: &[u8]) -> &'static str {
    const CORE_MODULE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    if wasm.starts_with(&CORE_MODULE) {
        " (it is a core WebAssembly module: build it with tooling/build-components or \
         `cargo component build`, which make a component of it)"
    } else if !wasm.starts_with(b"\0asm") {
        " (it is not WebAssembly at all: point the manifest's `source` at the .wasm \
         tooling/build-components wrote under target/components)"
    } else {
        ""
    }
}

/// The `.wasm` file of `spec`.
pub(crate) fn read_source(spec: &ComponentSpec) -> Result<Bytes, LoadError> {
    std::fs::read(&spec.source)
        .map(Bytes::from)
        .map_err(|source| LoadError::Read {
            component: spec.name.clone(),
            path: spec.source.clone(),
            source,
        })
}

/// WASI interfaces the sandbox never offers.
const SANDBOXED_IMPORTS: [&str; 3] = ["wasi:filesystem/", "wasi:sockets/", "wasi:cli/environment"];

/// The WASI 0.2 interfaces of the `wasi:http/proxy` world, linked for
/// every component at any 0.2 version.
const PROXY_IMPORTS: [&str; 11] = [
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
];

/// Imports of Summer's package that need no grant: the shared types, the
/// progress reports a seed component makes (which only `summer seed`
/// links), and the request's trace.
const UNGRANTED_IMPORTS: [&str; 3] = [
    "summer:platform/types",
    "summer:platform/progress",
    "summer:platform/trace",
];

/// Refuses, naming the import and what to do instead: capabilities the
/// manifest does not grant, versions of a standard package Summer does not
/// serve, the filesystem, sockets and environment, and any other interface
/// the host does not link.
fn check_imports(
    engine: &Engine,
    component: &Component,
    name: &str,
    grants: &BTreeSet<Capability>,
) -> Result<(), LoadError> {
    for (import, _) in component.component_type().imports(engine) {
        check_import(import, grants).map_err(|refusal| refusal.of(name, import))?;
    }
    Ok(())
}

/// Standard packages every component may import, at the versions served.
const UNGRANTED_STANDARD: [(&str, &[&str]); 1] = [(variables::INTERFACE, &variables::VERSIONS)];

/// Why one import is refused, before it names the component.
enum Refusal {
    Sandboxed,
    Ungranted(Capability),
    UnservedVersion(&'static [&'static str]),
    Unknown,
}

impl Refusal {
    fn of(self, component: &str, import: &str) -> LoadError {
        let component = component.to_owned();
        let import = import.to_owned();
        match self {
            Refusal::Sandboxed => LoadError::Sandboxed { component, import },
            Refusal::Ungranted(capability) => LoadError::Ungranted {
                component,
                import,
                capability,
            },
            Refusal::UnservedVersion(served) => LoadError::UnservedVersion {
                component,
                import,
                served: served.join(", "),
            },
            Refusal::Unknown => LoadError::UnknownImport {
                component,
                import,
                served: served_interfaces(),
            },
        }
    }
}

fn check_import(import: &str, grants: &BTreeSet<Capability>) -> Result<(), Refusal> {
    let (interface, version) = import.split_once('@').unwrap_or((import, ""));
    if SANDBOXED_IMPORTS
        .iter()
        .any(|denied| import.starts_with(denied))
    {
        return Err(Refusal::Sandboxed);
    }
    if let Some(capability) = Capability::from_import(import) {
        if let Some(served) = capability.served_versions()
            && !served.contains(&version)
        {
            return Err(Refusal::UnservedVersion(served));
        }
        if !grants.contains(&capability) {
            return Err(Refusal::Ungranted(capability));
        }
        return Ok(());
    }
    if let Some((_, served)) = UNGRANTED_STANDARD.iter().find(|(i, _)| *i == interface) {
        return match served.contains(&version) {
            true => Ok(()),
            false => Err(Refusal::UnservedVersion(served)),
        };
    }
    let proxy = PROXY_IMPORTS.contains(&interface) && version.starts_with("0.2.");
    if proxy || UNGRANTED_IMPORTS.contains(&interface) {
        return Ok(());
    }
    Err(Refusal::Unknown)
}

/// What a component may import, for the message refusing anything else.
fn served_interfaces() -> String {
    let mut served = vec![
        "the wasi:http/proxy world at 0.2.x".to_string(),
        "summer:platform/trace".to_string(),
    ];
    for (interface, versions) in UNGRANTED_STANDARD {
        served.push(format!("{interface} at {}", versions.join(" or ")));
    }
    for capability in Capability::ALL {
        let interfaces = capability.interfaces().join(", ");
        served.push(match capability.served_versions() {
            Some(versions) => format!("{interfaces} at {}", versions.join(" or ")),
            None => interfaces,
        });
    }
    served.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imports_of(interface: &str) -> Result<(), LoadError> {
        granted(interface, &[])
    }

    fn granted(interface: &str, grants: &[Capability]) -> Result<(), LoadError> {
        let engine = Engine::default();
        let wat = format!("(component (import \"{interface}\" (instance)))");
        let component = Component::new(&engine, wat).unwrap();
        let grants = grants.iter().copied().collect();
        check_imports(&engine, &component, "c", &grants)
    }

    #[test]
    fn filesystem_sockets_and_environment_are_refused_by_name() {
        for interface in [
            "wasi:filesystem/types@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:sockets/ip-name-lookup@0.2.6",
            "wasi:cli/environment@0.2.6",
        ] {
            let error = imports_of(interface).unwrap_err();
            assert!(
                matches!(error, LoadError::Sandboxed { .. }),
                "{interface}: {error}"
            );
            assert!(error.to_string().contains(interface), "{error}");
        }
    }

    #[test]
    fn the_proxy_worlds_interfaces_pass() {
        for interface in ["wasi:http/outgoing-handler@0.2.6", "wasi:cli/stdout@0.2.6"] {
            assert!(imports_of(interface).is_ok(), "{interface}");
        }
    }

    #[test]
    fn ungranted_capabilities_are_refused_by_name() {
        let error = imports_of("summer:platform/sql@0.1.0").unwrap_err();
        assert!(
            matches!(
                error,
                LoadError::Ungranted {
                    capability: Capability::Sql,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn keyvalue_is_served_at_both_drafts_once_granted() {
        for import in [
            "wasi:keyvalue/store@0.2.0-draft",
            "wasi:keyvalue/atomics@0.2.0-draft",
            "wasi:keyvalue/batch@0.2.0-draft2",
        ] {
            assert!(granted(import, &[Capability::Keyvalue]).is_ok(), "{import}");
            let refused = imports_of(import).unwrap_err();
            assert!(
                matches!(
                    refused,
                    LoadError::Ungranted {
                        capability: Capability::Keyvalue,
                        ..
                    }
                ),
                "{refused}"
            );
            assert!(
                refused.to_string().contains("add \"keyvalue\""),
                "{refused}"
            );
        }
    }

    #[test]
    fn blobstore_is_served_once_granted_and_with_wasi_io_at_its_own_version() {
        for import in [
            "wasi:blobstore/blobstore@0.2.0-draft",
            "wasi:blobstore/container@0.2.0-draft",
            "wasi:blobstore/types@0.2.0-draft",
        ] {
            assert!(
                granted(import, &[Capability::Blobstore]).is_ok(),
                "{import}"
            );
            let refused = imports_of(import).unwrap_err().to_string();
            assert!(refused.contains("add \"blobstore\""), "{refused}");
        }
        // The draft was published against wasi:io 0.2.1.
        assert!(imports_of("wasi:io/streams@0.2.1").is_ok());
        let refused = granted("wasi:blobstore/types@0.2.0", &[Capability::Blobstore])
            .unwrap_err()
            .to_string();
        assert!(refused.contains("0.2.0-draft"), "{refused}");
    }

    #[test]
    fn other_versions_of_a_standard_package_are_refused_with_the_served_ones() {
        let refused = granted("wasi:keyvalue/store@0.2.0-draft3", &[Capability::Keyvalue])
            .unwrap_err()
            .to_string();
        for named in [
            "wasi:keyvalue/store@0.2.0-draft3",
            "0.2.0-draft, 0.2.0-draft2",
        ] {
            assert!(refused.contains(named), "{refused}");
        }
    }

    #[test]
    fn interfaces_summer_does_not_serve_are_refused_with_what_it_serves() {
        for import in [
            "wasi:messaging/producer@0.2.0-draft",
            "wasi:random/insecure@0.2.6",
            "wasi:http/types@0.3.0",
            "summer:platform/queue@0.1.0",
        ] {
            let refused = imports_of(import).unwrap_err().to_string();
            assert!(refused.contains(import), "{refused}");
            assert!(refused.contains("wasi:keyvalue/store"), "{refused}");
            assert!(refused.contains("summer:platform/sql"), "{refused}");
        }
    }

    #[test]
    fn wasi_config_needs_no_grant_at_the_versions_served() {
        for version in variables::VERSIONS {
            assert!(imports_of(&format!("wasi:config/store@{version}")).is_ok());
        }
        let refused = imports_of("wasi:config/store@0.2.0-draft")
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("0.2.0-rc.1, 0.2.0-draft-2024-09-27"),
            "{refused}"
        );
    }
}
