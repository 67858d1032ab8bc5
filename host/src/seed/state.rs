//! The store data of a seed run: a component's sandbox, as a request's,
//! plus where its progress goes.

use std::sync::Arc;

use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

use super::progress::Progress;
use crate::capabilities::CapabilityState;
use crate::capabilities::blob::BlobView;
use crate::capabilities::cache::CacheView;
use crate::capabilities::graph::GraphView;
use crate::capabilities::keyvalue::KeyValueView;
use crate::capabilities::sql::SqlView;
use crate::capabilities::variables::VariablesView;
use crate::capabilities::wide::WideView;
use crate::runtime::state::HostState;

/// A seed component's store: the sandbox every View is lent from, and the
/// run's progress.
pub(crate) struct SeedState {
    pub(crate) host: HostState,
    pub(crate) progress: Arc<Progress>,
}

impl WasiView for SeedState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.host.ctx()
    }
}

impl WasiHttpView for SeedState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.host.http()
    }
}

impl CapabilityState for SeedState {
    fn sql(&mut self) -> SqlView<'_> {
        self.host.sql()
    }

    fn cache(&mut self) -> CacheView<'_> {
        self.host.cache()
    }

    fn blob(&mut self) -> BlobView<'_> {
        self.host.blob()
    }

    fn graph(&mut self) -> GraphView<'_> {
        self.host.graph()
    }

    fn wide(&mut self) -> WideView<'_> {
        self.host.wide()
    }

    fn blobstore(&mut self) -> BlobView<'_> {
        self.host.blobstore()
    }

    fn keyvalue(&mut self) -> KeyValueView<'_> {
        self.host.keyvalue()
    }

    fn variables(&mut self) -> VariablesView<'_> {
        self.host.variables()
    }
}
