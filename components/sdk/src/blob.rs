//! Typed access to `summer:platform/blob`: objects written and read in
//! chunks, with a content type. Keys are confined to the calling component.
//! Needs `grants = ["blob"]`; the guide is `docs/blob.md`.
//!
//! ```no_run
//! use summer_sdk::blob;
//!
//! # fn example(rows: Vec<Vec<u8>>) -> Result<(), summer_sdk::ApiError> {
//! blob::put("notes/hello.txt", "text/plain", b"Hello!")?;
//! if let Some((info, body)) = blob::get("notes/hello.txt")? {
//!     assert_eq!(info.size, body.len() as u64);
//! }
//! // Large objects are written a chunk at a time; nothing shows until `finish`.
//! let writer = blob::Writer::create("exports/big.csv", "text/csv")?;
//! for row in rows {
//!     writer.write(&row)?;
//! }
//! writer.finish()?;
//! # Ok(()) }
//! ```

use crate::ApiError;
use crate::bindings::summer::platform::blob as wit;
use crate::bindings::summer::platform::types::ErrorKind;

pub use wit::{Listing, ObjectInfo};

/// The chunk size `put` writes with.
pub const CHUNK: usize = 64 * 1024;

/// An object being written; dropped before [`Writer::finish`], it is abandoned.
pub struct Writer(wit::Writer);

impl Writer {
    /// Starts writing the object at `key`; nothing shows until [`Writer::finish`].
    pub fn create(key: &str, content_type: &str) -> Result<Self, ApiError> {
        Ok(Self(wit::create(key, content_type)?))
    }

    /// Appends a chunk (the host holds at most one part of the object at a time).
    pub fn write(&self, chunk: &[u8]) -> Result<(), ApiError> {
        Ok(self.0.write(chunk)?)
    }

    /// Stores the object, replacing any object with its key.
    pub fn finish(self) -> Result<ObjectInfo, ApiError> {
        Ok(wit::Writer::finish(self.0)?)
    }
}

/// An object being read.
pub struct Reader(wit::Reader);

impl Reader {
    /// Opens `key`; `None` when there is no such object.
    pub fn open(key: &str) -> Result<Option<Self>, ApiError> {
        match wit::open(key) {
            Ok(reader) => Ok(Some(Self(reader))),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The object's key, size, content type and modification time.
    pub fn info(&self) -> ObjectInfo {
        self.0.info()
    }

    /// The next bytes, at most `max`; empty at the end.
    pub fn read(&self, max: u32) -> Result<Vec<u8>, ApiError> {
        Ok(self.0.read(max)?)
    }
}

impl std::io::Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let max = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let chunk = self
            .0
            .read(max)
            .map_err(|e| std::io::Error::other(e.message))?;
        buf[..chunk.len()].copy_from_slice(&chunk);
        Ok(chunk.len())
    }
}

/// Stores `body` at `key`.
pub fn put(key: &str, content_type: &str, body: &[u8]) -> Result<ObjectInfo, ApiError> {
    let writer = Writer::create(key, content_type)?;
    for chunk in body.chunks(CHUNK) {
        writer.write(chunk)?;
    }
    writer.finish()
}

/// The object at `key` with its body, or `None`.
pub fn get(key: &str) -> Result<Option<(ObjectInfo, Vec<u8>)>, ApiError> {
    let Some(reader) = Reader::open(key)? else {
        return Ok(None);
    };
    let info = reader.info();
    let mut body = Vec::with_capacity(usize::try_from(info.size).unwrap_or(0));
    loop {
        let chunk = reader.read(CHUNK as u32)?;
        if chunk.is_empty() {
            return Ok(Some((info, body)));
        }
        body.extend_from_slice(&chunk);
    }
}

/// The object's information without its body, or `None`.
pub fn head(key: &str) -> Result<Option<ObjectInfo>, ApiError> {
    Ok(wit::head(key)?)
}

/// Removes the object; true when it existed.
pub fn delete(key: &str) -> Result<bool, ApiError> {
    Ok(wit::delete(key)?)
}

/// Objects whose keys start with `prefix`, a page of at most `limit`.
pub fn list(prefix: &str, limit: u32, cursor: Option<&str>) -> Result<Listing, ApiError> {
    Ok(wit::list(prefix, limit, cursor)?)
}
