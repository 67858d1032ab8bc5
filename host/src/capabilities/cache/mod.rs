//! The `cache` capability: the `CacheBackend` trait, its backends (an
//! in-process store, Redis), and the WIT host functions over them.

mod host;
mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;

pub(crate) use self::redis::{
    RedisBackend, classify as classify_redis_error, client as redis_client,
    connect as connect_redis,
};
pub(crate) use host::{CacheView, add_to_linker};
pub(crate) use memory::MemoryBackend;

use super::CapabilityError;
use crate::config::Settings;

/// A key-value store with expiry that components reach through
/// `summer:platform/cache`. Keys arrive already namespaced by the host.
#[async_trait]
pub trait CacheBackend: Send + Sync {
    /// A short description for logs.
    fn describe(&self) -> String;

    /// Closes the backend's connections at shutdown, after the last request.
    async fn close(&self) {}

    /// A round trip to the store, for readiness checks.
    async fn ping(&self) -> Result<(), CapabilityError> {
        self.exists("summer:ready-probe").await.map(drop)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CapabilityError>;

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, CapabilityError>;

    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CapabilityError>;

    /// Stores every entry, as `set` would, in one round trip where the
    /// backend allows.
    async fn set_many(
        &self,
        entries: Vec<(String, Vec<u8>)>,
        ttl: Option<Duration>,
    ) -> Result<(), CapabilityError>;

    async fn delete(&self, key: &str) -> Result<bool, CapabilityError>;

    async fn exists(&self, key: &str) -> Result<bool, CapabilityError>;

    /// Adds `delta` to the decimal integer at `key` (0 when absent); keeps the expiry.
    async fn incr(&self, key: &str, delta: i64) -> Result<i64, CapabilityError>;

    /// Sets the expiry of an existing key; false when there is no such key.
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, CapabilityError>;
}

/// Opens Redis when `REDIS_HOST` is set, the in-process store otherwise.
pub(crate) async fn open_backend(settings: &Settings) -> Result<Arc<dyn CacheBackend>> {
    if let Some(server) = settings.redis.server()? {
        return Ok(Arc::new(
            RedisBackend::connect(&settings.redis, &server).await?,
        ));
    }
    Ok(Arc::new(MemoryBackend::new()))
}

/// A time to live from the guest: milliseconds, at least one.
fn ttl_from_ms(ms: u64) -> Result<Duration, CapabilityError> {
    if ms == 0 {
        return Err(CapabilityError::invalid(
            "a time to live must be at least 1 ms",
        ));
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod conformance;
