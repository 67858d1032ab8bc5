//! Per-request store data: the WASI and wasi:http contexts, the resource
//! table, the memory limiter and the host's capability backends.

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use std::sync::Arc;

use super::loader::LoadedComponent;
use super::outbound::OutboundPolicy;
use crate::capabilities::blob::BlobView;
use crate::capabilities::graph::GraphView;
use crate::capabilities::keyvalue::{Buckets, KeyValueView};
use crate::capabilities::variables::{Resolved, VariablesView};
use crate::capabilities::wide::{TableSet, WideView};
use crate::capabilities::{Backends, CapabilityState, cache::CacheView, sql::SqlView};
use crate::manifest::OutboundHosts;

/// What a component's sandbox is made of.
pub(crate) struct Sandbox {
    pub(crate) component: Arc<str>,
    /// The namespace of its cache keys, blob keys and graph labels.
    pub(crate) namespace: Arc<str>,
    pub(crate) wide_tables: Arc<TableSet>,
    pub(crate) buckets: Arc<Buckets>,
    pub(crate) variables: Arc<Resolved>,
    pub(crate) memory_bytes: usize,
    pub(crate) outbound: Arc<OutboundHosts>,
}

/// The data of one request's `Store`.
pub(crate) struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundPolicy,
    table: ResourceTable,
    backends: Backends,
    namespace: Arc<str>,
    wide_tables: Arc<TableSet>,
    buckets: Arc<Buckets>,
    variables: Arc<Resolved>,
    pub(crate) limits: StoreLimits,
}

impl HostState {
    /// The sandbox of one request to `component`.
    pub(crate) fn new(backends: Backends, component: &LoadedComponent) -> Self {
        Self::sandbox(
            backends,
            Sandbox {
                component: component.name.clone(),
                namespace: component.namespace.clone(),
                wide_tables: component.wide_tables.clone(),
                buckets: component.buckets.clone(),
                variables: component.variables.clone(),
                memory_bytes: component.limits.memory_bytes,
                outbound: component.outbound.clone(),
            },
        )
    }

    /// A sandbox with no filesystem, no environment and no sockets (the
    /// linker offers none of them), outgoing HTTP only to the allowed
    /// hosts; stdout and stderr go to the host's.
    pub(crate) fn sandbox(backends: Backends, sandbox: Sandbox) -> Self {
        let Sandbox {
            component,
            namespace,
            wide_tables,
            buckets,
            variables,
            memory_bytes,
            outbound,
        } = sandbox;
        let wasi = WasiCtx::builder().inherit_stdout().inherit_stderr().build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .trap_on_grow_failure(false)
            .build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: OutboundPolicy {
                component,
                allowed: outbound,
            },
            table: ResourceTable::new(),
            backends,
            namespace,
            wide_tables,
            buckets,
            variables,
            limits,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl CapabilityState for HostState {
    fn sql(&mut self) -> SqlView<'_> {
        SqlView {
            backend: &self.backends.sql,
            meter: &self.backends.names.sql,
            table: &mut self.table,
        }
    }

    fn cache(&mut self) -> CacheView<'_> {
        CacheView {
            backend: &self.backends.cache,
            meter: &self.backends.names.cache,
            namespace: &self.namespace,
        }
    }

    fn blob(&mut self) -> BlobView<'_> {
        BlobView {
            backend: &self.backends.blob,
            meter: &self.backends.names.blob,
            namespace: &self.namespace,
            table: &mut self.table,
        }
    }

    fn graph(&mut self) -> GraphView<'_> {
        GraphView {
            backend: &self.backends.graph,
            meter: &self.backends.names.graph,
            namespace: &self.namespace,
        }
    }

    fn blobstore(&mut self) -> BlobView<'_> {
        BlobView {
            backend: &self.backends.blob,
            meter: &self.backends.names.blobstore,
            namespace: &self.namespace,
            table: &mut self.table,
        }
    }

    fn keyvalue(&mut self) -> KeyValueView<'_> {
        KeyValueView {
            backend: &self.backends.keyvalue,
            meter: &self.backends.names.keyvalue,
            namespace: &self.namespace,
            buckets: &self.buckets,
            table: &mut self.table,
        }
    }

    fn variables(&mut self) -> VariablesView<'_> {
        VariablesView {
            variables: &self.variables,
        }
    }

    fn wide(&mut self) -> WideView<'_> {
        WideView {
            backend: &self.backends.wide,
            meter: &self.backends.names.wide,
            tables: &self.wide_tables,
        }
    }
}
