//! `wasi:blobstore@0.2.0-draft` over the blob backends: a component's
//! containers live inside its namespace, object bodies stream through
//! `wasi:io` streams, and listings page through the backend.

use std::collections::VecDeque;

use anyhow::Result;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};

use super::values::{IncomingValue, OutgoingValue};
use super::{BlobBackend, BlobView, MAX_KEY_BYTES, check_key, clamp_range};
use crate::capabilities::{BackendName, CapabilityError, CapabilityState, ErrorKind, observed};

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:blobstore/imports@0.2.0-draft",
        imports: { default: async | trappable },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:blobstore/container.container": super::Container,
            "wasi:blobstore/container.stream-object-names": super::ObjectNames,
            "wasi:blobstore/types.outgoing-value": super::super::values::OutgoingValue,
            "wasi:blobstore/types.incoming-value": super::super::values::IncomingValue,
        },
    });
}

pub(crate) use generated::wasi::blobstore::types::ObjectId;
use generated::wasi::blobstore::types::{ContainerMetadata, ObjectMetadata};
use generated::wasi::blobstore::{blobstore as wit, container, types};

/// The version of the package Summer serves.
pub(crate) const VERSIONS: [&str; 1] = ["0.2.0-draft"];
/// The longest container name, in bytes.
const MAX_CONTAINER_NAME: usize = 255;
/// Object names one listing request fetches.
const LIST_PAGE: u32 = 1000;
/// The most names one `read-stream-object-names` call returns.
const MAX_NAMES_PER_READ: u64 = 10_000;
/// What a container's marker object is stored as.
const MARKER_TYPE: &str = "application/x-summer-container";

/// A container a guest holds: its name, checked when it was opened.
pub struct Container(String);

/// The containers of one namespace. A namespace has no '.', so no blob key
/// of any namespace (`{namespace}/...`) starts with these prefixes. Markers
/// and objects live under different prefixes because some S3 servers
/// cannot hold an object `a` beside objects `a/...`.
pub(crate) struct Containers<'a> {
    pub(crate) backend: &'a dyn BlobBackend,
    pub(crate) namespace: &'a str,
}

fn error(kind: ErrorKind, message: String) -> CapabilityError {
    CapabilityError::new(kind, message)
}

fn check_container_name(name: &str) -> Result<(), CapabilityError> {
    if name.is_empty() || name.len() > MAX_CONTAINER_NAME || name.contains(['/', '\0']) {
        return Err(CapabilityError::invalid(format!(
            "a container name must be 1 to {MAX_CONTAINER_NAME} bytes without '/' or NUL"
        )));
    }
    Ok(())
}

/// Seconds since the Unix epoch, from a backend's microseconds.
fn seconds(micros: i64) -> u64 {
    u64::try_from(micros / 1_000_000).unwrap_or(0)
}

impl Containers<'_> {
    fn marker(&self, container: &str) -> Result<String, CapabilityError> {
        check_container_name(container)?;
        Ok(format!("{}.container/{container}", self.namespace))
    }

    fn objects(&self, container: &str) -> String {
        format!("{}.containers/{container}/", self.namespace)
    }

    fn key(&self, container: &str, object: &str) -> Result<String, CapabilityError> {
        check_container_name(container)?;
        if object.is_empty() {
            return Err(CapabilityError::invalid("an object name may not be empty"));
        }
        let prefix = self.objects(container);
        let key = format!("{prefix}{object}");
        check_key(&key).map_err(|_| {
            CapabilityError::invalid(format!(
                "an object name in container {container:?} must be at most {} bytes without NUL",
                MAX_KEY_BYTES.saturating_sub(prefix.len())
            ))
        })?;
        Ok(key)
    }

    pub(crate) async fn create(&self, container: &str) -> Result<(), CapabilityError> {
        let marker = self.marker(container)?;
        if !self.backend.create_if_absent(&marker, MARKER_TYPE).await? {
            return Err(error(
                ErrorKind::Conflict,
                format!("container {container:?} already exists"),
            ));
        }
        Ok(())
    }

    pub(crate) async fn exists(&self, container: &str) -> Result<bool, CapabilityError> {
        Ok(self.backend.head(&self.marker(container)?).await?.is_some())
    }

    /// Fails naming the container when it does not exist.
    pub(crate) async fn require(&self, container: &str) -> Result<(), CapabilityError> {
        self.info(container).await.map(drop)
    }

    pub(crate) async fn info(&self, container: &str) -> Result<ContainerMetadata, CapabilityError> {
        match self.backend.head(&self.marker(container)?).await? {
            Some(marker) => Ok(ContainerMetadata {
                name: container.to_owned(),
                created_at: seconds(marker.modified),
            }),
            None => Err(error(
                ErrorKind::NotFound,
                format!("container {container:?} does not exist"),
            )),
        }
    }

    /// Deletes the container, then its objects: from the first step on,
    /// it no longer exists for anyone.
    pub(crate) async fn delete(&self, container: &str) -> Result<(), CapabilityError> {
        if !self.backend.delete(&self.marker(container)?).await? {
            return Err(error(
                ErrorKind::NotFound,
                format!("container {container:?} does not exist"),
            ));
        }
        self.delete_objects_under(&self.objects(container)).await
    }

    pub(crate) async fn clear(&self, container: &str) -> Result<(), CapabilityError> {
        self.require(container).await?;
        self.delete_objects_under(&self.objects(container)).await
    }

    async fn delete_objects_under(&self, prefix: &str) -> Result<(), CapabilityError> {
        loop {
            // Each page starts again from the front: the last one is gone.
            let page = self.backend.list_keys(prefix, LIST_PAGE, None).await?;
            if page.keys.is_empty() {
                return Ok(());
            }
            self.backend.delete_many(&page.keys).await?;
        }
    }

    pub(crate) async fn object_info(
        &self,
        container: &str,
        object: &str,
    ) -> Result<ObjectMetadata, CapabilityError> {
        match self.backend.head(&self.key(container, object)?).await? {
            Some(info) => Ok(ObjectMetadata {
                name: object.to_owned(),
                container: container.to_owned(),
                created_at: seconds(info.modified),
                size: info.size,
            }),
            None => Err(no_such_object(container, object)),
        }
    }

    pub(crate) async fn has_object(
        &self,
        container: &str,
        object: &str,
    ) -> Result<bool, CapabilityError> {
        Ok(self
            .backend
            .head(&self.key(container, object)?)
            .await?
            .is_some())
    }

    pub(crate) async fn delete_objects(
        &self,
        container: &str,
        objects: &[String],
    ) -> Result<(), CapabilityError> {
        let keys = objects
            .iter()
            .map(|object| self.key(container, object))
            .collect::<Result<Vec<_>, _>>()?;
        self.backend.delete_many(&keys).await
    }

    /// Bytes `first..=last` of an object (inclusive, clamped to its end).
    pub(crate) async fn get(
        &self,
        container: &str,
        object: &str,
        first: u64,
        last: u64,
    ) -> Result<IncomingValue, CapabilityError> {
        if last < first {
            return Err(CapabilityError::invalid(format!(
                "the range {first}..={last} ends before it starts"
            )));
        }
        let key = self.key(container, object)?;
        let reader = self
            .backend
            .open_range(&key, first, last)
            .await
            .map_err(|e| match e.kind {
                ErrorKind::NotFound => no_such_object(container, object),
                _ => e,
            })?;
        let (_, size) = clamp_range(reader.info().size, first, last);
        Ok(IncomingValue::new(reader, size))
    }

    /// Names `value`'s object (`write-data`); the container must exist.
    pub(crate) async fn write(
        &self,
        container: &str,
        object: &str,
        value: &mut OutgoingValue,
    ) -> Result<(), CapabilityError> {
        let key = self.key(container, object)?;
        self.require(container).await?;
        value.bind(self.backend, &key).await
    }

    /// Copies, or moves, an object; the destination container must exist.
    pub(crate) async fn transfer(
        &self,
        from: &ObjectId,
        to: &ObjectId,
        moving: bool,
    ) -> Result<(), CapabilityError> {
        let source = self.key(&from.container, &from.object)?;
        let target = self.key(&to.container, &to.object)?;
        self.require(&to.container).await?;
        let done = if moving {
            self.backend.rename(&source, &target).await
        } else {
            self.backend.copy(&source, &target).await
        };
        done.map(drop).map_err(|e| match e.kind {
            ErrorKind::NotFound => no_such_object(&from.container, &from.object),
            _ => e,
        })
    }

    pub(crate) fn names(&self, container: &str) -> ObjectNames {
        ObjectNames {
            prefix: self.objects(container),
            cursor: None,
            buffered: VecDeque::new(),
            exhausted: false,
        }
    }
}

fn no_such_object(container: &str, object: &str) -> CapabilityError {
    error(
        ErrorKind::NotFound,
        format!("object {object:?} does not exist in container {container:?}"),
    )
}

/// The names of a container's objects, fetched a page at a time.
pub struct ObjectNames {
    prefix: String,
    cursor: Option<String>,
    buffered: VecDeque<String>,
    exhausted: bool,
}

impl ObjectNames {
    /// Up to `len` names, and whether the end was reached.
    pub(crate) async fn read(
        &mut self,
        backend: &dyn BlobBackend,
        len: u64,
    ) -> Result<(Vec<String>, bool), CapabilityError> {
        let mut names = Vec::new();
        let end = self.take(backend, len, |name| names.push(name)).await?;
        Ok((names, end))
    }

    /// Skips up to `len` names; how many, and whether the end was reached.
    pub(crate) async fn skip(
        &mut self,
        backend: &dyn BlobBackend,
        len: u64,
    ) -> Result<(u64, bool), CapabilityError> {
        let mut skipped = 0;
        let end = self.take(backend, len, |_| skipped += 1).await?;
        Ok((skipped, end))
    }

    async fn take(
        &mut self,
        backend: &dyn BlobBackend,
        len: u64,
        mut each: impl FnMut(String),
    ) -> Result<bool, CapabilityError> {
        for _ in 0..len.min(MAX_NAMES_PER_READ) {
            if self.buffered.is_empty() && !self.exhausted {
                self.fetch(backend).await?;
            }
            match self.buffered.pop_front() {
                Some(name) => each(name),
                None => return Ok(true),
            }
        }
        Ok(self.buffered.is_empty() && self.exhausted)
    }

    async fn fetch(&mut self, backend: &dyn BlobBackend) -> Result<(), CapabilityError> {
        let page = backend
            .list_keys(&self.prefix, LIST_PAGE, self.cursor.as_deref())
            .await?;
        let prefix = self.prefix.len();
        self.buffered
            .extend(page.keys.into_iter().map(|key| key[prefix..].to_owned()));
        self.exhausted = page.cursor.is_none();
        self.cursor = page.cursor;
        Ok(())
    }
}

struct BlobstoreData;

impl HasData for BlobstoreData {
    type Data<'a> = BlobView<'a>;
}

/// Links `wasi:blobstore@0.2.0-draft` into `linker`.
pub(crate) fn add_to_linker<T: CapabilityState>(linker: &mut Linker<T>) -> Result<()> {
    // Interface by interface: `wasi:io` is linked with the rest of WASI.
    types::add_to_linker::<T, BlobstoreData>(linker, |state| state.blobstore())?;
    container::add_to_linker::<T, BlobstoreData>(linker, |state| state.blobstore())?;
    wit::add_to_linker::<T, BlobstoreData>(linker, |state| state.blobstore())?;
    Ok(())
}

type Answer<T> = wasmtime::Result<Result<T, String>>;

/// Runs a call in its span and metrics; the guest gets its message.
async fn run<T>(
    meter: &BackendName,
    operation: &'static str,
    call: impl Future<Output = Result<T, CapabilityError>>,
) -> Result<T, String> {
    observed(meter, operation, call)
        .await
        .map_err(|e| e.to_string())
}

impl<'a> BlobView<'a> {
    fn containers(&self) -> Containers<'a> {
        Containers {
            backend: &**self.backend,
            namespace: self.namespace,
        }
    }

    fn container_name(&self, container: &Resource<Container>) -> wasmtime::Result<String> {
        Ok(self.table.get(container)?.0.clone())
    }

    fn push_container(&mut self, name: String) -> Answer<Resource<Container>> {
        Ok(Ok(self.table.push(Container(name))?))
    }
}

impl wit::Host for BlobView<'_> {
    async fn create_container(&mut self, name: String) -> Answer<Resource<Container>> {
        let containers = self.containers();
        match run(self.meter, "create-container", containers.create(&name)).await {
            Ok(()) => self.push_container(name),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn get_container(&mut self, name: String) -> Answer<Resource<Container>> {
        let containers = self.containers();
        match run(self.meter, "get-container", containers.require(&name)).await {
            Ok(()) => self.push_container(name),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn delete_container(&mut self, name: String) -> Answer<()> {
        let containers = self.containers();
        Ok(run(self.meter, "delete-container", containers.delete(&name)).await)
    }

    async fn container_exists(&mut self, name: String) -> Answer<bool> {
        let containers = self.containers();
        Ok(run(self.meter, "container-exists", containers.exists(&name)).await)
    }

    async fn copy_object(&mut self, src: ObjectId, dest: ObjectId) -> Answer<()> {
        let containers = self.containers();
        let copy = containers.transfer(&src, &dest, false);
        Ok(run(self.meter, "copy-object", copy).await)
    }

    async fn move_object(&mut self, src: ObjectId, dest: ObjectId) -> Answer<()> {
        let containers = self.containers();
        let moved = containers.transfer(&src, &dest, true);
        Ok(run(self.meter, "move-object", moved).await)
    }
}

impl container::Host for BlobView<'_> {}

impl container::HostContainer for BlobView<'_> {
    async fn name(&mut self, this: Resource<Container>) -> Answer<String> {
        Ok(Ok(self.container_name(&this)?))
    }

    async fn info(&mut self, this: Resource<Container>) -> Answer<ContainerMetadata> {
        let name = self.container_name(&this)?;
        let containers = self.containers();
        Ok(run(self.meter, "container.info", containers.info(&name)).await)
    }

    async fn get_data(
        &mut self,
        this: Resource<Container>,
        name: String,
        start: u64,
        end: u64,
    ) -> Answer<Resource<IncomingValue>> {
        let container = self.container_name(&this)?;
        let containers = self.containers();
        let get = containers.get(&container, &name, start, end);
        match run(self.meter, "container.get-data", get).await {
            Ok(value) => Ok(Ok(self.table.push(value)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn write_data(
        &mut self,
        this: Resource<Container>,
        name: String,
        data: Resource<OutgoingValue>,
    ) -> Answer<()> {
        let container = self.container_name(&this)?;
        let containers = self.containers();
        let value = self.table.get_mut(&data)?;
        let write = containers.write(&container, &name, value);
        Ok(run(self.meter, "container.write-data", write).await)
    }

    async fn list_objects(&mut self, this: Resource<Container>) -> Answer<Resource<ObjectNames>> {
        let container = self.container_name(&this)?;
        let containers = self.containers();
        match run(
            self.meter,
            "container.list-objects",
            containers.require(&container),
        )
        .await
        {
            Ok(()) => Ok(Ok(self.table.push(containers.names(&container))?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn delete_object(&mut self, this: Resource<Container>, name: String) -> Answer<()> {
        self.delete_objects(this, vec![name]).await
    }

    async fn delete_objects(
        &mut self,
        this: Resource<Container>,
        names: Vec<String>,
    ) -> Answer<()> {
        let container = self.container_name(&this)?;
        let containers = self.containers();
        let delete = containers.delete_objects(&container, &names);
        Ok(run(self.meter, "container.delete-objects", delete).await)
    }

    async fn has_object(&mut self, this: Resource<Container>, name: String) -> Answer<bool> {
        let container = self.container_name(&this)?;
        let containers = self.containers();
        let has = containers.has_object(&container, &name);
        Ok(run(self.meter, "container.has-object", has).await)
    }

    async fn object_info(
        &mut self,
        this: Resource<Container>,
        name: String,
    ) -> Answer<ObjectMetadata> {
        let container = self.container_name(&this)?;
        let containers = self.containers();
        let info = containers.object_info(&container, &name);
        Ok(run(self.meter, "container.object-info", info).await)
    }

    async fn clear(&mut self, this: Resource<Container>) -> Answer<()> {
        let container = self.container_name(&this)?;
        let containers = self.containers();
        Ok(run(self.meter, "container.clear", containers.clear(&container)).await)
    }

    async fn drop(&mut self, this: Resource<Container>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl container::HostStreamObjectNames for BlobView<'_> {
    async fn read_stream_object_names(
        &mut self,
        this: Resource<ObjectNames>,
        len: u64,
    ) -> Answer<(Vec<String>, bool)> {
        let names = self.table.get_mut(&this)?;
        let read = names.read(&**self.backend, len);
        Ok(run(self.meter, "stream-object-names.read", read).await)
    }

    async fn skip_stream_object_names(
        &mut self,
        this: Resource<ObjectNames>,
        num: u64,
    ) -> Answer<(u64, bool)> {
        let names = self.table.get_mut(&this)?;
        let skip = names.skip(&**self.backend, num);
        Ok(run(self.meter, "stream-object-names.skip", skip).await)
    }

    async fn drop(&mut self, this: Resource<ObjectNames>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl types::Host for BlobView<'_> {}

impl types::HostOutgoingValue for BlobView<'_> {
    async fn new_outgoing_value(&mut self) -> wasmtime::Result<Resource<OutgoingValue>> {
        Ok(self.table.push(OutgoingValue::new())?)
    }

    async fn outgoing_value_write_body(
        &mut self,
        this: Resource<OutgoingValue>,
    ) -> wasmtime::Result<Result<Resource<DynOutputStream>, ()>> {
        let Some(stream) = self.table.get_mut(&this)?.take_stream() else {
            return Ok(Err(()));
        };
        let stream: DynOutputStream = Box::new(stream);
        Ok(Ok(self.table.push(stream)?))
    }

    async fn finish(&mut self, this: Resource<OutgoingValue>) -> Answer<()> {
        let value = self.table.delete(this)?;
        Ok(run(self.meter, "outgoing-value.finish", value.finish()).await)
    }

    async fn drop(&mut self, this: Resource<OutgoingValue>) -> wasmtime::Result<()> {
        // A value dropped before `finish` is abandoned: its object is not
        // stored (unless `write-data` already stored it).
        self.table.delete(this)?;
        Ok(())
    }
}

impl types::HostIncomingValue for BlobView<'_> {
    async fn incoming_value_consume_sync(
        &mut self,
        this: Resource<IncomingValue>,
    ) -> Answer<Vec<u8>> {
        let value = self.table.delete(this)?;
        Ok(run(self.meter, "incoming-value.consume-sync", value.read_all()).await)
    }

    async fn incoming_value_consume_async(
        &mut self,
        this: Resource<IncomingValue>,
    ) -> Answer<Resource<DynInputStream>> {
        let value = self.table.delete(this)?;
        let stream: DynInputStream = Box::new(value.into_stream());
        Ok(Ok(self.table.push(stream)?))
    }

    async fn size(&mut self, this: Resource<IncomingValue>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&this)?.size())
    }

    async fn drop(&mut self, this: Resource<IncomingValue>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
