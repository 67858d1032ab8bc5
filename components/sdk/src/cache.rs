//! Typed access to `summer:platform/cache`: bytes or JSON values by key,
//! with optional expiry. Keys are confined to the calling component. Needs
//! `grants = ["cache"]`; the guide is `docs/cache.md`.
//!
//! ```no_run
//! use std::time::Duration;
//! use summer_sdk::cache;
//!
//! # fn example() -> Result<(), summer_sdk::ApiError> {
//! let hits = cache::incr("hits", 1)?;
//! cache::set_json("user:42", &serde_json::json!({ "name": "Ada" }), Some(Duration::from_secs(60)))?;
//! let cached: Option<serde_json::Value> = cache::get_json("user:42")?;
//! # let _ = (hits, cached); Ok(()) }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::bindings::summer::platform::cache as wit;

fn millis(ttl: Duration) -> u64 {
    ttl.as_millis().try_into().unwrap_or(u64::MAX)
}

/// The value at `key`, if present and not expired.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(wit::get(key)?)
}

/// The values of several keys, in order; `None` for absent ones.
pub fn get_many(keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, ApiError> {
    Ok(wit::get_many(keys)?)
}

/// Stores `value` at `key`; with `ttl`, it expires after that long.
pub fn set(key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), ApiError> {
    Ok(wit::set(key, value, ttl.map(millis))?)
}

/// Stores up to 1000 entries in one round trip, all with the same expiry.
pub fn set_many(entries: &[(String, Vec<u8>)], ttl: Option<Duration>) -> Result<(), ApiError> {
    Ok(wit::set_many(entries, ttl.map(millis))?)
}

/// Removes `key`; true when it existed.
pub fn delete(key: &str) -> Result<bool, ApiError> {
    Ok(wit::delete(key)?)
}

/// Whether `key` holds a value that has not expired.
pub fn exists(key: &str) -> Result<bool, ApiError> {
    Ok(wit::exists(key)?)
}

/// Adds `delta` to the counter at `key` (0 when absent) and returns it.
pub fn incr(key: &str, delta: i64) -> Result<i64, ApiError> {
    Ok(wit::incr(key, delta)?)
}

/// Makes an existing key expire after `ttl`; false when there is no such key.
pub fn expire(key: &str, ttl: Duration) -> Result<bool, ApiError> {
    Ok(wit::expire(key, millis(ttl))?)
}

/// The JSON value at `key`. A value that no longer parses as `T` (say, after
/// a change of shape) counts as absent, as a cache miss should.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, ApiError> {
    Ok(get(key)?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Stores `value` as JSON at `key`.
pub fn set_json<T: Serialize + ?Sized>(
    key: &str,
    value: &T,
    ttl: Option<Duration>,
) -> Result<(), ApiError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("cannot encode the cached value: {e}")))?;
    set(key, &bytes, ttl)
}
