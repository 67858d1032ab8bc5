//! The Redis key-value backend: a bucket is one Redis hash
//! (`{namespace}/kv/{bucket}`), so a listing scans only its own bucket and
//! a bucket's keys never meet the `cache` capability's.

use anyhow::Result;
use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::{KeyPage, KeyValueBackend, Keyspace, PAGE_SIZE};
use crate::capabilities::cache::{classify_redis_error, connect_redis};
use crate::capabilities::{Capability, CapabilityError};
use crate::config::{RedisServer, RedisSettings};

/// Writes the field only if it still holds the expected value (or, with
/// `ARGV[1] = 0`, is still absent): the read and the write are one step.
const COMPARE_AND_SWAP: &str = r"
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  if current ~= ARGV[3] then return 0 end
elseif current then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1
";

/// The Redis key-value backend.
pub(crate) struct RedisBackend {
    connection: ConnectionManager,
    target: String,
    compare_and_swap: redis::Script,
}

impl RedisBackend {
    /// Connects, failing with a message naming the server when it cannot.
    pub(crate) async fn connect(settings: &RedisSettings, server: &RedisServer) -> Result<Self> {
        let (connection, target) = connect_redis(settings, server).await?;
        Ok(Self {
            connection,
            target,
            compare_and_swap: redis::Script::new(COMPARE_AND_SWAP),
        })
    }

    fn conn(&self) -> ConnectionManager {
        self.connection.clone()
    }
}

/// The Redis hash that holds a keyspace.
fn hash(space: &Keyspace) -> String {
    format!("{}/kv/{}", space.namespace, space.bucket)
}

fn classify(error: redis::RedisError) -> CapabilityError {
    classify_redis_error(Capability::Keyvalue, &error)
}

#[async_trait]
impl KeyValueBackend for RedisBackend {
    fn describe(&self) -> String {
        format!("redis ({}, multiplexed)", self.target)
    }

    async fn ping(&self) -> Result<(), CapabilityError> {
        redis::cmd("PING")
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(classify)
    }

    async fn get(&self, space: &Keyspace, key: &str) -> Result<Option<Vec<u8>>, CapabilityError> {
        self.conn().hget(hash(space), key).await.map_err(classify)
    }

    async fn get_many(
        &self,
        space: &Keyspace,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, CapabilityError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        redis::cmd("HMGET")
            .arg(hash(space))
            .arg(keys)
            .query_async(&mut self.conn())
            .await
            .map_err(classify)
    }

    async fn set(
        &self,
        space: &Keyspace,
        key: &str,
        value: Vec<u8>,
    ) -> Result<(), CapabilityError> {
        self.conn()
            .hset::<_, _, _, ()>(hash(space), key, value)
            .await
            .map_err(classify)
    }

    async fn set_many(
        &self,
        space: &Keyspace,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), CapabilityError> {
        if entries.is_empty() {
            return Ok(()); // HSET needs at least one field.
        }
        self.conn()
            .hset_multiple::<_, _, _, ()>(hash(space), &entries)
            .await
            .map_err(classify)
    }

    async fn delete_many(&self, space: &Keyspace, keys: &[String]) -> Result<(), CapabilityError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.conn()
            .hdel::<_, _, ()>(hash(space), keys)
            .await
            .map_err(classify)
    }

    async fn exists(&self, space: &Keyspace, key: &str) -> Result<bool, CapabilityError> {
        self.conn()
            .hexists(hash(space), key)
            .await
            .map_err(classify)
    }

    async fn list_keys(
        &self,
        space: &Keyspace,
        cursor: Option<u64>,
    ) -> Result<KeyPage, CapabilityError> {
        let (next, pairs): (u64, Vec<Vec<u8>>) = redis::cmd("HSCAN")
            .arg(hash(space))
            .arg(cursor.unwrap_or(0))
            .arg("COUNT")
            .arg(PAGE_SIZE)
            .query_async(&mut self.conn())
            .await
            .map_err(classify)?;
        // HSCAN answers field, value, field, value, ...
        let keys = pairs
            .into_iter()
            .step_by(2)
            .map(|key| String::from_utf8_lossy(&key).into_owned())
            .collect();
        Ok(KeyPage {
            keys,
            cursor: (next != 0).then_some(next),
        })
    }

    async fn increment(
        &self,
        space: &Keyspace,
        key: &str,
        delta: i64,
    ) -> Result<i64, CapabilityError> {
        self.conn()
            .hincr(hash(space), key, delta)
            .await
            .map_err(classify)
    }

    async fn compare_and_swap(
        &self,
        space: &Keyspace,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
    ) -> Result<bool, CapabilityError> {
        let mut invocation = self.compare_and_swap.key(hash(space));
        invocation
            .arg(key)
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(value);
        let swapped: i64 = invocation
            .invoke_async(&mut self.conn())
            .await
            .map_err(classify)?;
        Ok(swapped == 1)
    }
}
