//! The `summer:platform/blob` host functions: keys are put in the calling
//! component's namespace, writers and readers live in the store's resource
//! table, and chunks pass through without the whole object in memory.

use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::{
    BlobBackend, BlobReader, BlobWriter, Listing, MAX_LIST_LIMIT, MAX_READ_BYTES, ObjectInfo,
    check_key,
};
use crate::capabilities::bindings::summer::platform::{blob as wit, types::Error};
use crate::capabilities::{CapabilityError, CapabilityState};

/// A guest's object being written.
pub struct WriterHandle {
    writer: Box<dyn BlobWriter>,
    namespace_len: usize,
}

/// A guest's object being read.
pub struct ReaderHandle {
    reader: Box<dyn BlobReader>,
    namespace_len: usize,
}

/// What the `blob` host functions need from the store.
pub struct BlobView<'a> {
    pub backend: &'a Arc<dyn BlobBackend>,
    /// Prefix that confines keys to one component.
    pub namespace: &'a str,
    pub table: &'a mut ResourceTable,
}

impl BlobView<'_> {
    fn prefix(&self) -> String {
        format!("{}/", self.namespace)
    }

    fn key(&self, key: &str) -> Result<String, CapabilityError> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix()))
    }
}

/// The info of an object as the guest sees it: without the namespace.
fn unprefixed(mut info: ObjectInfo, namespace_len: usize) -> ObjectInfo {
    info.key = info.key.split_off(namespace_len);
    info
}

struct BlobData;

impl HasData for BlobData {
    type Data<'a> = BlobView<'a>;
}

/// Links `summer:platform/blob` into `linker`.
pub fn add_to_linker<T: CapabilityState>(linker: &mut Linker<T>) -> Result<()> {
    wit::add_to_linker::<T, BlobData>(linker, |state| state.blob())?;
    Ok(())
}

type GuestResult<T> = wasmtime::Result<Result<T, Error>>;

impl wit::Host for BlobView<'_> {
    async fn create(
        &mut self,
        key: String,
        content_type: String,
    ) -> GuestResult<Resource<WriterHandle>> {
        let created = match self.key(&key) {
            Ok(key) => self.backend.create(&key, &content_type).await,
            Err(e) => Err(e),
        };
        match created {
            Ok(writer) => {
                let namespace_len = self.prefix().len();
                Ok(Ok(self.table.push(WriterHandle {
                    writer,
                    namespace_len,
                })?))
            }
            Err(e) => Ok(Err(e.into())),
        }
    }

    async fn open(&mut self, key: String) -> GuestResult<Resource<ReaderHandle>> {
        let opened = match self.key(&key) {
            Ok(key) => self.backend.open(&key).await,
            Err(e) => Err(e),
        };
        match opened {
            Ok(reader) => {
                let namespace_len = self.prefix().len();
                Ok(Ok(self.table.push(ReaderHandle {
                    reader,
                    namespace_len,
                })?))
            }
            Err(e) => Ok(Err(e.into())),
        }
    }

    async fn head(&mut self, key: String) -> GuestResult<Option<ObjectInfo>> {
        let namespace_len = self.prefix().len();
        let found = match self.key(&key) {
            Ok(key) => self.backend.head(&key).await,
            Err(e) => Err(e),
        };
        Ok(found
            .map(|info| info.map(|i| unprefixed(i, namespace_len)))
            .map_err(Into::into))
    }

    async fn delete(&mut self, key: String) -> GuestResult<bool> {
        let deleted = match self.key(&key) {
            Ok(key) => self.backend.delete(&key).await,
            Err(e) => Err(e),
        };
        Ok(deleted.map_err(Into::into))
    }

    async fn list(
        &mut self,
        prefix: String,
        limit: u32,
        cursor: Option<String>,
    ) -> GuestResult<Listing> {
        if !(1..=MAX_LIST_LIMIT).contains(&limit) {
            let e = CapabilityError::invalid(format!("limit must be 1 to {MAX_LIST_LIMIT}"));
            return Ok(Err(e.into()));
        }
        let namespace = self.prefix();
        let cursor = cursor.map(|c| format!("{namespace}{c}"));
        let listed = self
            .backend
            .list(&format!("{namespace}{prefix}"), limit, cursor.as_deref())
            .await;
        Ok(listed
            .map(|listing| Listing {
                objects: listing
                    .objects
                    .into_iter()
                    .map(|o| unprefixed(o, namespace.len()))
                    .collect(),
                cursor: listing.cursor.map(|c| c[namespace.len()..].to_owned()),
            })
            .map_err(Into::into))
    }
}

impl wit::HostWriter for BlobView<'_> {
    async fn write(&mut self, writer: Resource<WriterHandle>, chunk: Vec<u8>) -> GuestResult<()> {
        let handle = self.table.get_mut(&writer)?;
        Ok(handle.writer.write(&chunk).await.map_err(Into::into))
    }

    async fn finish(&mut self, writer: Resource<WriterHandle>) -> GuestResult<ObjectInfo> {
        let handle = self.table.delete(writer)?;
        let namespace_len = handle.namespace_len;
        Ok(handle
            .writer
            .finish()
            .await
            .map(|info| unprefixed(info, namespace_len))
            .map_err(Into::into))
    }

    async fn drop(&mut self, writer: Resource<WriterHandle>) -> wasmtime::Result<()> {
        // Dropping an unfinished writer abandons the write.
        self.table.delete(writer)?;
        Ok(())
    }
}

impl wit::HostReader for BlobView<'_> {
    async fn info(&mut self, reader: Resource<ReaderHandle>) -> wasmtime::Result<ObjectInfo> {
        let handle = self.table.get(&reader)?;
        Ok(unprefixed(
            handle.reader.info().clone(),
            handle.namespace_len,
        ))
    }

    async fn read(&mut self, reader: Resource<ReaderHandle>, max: u32) -> GuestResult<Vec<u8>> {
        let handle = self.table.get_mut(&reader)?;
        let max = max.min(MAX_READ_BYTES) as usize;
        Ok(handle.reader.read(max).await.map_err(Into::into))
    }

    async fn drop(&mut self, reader: Resource<ReaderHandle>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        Ok(())
    }
}
