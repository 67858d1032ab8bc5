//! Fleet deploys: hosts that share Redis and the blob store form a fleet.
//! A host that swaps a component stores its `.wasm` in the blob store,
//! records the version as the fleet's, and publishes a notice; every other
//! host fetches that version, swaps it in through the same path and
//! publishes a confirmation the deploying host collects. A host that starts
//! (or reconnects) adopts the fleet's recorded versions.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::compile_cache::content_hash;
use super::deploy::{Deployer, Trigger};
use super::loader::{LoadedComponent, short};
use crate::capabilities::blob::BlobBackend;

/// How long a deploy waits for the other hosts' confirmations.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);
/// The first wait before reconnecting a lost subscription; it doubles
/// while reconnecting fails, up to the longest.
const RECONNECT_FIRST: Duration = Duration::from_secs(1);
const RECONNECT_LONGEST: Duration = Duration::from_secs(30);
/// The chunk size of blob reads.
const READ_CHUNK: usize = 1 << 20;

/// A deploy, as published to the fleet.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Notice {
    id: uuid::Uuid,
    origin: String,
    component: String,
    version: String,
    /// The registry reference the version was pulled from, pinned to its
    /// digest, so that every host shows where it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

/// A host's answer to a notice.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Confirmation {
    /// The deploy it answers.
    pub(crate) id: uuid::Uuid,
    pub(crate) host: String,
    pub(crate) component: String,
    pub(crate) version: String,
    /// Why the host could not switch, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// What the other hosts said about one deploy.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct FleetReport {
    pub(crate) fleet: String,
    /// How many other hosts the notice reached.
    pub(crate) reached: usize,
    pub(crate) confirmations: Vec<Confirmation>,
}

/// This host's membership of a fleet.
pub(crate) struct Fleet {
    name: String,
    host: String,
    publisher: ConnectionManager,
    blob: Arc<dyn BlobBackend>,
    deployer: Arc<Deployer>,
    confirmations: broadcast::Sender<Confirmation>,
}

impl Fleet {
    /// Joins fleet `name` over the Redis `client` reaches: subscribes, then
    /// adopts the fleet's recorded versions.
    pub(crate) async fn join(
        name: &str,
        client: redis::Client,
        blob: Arc<dyn BlobBackend>,
        deployer: Arc<Deployer>,
    ) -> Result<Arc<Self>> {
        let address = client.get_connection_info().addr().to_string();
        let publisher = ConnectionManager::new(client.clone())
            .await
            .with_context(|| format!("connecting to Redis at {address} for fleet {name}"))?;
        let fleet = Arc::new(Self {
            name: name.to_owned(),
            host: host_id(),
            publisher,
            blob,
            deployer,
            confirmations: broadcast::channel(256).0,
        });
        let (subscribed, ready) = oneshot::channel();
        tokio::spawn(fleet.clone().listen(client, subscribed));
        ready
            .await
            .context("the fleet subscription ended before it began")?;
        for notice in fleet.recorded_versions().await? {
            if let Err(e) = fleet.apply(&notice).await {
                tracing::warn!(
                    component = %notice.component,
                    "kept the manifest's version, not the fleet's {}: {e:#}",
                    short(&notice.version)
                );
            }
        }
        tracing::info!(fleet = name, host = %fleet.host, "joined the fleet");
        Ok(fleet)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Tells the fleet that `component` is now serving here, and waits for
    /// every other host's confirmation (or the time-out).
    pub(crate) async fn announce(&self, component: &LoadedComponent) -> Result<FleetReport> {
        self.store_wasm(component).await?;
        let mut publisher = self.publisher.clone();
        let _: () = publisher
            .hset(self.key("versions"), &*component.name, &component.version)
            .await
            .context("recording the fleet's version")?;
        let notice = Notice {
            id: uuid::Uuid::new_v4(),
            origin: self.host.clone(),
            component: component.name.to_string(),
            version: component.version.clone(),
            source: component.pulled_from.as_deref().map(str::to_owned),
        };
        let mut confirmations = self.confirmations.subscribe();
        let receivers: usize = publisher
            .publish(self.key("deploys"), serde_json::to_string(&notice)?)
            .await
            .context("publishing the deploy to the fleet")?;
        let reached = receivers.saturating_sub(1);
        let mut report = FleetReport {
            fleet: self.name.clone(),
            reached,
            confirmations: Vec::new(),
        };
        let collect = async {
            while report.confirmations.len() < reached {
                match confirmations.recv().await {
                    Ok(c) if c.id == notice.id => report.confirmations.push(c),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        };
        if tokio::time::timeout(CONFIRM_TIMEOUT, collect)
            .await
            .is_err()
        {
            tracing::warn!(
                component = %component.name,
                "only {} of {reached} hosts confirmed within {CONFIRM_TIMEOUT:?}",
                report.confirmations.len()
            );
        }
        Ok(report)
    }

    /// Keeps a subscription to the fleet's channels, reconnecting when lost.
    async fn listen(self: Arc<Self>, client: redis::Client, subscribed: oneshot::Sender<()>) {
        let (queue, notices) = mpsc::unbounded_channel();
        tokio::spawn(self.clone().apply_notices(notices));
        let mut subscribed = Some(subscribed);
        let mut delay = RECONNECT_FIRST;
        loop {
            let started = std::time::Instant::now();
            let ended = self.subscribe(&client, &queue, &mut subscribed).await;
            if started.elapsed() > RECONNECT_LONGEST {
                delay = RECONNECT_FIRST;
            }
            if let Err(e) = ended {
                tracing::warn!(fleet = %self.name, "fleet subscription lost: {e:#}; retrying in {delay:?}");
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RECONNECT_LONGEST);
        }
    }

    /// One subscription: signals the first, or catches up with the recorded
    /// versions after a reconnection; then queues notices and passes
    /// confirmations on until the connection ends.
    async fn subscribe(
        self: &Arc<Self>,
        client: &redis::Client,
        queue: &mpsc::UnboundedSender<Notice>,
        subscribed: &mut Option<oneshot::Sender<()>>,
    ) -> Result<()> {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(self.key("deploys")).await?;
        pubsub.subscribe(self.key("confirmations")).await?;
        match subscribed.take() {
            Some(subscribed) => {
                let _ = subscribed.send(());
            }
            None => {
                for notice in self.recorded_versions().await? {
                    let _ = queue.send(notice);
                }
            }
        }
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let payload = message.get_payload_bytes();
            if message.get_channel_name() == self.key("confirmations") {
                if let Ok(confirmation) = serde_json::from_slice(payload) {
                    let _ = self.confirmations.send(confirmation);
                }
            } else {
                match serde_json::from_slice::<Notice>(payload) {
                    Ok(notice) if notice.origin != self.host => {
                        let _ = queue.send(notice);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(fleet = %self.name, "ignored a bad notice: {e}"),
                }
            }
        }
        anyhow::bail!("the connection closed")
    }

    /// The fleet's recorded version of each component that differs from
    /// the one serving here, as notices to apply (with no one to confirm to).
    async fn recorded_versions(&self) -> Result<Vec<Notice>> {
        let mut publisher = self.publisher.clone();
        let recorded: Vec<(String, String)> = publisher
            .hgetall(self.key("versions"))
            .await
            .context("reading the fleet's versions")?;
        let routing = self.deployer.registry().current();
        let differing = recorded.into_iter().filter(|(component, version)| {
            routing
                .get(component)
                .is_some_and(|serving| &serving.version != version)
        });
        Ok(differing
            .map(|(component, version)| Notice {
                id: uuid::Uuid::new_v4(),
                origin: String::new(),
                component,
                version,
                source: None,
            })
            .collect())
    }

    /// Applies notices one at a time, in the order they arrived.
    async fn apply_notices(self: Arc<Self>, mut notices: mpsc::UnboundedReceiver<Notice>) {
        while let Some(notice) = notices.recv().await {
            let error = self.apply(&notice).await.err().map(|e| format!("{e:#}"));
            if let Some(error) = &error {
                tracing::warn!(
                    component = %notice.component,
                    version = short(&notice.version),
                    "could not follow the fleet's deploy: {error}"
                );
            }
            if notice.origin.is_empty() {
                continue;
            }
            let confirmation = Confirmation {
                id: notice.id,
                host: self.host.clone(),
                component: notice.component,
                version: notice.version,
                error,
            };
            if let Err(e) = self.confirm(&confirmation).await {
                tracing::warn!(fleet = %self.name, "could not confirm a deploy: {e:#}");
            }
        }
    }

    async fn apply(&self, notice: &Notice) -> Result<()> {
        let wasm = self.wasm_of(&notice.component, &notice.version).await?;
        let source = notice.source.as_deref().map(Arc::from);
        self.deployer
            .deploy_version(&notice.component, wasm, Trigger::Fleet, source)
            .await?;
        Ok(())
    }

    async fn confirm(&self, confirmation: &Confirmation) -> Result<()> {
        let mut publisher = self.publisher.clone();
        let _: usize = publisher
            .publish(
                self.key("confirmations"),
                serde_json::to_string(confirmation)?,
            )
            .await?;
        Ok(())
    }

    /// The `.wasm` of `version`: from memory when this host has it loaded,
    /// from the blob store otherwise.
    async fn wasm_of(&self, component: &str, version: &str) -> Result<Bytes> {
        let routing = self.deployer.registry().current();
        let loaded = routing.get(component).into_iter();
        let earlier = self.deployer.earlier_versions(component).await;
        if let Some(known) = loaded.chain(earlier).find(|c| c.version == version) {
            return Ok(known.wasm.clone());
        }
        read_verified(&*self.blob, &self.wasm_key(component, version), version).await
    }

    /// Puts the `.wasm` of `component` in the blob store, unless it is there.
    async fn store_wasm(&self, component: &LoadedComponent) -> Result<()> {
        let key = self.wasm_key(&component.name, &component.version);
        if self.blob.head(&key).await?.is_some() {
            return Ok(());
        }
        let mut writer = self.blob.create(&key, "application/wasm").await?;
        writer.write(&component.wasm).await?;
        writer
            .finish()
            .await
            .with_context(|| format!("storing {key} in the blob store"))?;
        Ok(())
    }

    fn wasm_key(&self, component: &str, version: &str) -> String {
        format!("_summer/fleet/{}/{component}/{version}.wasm", self.name)
    }

    fn key(&self, what: &str) -> String {
        format!("summer:fleet:{}:{what}", self.name)
    }
}

/// Reads the `.wasm` at `key` and checks that its SHA-256 is `version`, the
/// version announced: bytes that were changed in the blob store are refused.
async fn read_verified(blob: &dyn BlobBackend, key: &str, version: &str) -> Result<Bytes> {
    let mut reader = blob
        .open(key)
        .await
        .with_context(|| format!("fetching {key} from the blob store"))?;
    let mut wasm = Vec::with_capacity(reader.info().size as usize);
    loop {
        let chunk = reader.read(READ_CHUNK).await?;
        if chunk.is_empty() {
            break;
        }
        wasm.extend_from_slice(&chunk);
    }
    let found = content_hash(&wasm);
    if found != version {
        bail!(
            "refused {key}: its SHA-256 is {found}, not the announced version {version} \
             (the object was changed in the blob store)"
        );
    }
    Ok(wasm.into())
}

/// This host's name in the fleet: its hostname and process id.
fn host_id() -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_owned());
    format!("{}/{}", hostname.trim(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::blob::{LocalBackend, S3Backend};

    async fn put(blob: &dyn BlobBackend, key: &str, bytes: &[u8]) {
        let mut writer = blob.create(key, "application/wasm").await.unwrap();
        writer.write(bytes).await.unwrap();
        writer.finish().await.unwrap();
    }

    /// Stores a version, checks it reads back, then tampers with it.
    async fn a_tampered_version_is_refused(blob: &dyn BlobBackend) {
        let wasm = format!("a component {}", uuid::Uuid::new_v4()).into_bytes();
        let version = content_hash(&wasm);
        let key = format!("_summer/fleet/test/faults/{version}.wasm");
        put(blob, &key, &wasm).await;
        let read = read_verified(blob, &key, &version).await.unwrap();
        assert_eq!(read, wasm);

        let mut tampered = wasm.clone();
        tampered[0] ^= 1;
        put(blob, &key, &tampered).await;
        let error = read_verified(blob, &key, &version).await.unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("not the announced version"), "{message}");
        assert!(message.contains(&content_hash(&tampered)), "{message}");
        blob.delete(&key).await.unwrap();
    }

    #[tokio::test]
    async fn a_tampered_version_is_refused_from_a_local_store() {
        let dir = tempfile::tempdir().unwrap();
        let blob = LocalBackend::open(dir.path()).await.unwrap();
        a_tampered_version_is_refused(&blob).await;
    }

    /// The real S3 server of `tooling/services up`. Unreachable is a failure.
    #[tokio::test]
    async fn a_tampered_version_is_refused_from_s3() {
        let settings = crate::config::real_services().storage;
        let endpoint = settings.server().unwrap().expect("STORAGE_ENDPOINT");
        let blob = S3Backend::connect(&settings, &endpoint)
            .await
            .expect("S3 is not reachable; start it with `tooling/services up s3`");
        a_tampered_version_is_refused(&blob).await;
    }
}
