//! The values of `wasi:blobstore`: an outgoing value whose body a guest
//! writes through a `wasi:io` output-stream, and an incoming value it reads
//! through an input-stream. Bytes move between the stream and the backend
//! in a task of their own, through a bounded channel, so a guest that
//! cancels a wait never loses a chunk and the host holds only a few chunks
//! of an object at a time.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamError, StreamResult};

use super::{BlobBackend, BlobReader, BlobWriter};
use crate::capabilities::CapabilityError;

/// The most bytes a stream accepts or hands out in one call.
const CHUNK: usize = 64 << 10;
/// What a value's object is stored as: the interface has no content types.
const CONTENT_TYPE: &str = "application/octet-stream";
/// Chunks in flight between a stream and its task.
const CHUNKS_IN_FLIGHT: usize = 16;
/// The most bytes a value holds before `write-data` names its object;
/// after that they go to the backend as they are written.
pub(crate) const MAX_UNBOUND_BYTES: usize = 16 << 20;
/// The largest value `incoming-value-consume-sync` returns in one list.
pub(crate) const MAX_SYNC_BYTES: u64 = 16 << 20;

/// What an outgoing value and its body stream share.
#[derive(Default)]
struct Body {
    /// Bytes written before `write-data` named the object.
    unbound: Vec<Bytes>,
    unbound_len: usize,
    /// Where bytes go once the object is named.
    sender: Option<mpsc::Sender<Bytes>>,
    stream: StreamState,
    /// Why the value can take no more bytes.
    failed: Option<String>,
}

#[derive(Default, Clone, Copy, PartialEq)]
enum StreamState {
    #[default]
    NotTaken,
    Open,
    Closed,
}

fn lock(body: &Mutex<Body>) -> std::sync::MutexGuard<'_, Body> {
    body.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where an outgoing value stands.
enum Stage {
    /// No object named yet.
    Unbound,
    /// Named; a task writes what the stream sends it.
    Bound(JoinHandle<Result<Box<dyn BlobWriter>, CapabilityError>>),
    /// Stored (at `write-data`, or by `finish`).
    Stored,
}

/// A `wasi:blobstore` outgoing value.
pub struct OutgoingValue {
    body: Arc<Mutex<Body>>,
    stage: Stage,
}

impl OutgoingValue {
    pub(crate) fn new() -> Self {
        Self {
            body: Arc::default(),
            stage: Stage::Unbound,
        }
    }

    /// The value's body stream; only once.
    pub(crate) fn take_stream(&mut self) -> Option<BodyStream> {
        let mut body = lock(&self.body);
        if body.stream != StreamState::NotTaken {
            return None;
        }
        body.stream = StreamState::Open;
        Some(BodyStream {
            body: self.body.clone(),
        })
    }

    /// Names the object the value is written to (`write-data`). When the
    /// body stream is already closed the object is stored now; otherwise
    /// it is stored by `finish`, and what the stream writes from now on goes
    /// to the backend as it comes.
    pub(crate) async fn bind(
        &mut self,
        backend: &dyn BlobBackend,
        key: &str,
    ) -> Result<(), CapabilityError> {
        if !matches!(self.stage, Stage::Unbound) {
            return Err(CapabilityError::invalid(
                "this value was already written to an object",
            ));
        }
        let (unbound, closed) = {
            let mut body = lock(&self.body);
            if let Some(failed) = &body.failed {
                return Err(CapabilityError::invalid(failed.clone()));
            }
            body.unbound_len = 0;
            (
                std::mem::take(&mut body.unbound),
                body.stream == StreamState::Closed,
            )
        };
        let mut writer = backend.create(key, CONTENT_TYPE).await?;
        if closed {
            for chunk in &unbound {
                writer.write(chunk).await?;
            }
            writer.finish().await?;
            self.stage = Stage::Stored;
            return Ok(());
        }
        let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let task = tokio::spawn(drain(writer, unbound, receiver));
        lock(&self.body).sender = Some(sender);
        self.stage = Stage::Bound(task);
        Ok(())
    }

    /// Completes the value (`finish`): stores the object its last bytes
    /// went to.
    pub(crate) async fn finish(mut self) -> Result<(), CapabilityError> {
        let stage = std::mem::replace(&mut self.stage, Stage::Stored);
        let task = match stage {
            Stage::Unbound => {
                return Err(CapabilityError::invalid(
                    "the value was not written to an object: call write-data before finish",
                ));
            }
            Stage::Stored => return Ok(()),
            Stage::Bound(task) => task,
        };
        {
            let mut body = lock(&self.body);
            if body.stream == StreamState::Open {
                return Err(CapabilityError::invalid(
                    "the value's body stream must be dropped before finish",
                ));
            }
            // The task ends when the last sender is gone.
            body.sender = None;
        }
        let writer = task
            .await
            .map_err(|e| CapabilityError::internal(format!("the value's writer stopped: {e}")))??;
        writer.finish().await.map(drop)
    }
}

/// Writes the bytes a value held, then each chunk its stream sends, until
/// the stream and the value let go of the channel.
async fn drain(
    mut writer: Box<dyn BlobWriter>,
    unbound: Vec<Bytes>,
    mut receiver: mpsc::Receiver<Bytes>,
) -> Result<Box<dyn BlobWriter>, CapabilityError> {
    for chunk in unbound {
        writer.write(&chunk).await?;
    }
    while let Some(chunk) = receiver.recv().await {
        writer.write(&chunk).await?;
    }
    Ok(writer)
}

/// The output-stream of an outgoing value.
pub(crate) struct BodyStream {
    body: Arc<Mutex<Body>>,
}

fn failed(message: impl Into<String>) -> StreamError {
    StreamError::LastOperationFailed(wasmtime::format_err!("{}", message.into()))
}

impl BodyStream {
    /// The channel to the backend's writer, once the object is named.
    fn sender(&self) -> StreamResult<Option<mpsc::Sender<Bytes>>> {
        let body = lock(&self.body);
        if let Some(message) = &body.failed {
            return Err(failed(message.clone()));
        }
        Ok(body.sender.clone())
    }
}

/// The message of a stream whose writer stopped; `finish` reports why.
const WRITER_STOPPED: &str = "the object store did not take the value: finish reports why";

impl OutputStream for BodyStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if bytes.len() > CHUNK {
            return Err(StreamError::trap("wrote more than check-write allowed"));
        }
        let mut body = lock(&self.body);
        if let Some(message) = &body.failed {
            return Err(failed(message.clone()));
        }
        if let Some(sender) = &body.sender {
            return match sender.try_send(bytes) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    Err(StreamError::trap("wrote more than check-write allowed"))
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(failed(WRITER_STOPPED)),
            };
        }
        body.unbound_len += bytes.len();
        body.unbound.push(bytes);
        if body.unbound_len > MAX_UNBOUND_BYTES {
            let message = format!(
                "a value holds at most {} MiB before write-data names its object: call write-data first to stream more",
                MAX_UNBOUND_BYTES >> 20
            );
            body.failed = Some(message.clone());
            body.unbound.clear();
            return Err(failed(message));
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.sender().map(drop)
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        match self.sender()? {
            None => Ok(CHUNK),
            Some(sender) if sender.is_closed() => Err(failed(WRITER_STOPPED)),
            Some(sender) if sender.capacity() > 0 => Ok(CHUNK),
            Some(_) => Ok(0),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for BodyStream {
    async fn ready(&mut self) {
        if let Ok(Some(sender)) = self.sender() {
            // Dropping the permit frees the slot; waiting for one is the
            // readiness (and cancelling the wait loses nothing).
            let _ = sender.reserve().await;
        }
    }
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        lock(&self.body).stream = StreamState::Closed;
    }
}

/// A `wasi:blobstore` incoming value: part of an object, opened.
pub struct IncomingValue {
    reader: Box<dyn BlobReader>,
    /// Bytes in the value (the range, clamped to the object).
    size: u64,
}

impl IncomingValue {
    pub(crate) fn new(reader: Box<dyn BlobReader>, size: u64) -> Self {
        Self { reader, size }
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// All of the value, when it is small enough for one list.
    pub(crate) async fn read_all(mut self) -> Result<Vec<u8>, CapabilityError> {
        if self.size > MAX_SYNC_BYTES {
            return Err(CapabilityError::invalid(format!(
                "the value is {} bytes; read values over {} MiB with incoming-value-consume-async",
                self.size,
                MAX_SYNC_BYTES >> 20
            )));
        }
        let mut all = Vec::with_capacity(self.size as usize);
        loop {
            let chunk = self.reader.read(CHUNK).await?;
            if chunk.is_empty() {
                return Ok(all);
            }
            all.extend_from_slice(&chunk);
        }
    }

    /// The value as an input-stream, read ahead by a task of its own.
    pub(crate) fn into_stream(self) -> ValueStream {
        let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let task = tokio::spawn(read_ahead(self.reader, sender));
        ValueStream {
            receiver,
            pending: Bytes::new(),
            end: None,
            task,
        }
    }
}

/// Reads `reader` to its end into `sender`; stops when the stream is dropped.
async fn read_ahead(
    mut reader: Box<dyn BlobReader>,
    sender: mpsc::Sender<Result<Bytes, CapabilityError>>,
) {
    loop {
        let chunk = reader.read(CHUNK).await.map(Bytes::from);
        let last = !matches!(&chunk, Ok(bytes) if !bytes.is_empty());
        if sender.send(chunk).await.is_err() || last {
            return;
        }
    }
}

/// The input-stream of an incoming value.
pub(crate) struct ValueStream {
    receiver: mpsc::Receiver<Result<Bytes, CapabilityError>>,
    /// Bytes received and not read yet.
    pending: Bytes,
    /// How the value ended, once it has.
    end: Option<Result<(), CapabilityError>>,
    task: JoinHandle<()>,
}

impl ValueStream {
    fn take(&mut self, message: Result<Bytes, CapabilityError>) {
        match message {
            Ok(bytes) if bytes.is_empty() => self.end = Some(Ok(())),
            Ok(bytes) => self.pending = bytes,
            Err(e) => self.end = Some(Err(e)),
        }
    }
}

impl InputStream for ValueStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.pending.is_empty() && self.end.is_none() {
            match self.receiver.try_recv() {
                Ok(message) => self.take(message),
                Err(mpsc::error::TryRecvError::Empty) => return Ok(Bytes::new()),
                Err(mpsc::error::TryRecvError::Disconnected) => self.end = Some(Ok(())),
            }
        }
        if !self.pending.is_empty() {
            let n = size.min(self.pending.len());
            return Ok(self.pending.split_to(n));
        }
        match &self.end {
            Some(Err(e)) => Err(failed(e.to_string())),
            _ => Err(StreamError::Closed),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for ValueStream {
    async fn ready(&mut self) {
        if !self.pending.is_empty() || self.end.is_some() {
            return;
        }
        match self.receiver.recv().await {
            Some(message) => self.take(message),
            None => self.end = Some(Ok(())),
        }
    }
}

impl Drop for ValueStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::blob::LocalBackend;

    async fn local() -> LocalBackend {
        LocalBackend::open(&tempfile::tempdir().unwrap().keep())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_value_holds_at_most_16_mib_before_it_names_its_object() {
        let mut value = OutgoingValue::new();
        let mut stream = value.take_stream().unwrap();
        let chunk = Bytes::from(vec![1u8; CHUNK]);
        for _ in 0..MAX_UNBOUND_BYTES / CHUNK {
            stream.write(chunk.clone()).unwrap();
        }
        let refused = stream.write(Bytes::from_static(b"x")).unwrap_err();
        assert!(
            refused.to_string().contains("call write-data first"),
            "{refused}"
        );
        assert!(stream.check_write().is_err(), "the stream stays failed");
        drop(stream);
        let backend = local().await;
        let bound = value.bind(&backend, "k").await.unwrap_err();
        assert!(bound.message.contains("write-data first"), "{bound}");
    }

    #[tokio::test]
    async fn consume_sync_refuses_values_over_16_mib() {
        let backend = local().await;
        let mut writer = backend.create("big", "").await.unwrap();
        writer
            .write(&vec![0u8; MAX_SYNC_BYTES as usize + 1])
            .await
            .unwrap();
        writer.finish().await.unwrap();
        let size = MAX_SYNC_BYTES + 1;
        let value = IncomingValue::new(backend.open("big").await.unwrap(), size);
        let refused = value.read_all().await.unwrap_err();
        assert!(refused.message.contains("consume-async"), "{refused}");
        let exact = IncomingValue::new(
            backend.open_range("big", 0, size - 2).await.unwrap(),
            size - 1,
        );
        assert_eq!(exact.read_all().await.unwrap().len() as u64, MAX_SYNC_BYTES);
    }
}
