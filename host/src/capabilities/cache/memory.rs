//! The embedded cache: an in-process map with per-key expiry. Expired keys
//! are dropped when touched and swept periodically, so memory follows the
//! live keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::CacheBackend;
use crate::capabilities::CapabilityError;
use crate::capabilities::parse_counter;

/// Writes between sweeps of expired keys.
const SWEEP_EVERY: u64 = 1024;

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

/// The in-process cache.
#[derive(Default)]
pub(crate) struct MemoryBackend {
    entries: Mutex<HashMap<String, Entry>>,
    writes: AtomicU64,
}

impl MemoryBackend {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on the map with the key's expired entry (if any) removed.
    fn with_live<R>(
        &self,
        key: &str,
        f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> R,
    ) -> R {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if entries.get(key).is_some_and(|e| !e.live(now)) {
            entries.remove(key);
        }
        f(&mut entries, now)
    }

    fn wrote(&self) {
        if self.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let mut entries = self
                .entries
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            entries.retain(|_, e| e.live(now));
        }
    }

    /// Number of keys held, live or not yet swept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[async_trait]
impl CacheBackend for MemoryBackend {
    fn describe(&self) -> String {
        "embedded in-process store".into()
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CapabilityError> {
        Ok(self.with_live(key, |entries, _| entries.get(key).map(|e| e.value.clone())))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, CapabilityError> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        Ok(keys
            .iter()
            .map(|k| {
                entries
                    .get(k)
                    .filter(|e| e.live(now))
                    .map(|e| e.value.clone())
            })
            .collect())
    }

    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CapabilityError> {
        self.with_live(key, |entries, now| {
            let expires = ttl.map(|ttl| now + ttl);
            entries.insert(key.to_owned(), Entry { value, expires });
        });
        self.wrote();
        Ok(())
    }

    async fn set_many(
        &self,
        entries: Vec<(String, Vec<u8>)>,
        ttl: Option<Duration>,
    ) -> Result<(), CapabilityError> {
        for (key, value) in entries {
            self.set(&key, value, ttl).await?;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, CapabilityError> {
        Ok(self.with_live(key, |entries, _| entries.remove(key).is_some()))
    }

    async fn exists(&self, key: &str) -> Result<bool, CapabilityError> {
        Ok(self.with_live(key, |entries, _| entries.contains_key(key)))
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64, CapabilityError> {
        let result = self.with_live(key, |entries, _| {
            let current = match entries.get(key) {
                Some(entry) => parse_counter(&entry.value)?,
                None => 0,
            };
            let next = current
                .checked_add(delta)
                .ok_or_else(|| CapabilityError::invalid("increment would overflow"))?;
            let expires = entries.get(key).and_then(|e| e.expires);
            let value = next.to_string().into_bytes();
            entries.insert(key.to_owned(), Entry { value, expires });
            Ok(next)
        });
        self.wrote();
        result
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, CapabilityError> {
        Ok(
            self.with_live(key, |entries, now| match entries.get_mut(key) {
                Some(entry) => {
                    entry.expires = Some(now + ttl);
                    true
                }
                None => false,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expired_keys_are_swept_as_writes_go_on() {
        let cache = MemoryBackend::new();
        for i in 0..100 {
            let key = format!("short-{i}");
            cache
                .set(&key, vec![1], Some(Duration::from_millis(1)))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        for i in 0..SWEEP_EVERY {
            cache
                .set("busy", i.to_string().into_bytes(), None)
                .await
                .unwrap();
        }
        assert_eq!(cache.len(), 1, "expired keys were kept");
    }
}
