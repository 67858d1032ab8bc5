//! Opt-in instance reuse (`instance_reuse = N` in the manifest): instances
//! of one component version that answered cleanly wait here for the next
//! request, until they have served N requests or sat idle too long. An
//! instance that trapped, timed out or was cut off is never put back.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::Proxy;

use super::state::HostState;

/// How long an instance may wait unused before it is dropped.
const IDLE_TTL: Duration = Duration::from_secs(30);
/// The most instances of one version kept waiting (each holds a slot of
/// the engine's instance pool).
const MAX_IDLE: usize = 64;

/// A store, the component instance in it once instantiated, and how many
/// requests it has served.
pub(crate) struct Instance {
    pub(crate) store: Store<HostState>,
    pub(crate) proxy: Option<Proxy>,
    served: u32,
    idle_since: Instant,
}

impl Instance {
    /// A fresh store, not instantiated yet.
    pub(crate) fn fresh(store: Store<HostState>) -> Self {
        Self {
            store,
            proxy: None,
            served: 0,
            idle_since: Instant::now(),
        }
    }
}

/// The waiting instances of one component version.
pub(crate) struct Reuse {
    max_requests: u32,
    max_idle: usize,
    idle: Mutex<Vec<Instance>>,
    /// Set once the version is out of service: nothing waits any more.
    retired: AtomicBool,
}

impl Reuse {
    /// Instances serving up to `max_requests` requests each, at most
    /// `concurrency` of them waiting.
    pub(crate) fn new(max_requests: u32, concurrency: u32) -> Self {
        Self {
            max_requests,
            max_idle: MAX_IDLE.min(concurrency as usize),
            idle: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
        }
    }

    /// An empty pool with the same settings (for a version back in service).
    pub(crate) fn renewed(&self) -> Self {
        Self {
            max_requests: self.max_requests,
            max_idle: self.max_idle,
            idle: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
        }
    }

    /// The most recently used waiting instance, if one is fresh enough.
    pub(crate) fn take(&self) -> Option<Instance> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let warm = idle.pop()?;
        if warm.idle_since.elapsed() > IDLE_TTL {
            // Everything below it has waited longer still.
            idle.clear();
            return None;
        }
        Some(warm)
    }

    /// Puts back an instance that has just answered a request, unless it
    /// has served its share or enough are waiting already.
    pub(crate) fn give_back(&self, mut warm: Instance) {
        warm.served += 1;
        if warm.served >= self.max_requests {
            return;
        }
        warm.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock, so `retire` cannot miss this instance.
        if idle.len() < self.max_idle && !self.retired.load(Ordering::Acquire) {
            idle.push(warm);
        }
    }

    /// Drops every waiting instance and keeps none from now on (the version
    /// is out of service).
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        let drained: Vec<Instance> = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *idle)
        };
        drop(drained);
    }
}
