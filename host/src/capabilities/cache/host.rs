//! The `summer:platform/cache` host functions: keys are put in the calling
//! component's namespace, then handed to the configured `CacheBackend`.

use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{HasData, Linker};

use super::{CacheBackend, ttl_from_ms};
use crate::capabilities::BackendName;
use crate::capabilities::{CapabilityError, CapabilityState, guest_call};
use crate::observe::metrics::metrics;

/// The most entries one `set-many` may carry.
const MAX_ENTRIES: usize = 1000;
use crate::capabilities::bindings::summer::platform::{cache as wit, types::Error};

/// What the `cache` host functions need from the store.
pub(crate) struct CacheView<'a> {
    pub(crate) backend: &'a Arc<dyn CacheBackend>,
    pub(crate) meter: &'a BackendName,
    /// Prefix that confines keys to one component.
    pub(crate) namespace: &'a str,
}

impl CacheView<'_> {
    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.namespace)
    }
}

struct CacheData;

impl HasData for CacheData {
    type Data<'a> = CacheView<'a>;
}

/// Links `summer:platform/cache` into `linker`.
pub(crate) fn add_to_linker<T: CapabilityState>(linker: &mut Linker<T>) -> Result<()> {
    wit::add_to_linker::<T, CacheData>(linker, |state| state.cache())?;
    Ok(())
}

type GuestResult<T> = wasmtime::Result<Result<T, Error>>;

/// Counts the hits and misses of one read in the cache metrics.
fn count_lookups(values: &[Option<Vec<u8>>]) {
    let hits = values.iter().filter(|v| v.is_some()).count() as u64;
    metrics().cache_lookups(hits, values.len() as u64 - hits);
}

impl wit::Host for CacheView<'_> {
    async fn get(&mut self, key: String) -> GuestResult<Option<Vec<u8>>> {
        let found = async {
            let value = self.backend.get(&self.key(&key)).await?;
            count_lookups(std::slice::from_ref(&value));
            Ok(value)
        };
        guest_call(self.meter, "get", found).await
    }

    async fn get_many(&mut self, keys: Vec<String>) -> GuestResult<Vec<Option<Vec<u8>>>> {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let found = async {
            let values = self.backend.get_many(&keys).await?;
            count_lookups(&values);
            Ok(values)
        };
        guest_call(self.meter, "get-many", found).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: Option<u64>) -> GuestResult<()> {
        let ttl = match ttl_ms.map(ttl_from_ms).transpose() {
            Ok(ttl) => ttl,
            Err(e) => return Ok(Err(e.into())),
        };
        guest_call(
            self.meter,
            "set",
            self.backend.set(&self.key(&key), value, ttl),
        )
        .await
    }

    async fn set_many(
        &mut self,
        entries: Vec<(String, Vec<u8>)>,
        ttl_ms: Option<u64>,
    ) -> GuestResult<()> {
        if entries.len() > MAX_ENTRIES {
            let message = format!("set-many takes at most {MAX_ENTRIES} entries");
            return Ok(Err(CapabilityError::invalid(message).into()));
        }
        let ttl = match ttl_ms.map(ttl_from_ms).transpose() {
            Ok(ttl) => ttl,
            Err(e) => return Ok(Err(e.into())),
        };
        let entries = entries
            .into_iter()
            .map(|(key, value)| (self.key(&key), value))
            .collect();
        guest_call(self.meter, "set-many", self.backend.set_many(entries, ttl)).await
    }

    async fn delete(&mut self, key: String) -> GuestResult<bool> {
        guest_call(self.meter, "delete", self.backend.delete(&self.key(&key))).await
    }

    async fn exists(&mut self, key: String) -> GuestResult<bool> {
        guest_call(self.meter, "exists", self.backend.exists(&self.key(&key))).await
    }

    async fn incr(&mut self, key: String, delta: i64) -> GuestResult<i64> {
        guest_call(
            self.meter,
            "incr",
            self.backend.incr(&self.key(&key), delta),
        )
        .await
    }

    async fn expire(&mut self, key: String, ttl_ms: u64) -> GuestResult<bool> {
        let ttl = match ttl_from_ms(ttl_ms) {
            Ok(ttl) => ttl,
            Err(e) => return Ok(Err(e.into())),
        };
        guest_call(
            self.meter,
            "expire",
            self.backend.expire(&self.key(&key), ttl),
        )
        .await
    }
}
