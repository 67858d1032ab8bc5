//! The Redis backend: one multiplexed connection that reconnects by itself
//! (redis-rs `ConnectionManager`), shared by every request.

use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::CacheBackend;
use crate::capabilities::{Capability, CapabilityError, ErrorKind};
use crate::config::{RedisServer, RedisSettings};

/// How long one command may take before the call fails with `timeout`.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting (or reconnecting) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The Redis backend.
pub(crate) struct RedisBackend {
    connection: ConnectionManager,
    target: String,
}

/// A client of the configured server, over TLS when a `rediss://` URL or
/// REDIS_TLS asks for it, trusting REDIS_TLS_CA_FILE's authorities when
/// given; and the setting it came from, for messages.
pub(crate) fn client(
    settings: &RedisSettings,
    server: &RedisServer,
) -> Result<(redis::Client, &'static str)> {
    crate::capabilities::tls::install_provider();
    let (url, setting) = match server {
        RedisServer::Url(url) => (url.clone(), "REDIS_URL"),
        RedisServer::Address { host, port, tls } => {
            let scheme = if *tls { "rediss" } else { "redis" };
            (format!("{scheme}://{host}:{port}/"), "REDIS_HOST")
        }
    };
    let client = match &settings.tls_ca_file {
        None => redis::Client::open(url.as_str()),
        Some(path) => {
            let pem = crate::capabilities::tls::read_authorities(path, "REDIS_TLS_CA_FILE")?;
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem),
            };
            redis::Client::build_with_tls(url.as_str(), certificates)
        }
    };
    // The error says what is wrong with the URL without repeating it: it
    // may hold a password.
    let client =
        client.map_err(|e| anyhow::anyhow!("{setting} is not a usable Redis address: {e}"))?;
    Ok((client, setting))
}

impl RedisBackend {
    /// Connects, failing with a message naming the server (and, for TLS,
    /// why its certificate was refused) when it cannot.
    pub(crate) async fn connect(settings: &RedisSettings, server: &RedisServer) -> Result<Self> {
        let (connection, target) = connect(settings, server).await?;
        Ok(Self { connection, target })
    }

    fn conn(&self) -> ConnectionManager {
        self.connection.clone()
    }
}

/// A multiplexed connection to the configured server that reconnects by
/// itself, and the server's address for logs.
pub(crate) async fn connect(
    settings: &RedisSettings,
    server: &RedisServer,
) -> Result<(ConnectionManager, String)> {
    let (client, setting) = client(settings, server)?;
    let target = client.get_connection_info().addr().to_string();
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_number_of_retries(2);
    let connection = ConnectionManager::new_with_config(client, config)
        .await
        .with_context(|| format!("connecting to Redis at {target} ({setting})"))?;
    Ok((connection, target))
}

impl From<redis::RedisError> for CapabilityError {
    fn from(error: redis::RedisError) -> Self {
        classify(Capability::Cache, &error)
    }
}

/// The capability error a Redis error is, for calls of `capability`.
pub(crate) fn classify(capability: Capability, error: &redis::RedisError) -> CapabilityError {
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
    CapabilityError::from_server(capability, kind, error)
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
