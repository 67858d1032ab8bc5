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
use crate::capabilities::BackendName;
use crate::capabilities::bindings::summer::platform::{blob as wit, types::Error};
use crate::capabilities::{CapabilityError, CapabilityState, guest_call, observed};

/// A guest's object being written.
pub struct WriterHandle(Box<dyn BlobWriter>);

/// A guest's object being read.
pub struct ReaderHandle(Box<dyn BlobReader>);

/// What the `blob` host functions need from the store.
pub(crate) struct BlobView<'a> {
    pub(crate) backend: &'a Arc<dyn BlobBackend>,
    pub(crate) meter: &'a BackendName,
    /// Prefix that confines keys to one component.
    pub(crate) namespace: &'a str,
    pub(crate) table: &'a mut ResourceTable,
}

impl BlobView<'_> {
    /// The backend seen through this component's namespace; holds no
    /// `&mut`, so it can be used across awaits.
    fn scope(&self) -> Scope<'_> {
        Scope {
            backend: self.backend,
            prefix: format!("{}/", self.namespace),
        }
    }
}

/// The backend seen through one component's namespace.
struct Scope<'a> {
    backend: &'a Arc<dyn BlobBackend>,
    prefix: String,
}

impl Scope<'_> {
    fn key(&self, key: &str) -> Result<String, CapabilityError> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    /// The info of an object as the guest sees it: without the namespace.
    fn unprefixed(&self, mut info: ObjectInfo) -> ObjectInfo {
        info.key = info.key.split_off(self.prefix.len());
        info
    }

    async fn create(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobWriter>, CapabilityError> {
        self.backend.create(&self.key(key)?, content_type).await
    }

    async fn open(&self, key: &str) -> Result<Box<dyn BlobReader>, CapabilityError> {
        self.backend.open(&self.key(key)?).await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, CapabilityError> {
        let info = self.backend.head(&self.key(key)?).await?;
        Ok(info.map(|i| self.unprefixed(i)))
    }

    async fn delete(&self, key: &str) -> Result<bool, CapabilityError> {
        self.backend.delete(&self.key(key)?).await
    }

    async fn list(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Listing, CapabilityError> {
        if !(1..=MAX_LIST_LIMIT).contains(&limit) {
            return Err(CapabilityError::invalid(format!(
                "limit must be 1 to {MAX_LIST_LIMIT}"
            )));
        }
        let cursor = cursor.map(|c| format!("{}{c}", self.prefix));
        let prefix = format!("{}{prefix}", self.prefix);
        let listing = self.backend.list(&prefix, limit, cursor.as_deref()).await?;
        Ok(Listing {
            objects: listing
                .objects
                .into_iter()
                .map(|o| self.unprefixed(o))
                .collect(),
            cursor: listing.cursor.map(|c| c[self.prefix.len()..].to_owned()),
        })
    }
}

struct BlobData;

impl HasData for BlobData {
    type Data<'a> = BlobView<'a>;
}

/// Links `summer:platform/blob` into `linker`.
pub(crate) fn add_to_linker<T: CapabilityState>(linker: &mut Linker<T>) -> Result<()> {
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
        match observed(
            self.meter,
            "create",
            self.scope().create(&key, &content_type),
        )
        .await
        {
            Ok(writer) => Ok(Ok(self.table.push(WriterHandle(writer))?)),
            Err(e) => Ok(Err(e.into())),
        }
    }

    async fn open(&mut self, key: String) -> GuestResult<Resource<ReaderHandle>> {
        match observed(self.meter, "open", self.scope().open(&key)).await {
            Ok(reader) => Ok(Ok(self.table.push(ReaderHandle(reader))?)),
            Err(e) => Ok(Err(e.into())),
        }
    }

    async fn head(&mut self, key: String) -> GuestResult<Option<ObjectInfo>> {
        guest_call(self.meter, "head", self.scope().head(&key)).await
    }

    async fn delete(&mut self, key: String) -> GuestResult<bool> {
        guest_call(self.meter, "delete", self.scope().delete(&key)).await
    }

    async fn list(
        &mut self,
        prefix: String,
        limit: u32,
        cursor: Option<String>,
    ) -> GuestResult<Listing> {
        let scope = self.scope();
        guest_call(self.meter, "list", scope.list(&prefix, limit, cursor)).await
    }
}

impl wit::HostWriter for BlobView<'_> {
    async fn write(&mut self, writer: Resource<WriterHandle>, chunk: Vec<u8>) -> GuestResult<()> {
        let handle = self.table.get_mut(&writer)?;
        guest_call(self.meter, "writer.write", handle.0.write(&chunk)).await
    }

    async fn finish(&mut self, writer: Resource<WriterHandle>) -> GuestResult<ObjectInfo> {
        let handle = self.table.delete(writer)?;
        let finished = observed(self.meter, "writer.finish", handle.0.finish()).await;
        Ok(finished
            .map(|info| self.scope().unprefixed(info))
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
        let info = self.table.get(&reader)?.0.info().clone();
        Ok(self.scope().unprefixed(info))
    }

    async fn read(&mut self, reader: Resource<ReaderHandle>, max: u32) -> GuestResult<Vec<u8>> {
        let handle = self.table.get_mut(&reader)?;
        let max = max.min(MAX_READ_BYTES) as usize;
        guest_call(self.meter, "reader.read", handle.0.read(max)).await
    }

    async fn drop(&mut self, reader: Resource<ReaderHandle>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        Ok(())
    }
}
