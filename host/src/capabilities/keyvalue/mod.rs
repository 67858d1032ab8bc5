//! The `keyvalue` capability: the standard `wasi:keyvalue` interfaces
//! (store, atomics, batch) at the draft versions other hosts serve, over the
//! `KeyValueBackend` trait and its backends (an embedded SQLite store, Redis).

mod embedded;
mod host;
mod redis;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;

pub(crate) use embedded::EmbeddedBackend;
pub(crate) use host::{KeyValueView, add_to_linker};
pub(crate) use redis::RedisBackend;

use super::CapabilityError;
use crate::config::Settings;

/// The `wasi:keyvalue` versions Summer serves, each linked on its own
/// (pre-release versions are not semver-compatible with each other).
pub(crate) const VERSIONS: [&str; 2] = ["0.2.0-draft", "0.2.0-draft2"];

/// The keys one `list-keys` page holds: at most this many on the embedded
/// store, about as many on Redis (HSCAN takes its count as a hint).
pub(crate) const PAGE_SIZE: usize = 500;

/// One bucket of one namespace: the keys a component reaches after
/// `open(bucket)`. Two keyspaces never share a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyspace {
    pub(crate) namespace: Arc<str>,
    pub(crate) bucket: String,
}

impl fmt::Display for Keyspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.bucket)
    }
}

/// One page of `list-keys`: the keys, and where the next page starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPage {
    pub(crate) keys: Vec<String>,
    /// None on the last page.
    pub(crate) cursor: Option<u64>,
}

/// A store of byte values by key, grouped in keyspaces, that components
/// reach through `wasi:keyvalue`. Values do not expire.
#[async_trait]
pub trait KeyValueBackend: Send + Sync {
    /// A short description for logs.
    fn describe(&self) -> String;

    /// Closes the backend's connections at shutdown, after the last request.
    async fn close(&self) {}

    /// A round trip to the store, for readiness checks.
    async fn ping(&self) -> Result<(), CapabilityError>;

    async fn get(&self, space: &Keyspace, key: &str) -> Result<Option<Vec<u8>>, CapabilityError>;

    /// The value of each key, in the order of `keys`.
    async fn get_many(
        &self,
        space: &Keyspace,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, CapabilityError>;

    async fn set(&self, space: &Keyspace, key: &str, value: Vec<u8>)
    -> Result<(), CapabilityError>;

    async fn set_many(
        &self,
        space: &Keyspace,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), CapabilityError>;

    /// Removes the keys that exist; the others are skipped.
    async fn delete_many(&self, space: &Keyspace, keys: &[String]) -> Result<(), CapabilityError>;

    async fn exists(&self, space: &Keyspace, key: &str) -> Result<bool, CapabilityError>;

    /// One page of the keyspace's keys, in no particular order, from
    /// `cursor` (the start when None). Following the cursors from the start
    /// visits every key that exists throughout.
    async fn list_keys(
        &self,
        space: &Keyspace,
        cursor: Option<u64>,
    ) -> Result<KeyPage, CapabilityError>;

    /// Adds `delta` to the decimal integer at `key` (0 when absent), as one
    /// atomic step; returns the new value.
    async fn increment(
        &self,
        space: &Keyspace,
        key: &str,
        delta: i64,
    ) -> Result<i64, CapabilityError>;

    /// Writes `value` only if the key still holds `expected` (None: the key
    /// is absent), as one atomic step; false when it did not.
    async fn compare_and_swap(
        &self,
        space: &Keyspace,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
    ) -> Result<bool, CapabilityError>;
}

/// Opens Redis when `REDIS_HOST` or `REDIS_URL` is set, the embedded store
/// under the data directory otherwise.
pub(crate) async fn open_backend(settings: &Settings) -> Result<Arc<dyn KeyValueBackend>> {
    if let Some(server) = settings.redis.server()? {
        return Ok(Arc::new(
            RedisBackend::connect(&settings.redis, &server).await?,
        ));
    }
    let path = settings.data_dir.join("keyvalue.db");
    Ok(Arc::new(EmbeddedBackend::open(&path).await?))
}

/// The buckets a component may open: any, or those the manifest lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Buckets {
    #[default]
    Any,
    Only(BTreeSet<String>),
}

impl Buckets {
    pub(crate) fn allows(&self, bucket: &str) -> bool {
        match self {
            Buckets::Any => true,
            Buckets::Only(names) => names.contains(bucket),
        }
    }
}

/// Checks a bucket name: 1 to 64 letters, digits, `-`, `_` or `.`.
pub(crate) fn check_bucket(name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "bucket name {name:?} must be 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    }
}

/// `current + delta`, refused when it leaves the `i64` range.
fn add_counter(current: i64, delta: i64) -> Result<i64, CapabilityError> {
    current
        .checked_add(delta)
        .ok_or_else(|| CapabilityError::invalid("increment or decrement would overflow"))
}

#[cfg(test)]
mod conformance;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_short_and_plain() {
        for good in ["default", "a", "sessions-2024", "x.y_z"] {
            assert!(check_bucket(good).is_ok(), "{good}");
        }
        for bad in ["", "a/b", "a:b", "a b", "é", &"x".repeat(65)] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bucket_list_allows_only_its_names() {
        let only = Buckets::Only(["default".to_string()].into());
        assert!(only.allows("default"));
        assert!(!only.allows("other"));
        assert!(Buckets::Any.allows("other"));
    }
}
