//! Per-request store data: the WASI and wasi:http contexts, the resource
//! table, the memory limiter and the host's capability backends.

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::loader::LoadedComponent;
use crate::capabilities::blob::BlobView;
use crate::capabilities::graph::GraphView;
use crate::capabilities::wide::{TableSet, WideView};
use crate::capabilities::{Backends, CapabilityState, cache::CacheView, sql::SqlView};

/// The data of one request's `Store`.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: DenyOutgoing,
    table: ResourceTable,
    backends: Backends,
    namespace: std::sync::Arc<str>,
    wide_tables: std::sync::Arc<TableSet>,
    pub(crate) limits: StoreLimits,
    /// Where a seed component's progress goes (seed runs only).
    pub(crate) progress: Option<std::sync::Arc<crate::seed::Progress>>,
}

impl HostState {
    /// A sandbox with no filesystem, no environment, no sockets and no
    /// outgoing HTTP; stdout and stderr go to the host's.
    pub fn new(backends: Backends, component: &LoadedComponent) -> Self {
        Self::sandbox(
            backends,
            component.namespace.clone(),
            component.wide_tables.clone(),
            component.limits.memory_bytes,
        )
    }

    /// The same sandbox for any component: its namespace, its wide tables
    /// and its memory limit.
    pub fn sandbox(
        backends: Backends,
        namespace: std::sync::Arc<str>,
        wide_tables: std::sync::Arc<TableSet>,
        memory_bytes: usize,
    ) -> Self {
        let wasi = WasiCtx::builder().inherit_stdout().inherit_stderr().build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .trap_on_grow_failure(false)
            .build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: DenyOutgoing,
            table: ResourceTable::new(),
            backends,
            namespace,
            wide_tables,
            limits,
            progress: None,
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
            table: &mut self.table,
        }
    }

    fn cache(&mut self) -> CacheView<'_> {
        CacheView {
            backend: &self.backends.cache,
            namespace: &self.namespace,
        }
    }

    fn blob(&mut self) -> BlobView<'_> {
        BlobView {
            backend: &self.backends.blob,
            namespace: &self.namespace,
            table: &mut self.table,
        }
    }

    fn graph(&mut self) -> GraphView<'_> {
        GraphView {
            backend: &self.backends.graph,
            namespace: &self.namespace,
        }
    }

    fn wide(&mut self) -> WideView<'_> {
        WideView {
            backend: &self.backends.wide,
            tables: &self.wide_tables,
        }
    }
}

/// Refuses every outgoing HTTP request: components get no network unless a
/// later grant allows specific hosts.
struct DenyOutgoing;

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for DenyOutgoing {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
