//! The pulled-component cache on disk: layers and manifests by digest
//! (checked again on every read), and the digest each tag last resolved to.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{OciError, Reference, digest_of};

/// A cache directory (`{data dir}/oci`).
#[derive(Clone, Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn by_digest(&self, kind: &str, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.join(kind).join("sha256").join(hex)
    }

    fn tag_file(&self, reference: &Reference) -> Option<PathBuf> {
        let tag = reference.tag.as_deref()?;
        Some(
            self.dir
                .join("tags")
                .join(&reference.registry)
                .join(&reference.repository)
                .join(tag),
        )
    }

    /// Layer `digest`, if cached intact.
    pub(crate) fn blob(&self, digest: &str) -> Result<Option<Bytes>, OciError> {
        self.verified(&self.by_digest("blobs", digest), digest)
    }

    /// Manifest `digest`, if cached intact.
    pub(crate) fn manifest(&self, digest: &str) -> Result<Option<Bytes>, OciError> {
        self.verified(&self.by_digest("manifests", digest), digest)
    }

    pub(crate) fn put_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
        write_atomically(&self.by_digest("blobs", digest), bytes)
    }

    pub(crate) fn put_manifest(&self, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
        write_atomically(&self.by_digest("manifests", digest), bytes)
    }

    /// The digest `reference`'s tag last resolved to.
    pub(crate) fn tag(&self, reference: &Reference) -> Result<Option<String>, OciError> {
        let Some(path) = self.tag_file(reference) else {
            return Ok(None);
        };
        match std::fs::read_to_string(&path) {
            Ok(digest) => Ok(Some(digest.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(cache_error(&path, source)),
        }
    }

    pub(crate) fn put_tag(&self, reference: &Reference, digest: &str) -> Result<(), OciError> {
        match self.tag_file(reference) {
            Some(path) => write_atomically(&path, digest.as_bytes()),
            None => Ok(()),
        }
    }

    /// The file at `path` if its content has `digest`; a damaged file is
    /// removed and counts as absent.
    fn verified(&self, path: &Path, digest: &str) -> Result<Option<Bytes>, OciError> {
        match std::fs::read(path) {
            Ok(bytes) if digest_of(&bytes) == digest => Ok(Some(Bytes::from(bytes))),
            Ok(_) => {
                tracing::warn!(
                    "the cached {} does not match its digest; pulling it again",
                    path.display()
                );
                let _ = std::fs::remove_file(path);
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(cache_error(path, source)),
        }
    }
}

fn cache_error(path: &Path, source: std::io::Error) -> OciError {
    OciError::Cache {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// reader sees the whole file or none.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let parent = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(parent).map_err(|e| cache_error(parent, e))?;
    let temporary = parent.join(format!(
        ".{}.{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("part"),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&temporary, bytes).map_err(|e| cache_error(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| cache_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_files_are_checked_on_every_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_owned());
        let bytes = b"\0asm component bytes";
        let digest = digest_of(bytes);
        assert!(cache.blob(&digest).unwrap().is_none());
        cache.put_blob(&digest, bytes).unwrap();
        assert_eq!(cache.blob(&digest).unwrap().unwrap(), &bytes[..]);
        std::fs::write(cache.by_digest("blobs", &digest), b"damaged").unwrap();
        assert!(cache.blob(&digest).unwrap().is_none());
        assert!(!cache.by_digest("blobs", &digest).exists());
    }

    #[test]
    fn tags_remember_their_last_digest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_owned());
        let tagged = Reference::parse("oci://127.0.0.1:5000/trip/users:1").unwrap();
        assert_eq!(cache.tag(&tagged).unwrap(), None);
        cache.put_tag(&tagged, "sha256:abc").unwrap();
        assert_eq!(cache.tag(&tagged).unwrap().as_deref(), Some("sha256:abc"));
    }
}
