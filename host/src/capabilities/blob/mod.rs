//! The `blob` capability: the `BlobBackend` trait with chunked writers and
//! readers, its backends (a local directory; S3), and the host functions
//! over them: `summer:platform/blob` and `wasi:blobstore`.

mod blobstore;
mod host;
mod local;
mod s3;
mod values;

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;

pub(crate) use blobstore::{
    VERSIONS as BLOBSTORE_VERSIONS, add_to_linker as add_blobstore_to_linker,
};
pub(crate) use host::{BlobView, add_to_linker};
pub use host::{ReaderHandle, WriterHandle};
pub(crate) use local::LocalBackend;
pub(crate) use s3::S3Backend;

use super::CapabilityError;
pub(crate) use super::bindings::summer::platform::blob::{Listing, ObjectInfo};
use crate::config::Settings;

/// The longest key a component may use, in bytes (S3's limit).
pub(crate) const MAX_KEY_BYTES: usize = 1024;
/// The most objects one `list` call returns.
pub(crate) const MAX_LIST_LIMIT: u32 = 1000;
/// The most bytes one `read` call returns.
pub(crate) const MAX_READ_BYTES: u32 = 1 << 20;

/// Object storage that components reach through `summer:platform/blob`.
/// Keys arrive already namespaced by the host.
#[async_trait]
pub trait BlobBackend: Send + Sync {
    /// A short description for logs.
    fn describe(&self) -> String;

    /// Closes the backend's connections at shutdown, after the last request.
    async fn close(&self) {}

    /// A round trip to the store, for readiness checks.
    async fn ping(&self) -> Result<(), CapabilityError> {
        self.head("summer-ready-probe").await.map(drop)
    }

    /// Starts writing `key`; nothing is visible until the writer finishes.
    async fn create(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobWriter>, CapabilityError>;

    /// Opens `key` for reading; `not-found` when absent.
    async fn open(&self, key: &str) -> Result<Box<dyn BlobReader>, CapabilityError>;

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, CapabilityError>;

    async fn delete(&self, key: &str) -> Result<bool, CapabilityError>;

    /// Keys starting with `prefix` after `cursor` (exclusive), in key order.
    async fn list(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing, CapabilityError>;

    /// Like `list`, names only: a backend that needs a request per object
    /// for its info can skip them.
    async fn list_keys(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<KeyListing, CapabilityError> {
        let listing = self.list(prefix, limit, cursor).await?;
        Ok(KeyListing {
            keys: listing.objects.into_iter().map(|o| o.key).collect(),
            cursor: listing.cursor,
        })
    }

    /// Opens bytes `first..=last` of `key` for reading, clamped to the
    /// object (empty when `first` is past its end); `not-found` when absent.
    /// The reader's info is the whole object's.
    async fn open_range(
        &self,
        key: &str,
        first: u64,
        last: u64,
    ) -> Result<Box<dyn BlobReader>, CapabilityError>;

    /// Stores an empty object at `key` unless one exists, atomically; true
    /// when this call created it.
    async fn create_if_absent(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<bool, CapabilityError>;

    /// Copies `from` to `to`, replacing `to`; `not-found` when `from` is absent.
    async fn copy(&self, from: &str, to: &str) -> Result<ObjectInfo, CapabilityError>;

    /// Moves `from` to `to`, replacing `to`; `not-found` when `from` is absent.
    async fn rename(&self, from: &str, to: &str) -> Result<ObjectInfo, CapabilityError> {
        let info = self.copy(from, to).await?;
        self.delete(from).await?;
        Ok(info)
    }

    /// Deletes every key of `keys` that exists.
    async fn delete_many(&self, keys: &[String]) -> Result<(), CapabilityError> {
        for key in keys {
            self.delete(key).await?;
        }
        Ok(())
    }
}

/// One page of key names.
#[derive(Debug, Default, PartialEq)]
pub struct KeyListing {
    pub keys: Vec<String>,
    /// Where the next page starts; None on the last page.
    pub cursor: Option<String>,
}

/// The bytes `first..=last` of an object of `size` bytes that exist, as a
/// start and a length.
pub(crate) fn clamp_range(size: u64, first: u64, last: u64) -> (u64, u64) {
    if first >= size || last < first {
        return (first.min(size), 0);
    }
    let last = last.min(size - 1);
    (first, last - first + 1)
}

/// An object being written.
#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), CapabilityError>;

    /// Stores the object atomically, replacing any with the same key.
    async fn finish(self: Box<Self>) -> Result<ObjectInfo, CapabilityError>;
}

/// An object being read.
#[async_trait]
pub trait BlobReader: Send {
    fn info(&self) -> &ObjectInfo;

    /// The next bytes, at most `max`; empty at the end.
    async fn read(&mut self, max: usize) -> Result<Vec<u8>, CapabilityError>;
}

/// Opens S3 when `STORAGE_ENDPOINT` is set, the local directory store under
/// the data directory otherwise.
pub async fn open_backend(settings: &Settings) -> Result<Arc<dyn BlobBackend>> {
    if let Some(endpoint) = settings.storage.server()? {
        return Ok(Arc::new(
            S3Backend::connect(&settings.storage, &endpoint).await?,
        ));
    }
    Ok(Arc::new(
        LocalBackend::open(&settings.data_dir.join("blobs")).await?,
    ))
}

/// Checks a key from a component: 1 to 1024 bytes, no NUL.
fn check_key(key: &str) -> Result<(), CapabilityError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || key.contains('\0') {
        return Err(CapabilityError::invalid(format!(
            "a blob key must be 1 to {MAX_KEY_BYTES} bytes without NUL"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod conformance;
