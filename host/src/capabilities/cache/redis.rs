//! The Redis backend: one multiplexed connection that reconnects by itself
//! (redis-rs `ConnectionManager`), shared by every request.

use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::CacheBackend;
use crate::capabilities::{Capability, CapabilityError, ErrorKind};

/// How long one command may take before the call fails with `timeout`.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting (or reconnecting) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The Redis backend.
pub struct RedisBackend {
    connection: ConnectionManager,
    target: String,
}

impl RedisBackend {
    /// Connects, failing with a message naming the server when it cannot.
    pub async fn connect(host: &str, port: u16) -> Result<Self> {
        let target = format!("{host}:{port}");
        let client = redis::Client::open(format!("redis://{target}/"))
            .with_context(|| format!("invalid Redis address {target}"))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(2);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .with_context(|| format!("connecting to Redis at {target} (REDIS_HOST)"))?;
        Ok(Self { connection, target })
    }

    fn conn(&self) -> ConnectionManager {
        self.connection.clone()
    }
}

impl From<redis::RedisError> for CapabilityError {
    fn from(error: redis::RedisError) -> Self {
        classify(&error)
    }
}

fn classify(error: &redis::RedisError) -> CapabilityError {
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
    {
        ErrorKind::Unavailable
    } else if error.code().is_some() {
        // The server refused the command: wrong type, not an integer, overflow.
        ErrorKind::Invalid
    } else {
        ErrorKind::Internal
    };
    CapabilityError::from_server(Capability::Cache, kind, error)
}

fn millis(ttl: Duration) -> u64 {
    ttl.as_millis().try_into().unwrap_or(u64::MAX)
}

#[async_trait]
impl CacheBackend for RedisBackend {
    fn describe(&self) -> String {
        format!("redis ({}, multiplexed)", self.target)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CapabilityError> {
        self.conn().get(key).await.map_err(Into::into)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, CapabilityError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut self.conn())
            .await
            .map_err(Into::into)
    }

    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CapabilityError> {
        let mut command = redis::cmd("SET");
        command.arg(key).arg(value);
        if let Some(ttl) = ttl {
            command.arg("PX").arg(millis(ttl));
        }
        command
            .query_async(&mut self.conn())
            .await
            .map_err(Into::into)
    }

    async fn set_many(
        &self,
        entries: Vec<(String, Vec<u8>)>,
        ttl: Option<Duration>,
    ) -> Result<(), CapabilityError> {
        if entries.is_empty() {
            return Ok(()); // Redis refuses an empty pipeline.
        }
        let mut pipeline = redis::pipe();
        for (key, value) in entries {
            let command = pipeline.cmd("SET").arg(key).arg(value);
            if let Some(ttl) = ttl {
                command.arg("PX").arg(millis(ttl));
            }
            command.ignore();
        }
        pipeline
            .query_async(&mut self.conn())
            .await
            .map_err(Into::into)
    }

    async fn delete(&self, key: &str) -> Result<bool, CapabilityError> {
        let removed: u64 = self.conn().del(key).await?;
        Ok(removed > 0)
    }

    async fn exists(&self, key: &str) -> Result<bool, CapabilityError> {
        self.conn().exists(key).await.map_err(Into::into)
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64, CapabilityError> {
        self.conn().incr(key, delta).await.map_err(Into::into)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, CapabilityError> {
        redis::cmd("PEXPIRE")
            .arg(key)
            .arg(millis(ttl))
            .query_async(&mut self.conn())
            .await
            .map_err(Into::into)
    }
}
