//! The embedded blob store: object bodies as files under a directory, and
//! an index (SQLite) of keys, sizes and content types. A write goes to a
//! temporary file, is synced, renamed into place and then indexed, so a
//! reader sees the old object or the new one, never a part.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{BlobBackend, BlobReader, BlobWriter, Listing, ObjectInfo, clamp_range};
use crate::capabilities::sql::{begin_immediate, lend_outside_transactions};
use crate::capabilities::{CapabilityError, ErrorKind};

/// How many replaced versions a read or copy moves past before it gives up
/// on an object that a writer keeps replacing.
const MAX_REPLACED_READS: usize = 16;

struct Store {
    root: PathBuf,
    index: SqlitePool,
}

/// The local directory store.
pub(crate) struct LocalBackend {
    store: Arc<Store>,
}

fn io_error(e: std::io::Error) -> CapabilityError {
    CapabilityError::internal(format!("blob store i/o: {e}"))
}

fn index_error(e: sqlx::Error) -> CapabilityError {
    CapabilityError::internal(format!("blob index: {e}"))
}

fn no_such_object() -> CapabilityError {
    CapabilityError::new(ErrorKind::NotFound, "no such object")
}

/// A fresh name for an object's file.
fn new_file_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl LocalBackend {
    /// Opens (creating if needed) the store rooted at `root`.
    pub(crate) async fn open(root: &Path) -> Result<Self> {
        for dir in ["objects", "incoming"] {
            std::fs::create_dir_all(root.join(dir))
                .with_context(|| format!("creating {}", root.join(dir).display()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(root.join("index.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let index = lend_outside_transactions(SqlitePoolOptions::new())
            .max_connections(2)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the blob index in {}", root.display()))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS objects (
                key TEXT PRIMARY KEY,
                file TEXT NOT NULL,
                size INTEGER NOT NULL,
                content_type TEXT NOT NULL,
                modified INTEGER NOT NULL
            )",
        )
        .execute(&index)
        .await
        .context("creating the blob index")?;
        let store = Store {
            root: root.to_owned(),
            index,
        };
        store.sweep_incoming();
        Ok(Self {
            store: Arc::new(store),
        })
    }
}

impl Store {
    fn object_path(&self, file: &str) -> PathBuf {
        self.root.join("objects").join(file)
    }

    /// Removes writes a previous run abandoned.
    fn sweep_incoming(&self) {
        if let Ok(entries) = std::fs::read_dir(self.root.join("incoming")) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Points `info.key` at `file`, removing the file it replaced; on
    /// failure `file` is removed instead.
    async fn replace(&self, info: &ObjectInfo, file: &str) -> Result<(), CapabilityError> {
        match self.index(info, file).await {
            Ok(Some(old)) => {
                let _ = tokio::fs::remove_file(self.object_path(&old)).await;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                let _ = tokio::fs::remove_file(self.object_path(file)).await;
                Err(e)
            }
        }
    }

    /// Points `info.key` at `file`; returns the file it replaced, if any.
    async fn index(
        &self,
        info: &ObjectInfo,
        file: &str,
    ) -> Result<Option<String>, CapabilityError> {
        let mut tx = begin_immediate(&self.index).await.map_err(index_error)?;
        let old: Option<(String,)> = sqlx::query_as("SELECT file FROM objects WHERE key = $1")
            .bind(&info.key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(index_error)?;
        sqlx::query(
            "INSERT INTO objects (key, file, size, content_type, modified) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (key) DO UPDATE SET file = excluded.file, size = excluded.size,
             content_type = excluded.content_type, modified = excluded.modified",
        )
        .bind(&info.key)
        .bind(file)
        .bind(info.size as i64)
        .bind(&info.content_type)
        .bind(info.modified)
        .execute(&mut *tx)
        .await
        .map_err(index_error)?;
        tx.commit().await.map_err(index_error)?;
        Ok(old.map(|(file,)| file))
    }

    /// Gives `from`'s file to `to` in one transaction; returns the file `to`
    /// had, if any, and the moved object's info.
    async fn rename(
        &self,
        from: &str,
        to: &str,
    ) -> Result<(Option<String>, ObjectInfo), CapabilityError> {
        let mut tx = begin_immediate(&self.index).await.map_err(index_error)?;
        let moved: Option<(i64, String, i64)> =
            sqlx::query_as("SELECT size, content_type, modified FROM objects WHERE key = $1")
                .bind(from)
                .fetch_optional(&mut *tx)
                .await
                .map_err(index_error)?;
        let (size, content_type, modified) = moved.ok_or_else(no_such_object)?;
        let replaced: Option<(String,)> = if from == to {
            None
        } else {
            sqlx::query_as("DELETE FROM objects WHERE key = $1 RETURNING file")
                .bind(to)
                .fetch_optional(&mut *tx)
                .await
                .map_err(index_error)?
        };
        sqlx::query("UPDATE objects SET key = $2 WHERE key = $1")
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await
            .map_err(index_error)?;
        tx.commit().await.map_err(index_error)?;
        let info = ObjectInfo {
            key: to.to_owned(),
            size: size as u64,
            content_type,
            modified,
        };
        Ok((replaced.map(|(file,)| file), info))
    }

    /// Runs `act` on the file `key`'s row names. A writer may replace the
    /// object and remove its old file between the row being read and the
    /// file being used; then the row is read again and `act` runs on the
    /// newer file. An open file stays readable after its removal, so a
    /// reader always gets one whole version.
    async fn with_current_file<T, F, Fut>(
        &self,
        key: &str,
        act: F,
    ) -> Result<(T, ObjectInfo), CapabilityError>
    where
        F: Fn(PathBuf) -> Fut,
        Fut: Future<Output = std::io::Result<T>>,
    {
        let mut replaced = None;
        for _ in 0..MAX_REPLACED_READS {
            let (file, info) = self.row(key).await?.ok_or_else(no_such_object)?;
            match act(self.object_path(&file)).await {
                Ok(value) => return Ok((value, info)),
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && replaced.as_ref() != Some(&file) =>
                {
                    replaced = Some(file);
                }
                Err(e) => return Err(io_error(e)),
            }
        }
        Err(CapabilityError::new(
            ErrorKind::Unavailable,
            "the object was replaced while it was being read, again and again",
        ))
    }

    async fn row(&self, key: &str) -> Result<Option<(String, ObjectInfo)>, CapabilityError> {
        let row: Option<(String, i64, String, i64)> =
            sqlx::query_as("SELECT file, size, content_type, modified FROM objects WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.index)
                .await
                .map_err(index_error)?;
        Ok(row.map(|(file, size, content_type, modified)| {
            let info = ObjectInfo {
                key: key.to_owned(),
                size: size as u64,
                content_type,
                modified,
            };
            (file, info)
        }))
    }
}

#[async_trait]
impl BlobBackend for LocalBackend {
    fn describe(&self) -> String {
        format!("embedded directory ({})", self.store.root.display())
    }

    async fn close(&self) {
        self.store.index.close().await;
    }

    async fn create(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobWriter>, CapabilityError> {
        let file_name = new_file_name();
        let temp = self.store.root.join("incoming").join(&file_name);
        let file = tokio::fs::File::create(&temp).await.map_err(io_error)?;
        Ok(Box::new(LocalWriter {
            store: self.store.clone(),
            file: Some(file),
            temp,
            file_name,
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            size: 0,
        }))
    }

    async fn open(&self, key: &str) -> Result<Box<dyn BlobReader>, CapabilityError> {
        self.open_range(key, 0, u64::MAX).await
    }

    async fn open_range(
        &self,
        key: &str,
        first: u64,
        last: u64,
    ) -> Result<Box<dyn BlobReader>, CapabilityError> {
        let (mut file, info) = self
            .store
            .with_current_file(key, tokio::fs::File::open)
            .await?;
        let (start, remaining) = clamp_range(info.size, first, last);
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(io_error)?;
        Ok(Box::new(LocalReader {
            file,
            info,
            remaining,
        }))
    }

    async fn create_if_absent(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<bool, CapabilityError> {
        let file = new_file_name();
        tokio::fs::File::create(self.store.object_path(&file))
            .await
            .map_err(io_error)?;
        let inserted = sqlx::query(
            "INSERT INTO objects (key, file, size, content_type, modified) VALUES ($1, $2, 0, $3, $4)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(&file)
        .bind(content_type)
        .bind(now_micros())
        .execute(&self.store.index)
        .await
        .map_err(index_error);
        let created = matches!(&inserted, Ok(done) if done.rows_affected() == 1);
        if !created {
            let _ = tokio::fs::remove_file(self.store.object_path(&file)).await;
        }
        inserted.map(|_| created)
    }

    async fn copy(&self, from: &str, to: &str) -> Result<ObjectInfo, CapabilityError> {
        // Object files never change once indexed, so the copy can share it.
        let file = new_file_name();
        let copy = self.store.object_path(&file);
        let ((), info) = self
            .store
            .with_current_file(from, |source| tokio::fs::hard_link(source, &copy))
            .await?;
        let info = ObjectInfo {
            key: to.to_owned(),
            modified: now_micros(),
            ..info
        };
        self.store.replace(&info, &file).await?;
        Ok(info)
    }

    async fn rename(&self, from: &str, to: &str) -> Result<ObjectInfo, CapabilityError> {
        let (replaced, info) = self.store.rename(from, to).await?;
        if let Some(old) = replaced {
            let _ = tokio::fs::remove_file(self.store.object_path(&old)).await;
        }
        Ok(info)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, CapabilityError> {
        Ok(self.store.row(key).await?.map(|(_, info)| info))
    }

    async fn delete(&self, key: &str) -> Result<bool, CapabilityError> {
        let removed: Option<(String,)> =
            sqlx::query_as("DELETE FROM objects WHERE key = $1 RETURNING file")
                .bind(key)
                .fetch_optional(&self.store.index)
                .await
                .map_err(index_error)?;
        if let Some((file,)) = &removed {
            let _ = tokio::fs::remove_file(self.store.object_path(file)).await;
        }
        Ok(removed.is_some())
    }

    async fn list(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing, CapabilityError> {
        let after = cursor.filter(|c| *c > prefix).unwrap_or("");
        let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(
            "SELECT key, size, content_type, modified FROM objects
             WHERE key >= $1 AND key > $2 AND substr(key, 1, length($1)) = $1
             ORDER BY key LIMIT $3",
        )
        .bind(prefix)
        .bind(after)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.store.index)
        .await
        .map_err(index_error)?;
        let mut objects: Vec<ObjectInfo> = rows
            .into_iter()
            .map(|(key, size, content_type, modified)| ObjectInfo {
                key,
                size: size as u64,
                content_type,
                modified,
            })
            .collect();
        let cursor = if objects.len() > limit as usize {
            objects.truncate(limit as usize);
            objects.last().map(|o| o.key.clone())
        } else {
            None
        };
        Ok(Listing { objects, cursor })
    }
}

struct LocalWriter {
    store: Arc<Store>,
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    file_name: String,
    key: String,
    content_type: String,
    size: u64,
}

#[async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), CapabilityError> {
        let file = self.file.as_mut().expect("open until finish");
        file.write_all(chunk).await.map_err(io_error)?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<ObjectInfo, CapabilityError> {
        let mut file = self.file.take().expect("open until finish");
        file.flush().await.map_err(io_error)?;
        file.sync_all().await.map_err(io_error)?;
        drop(file);
        tokio::fs::rename(&self.temp, self.store.object_path(&self.file_name))
            .await
            .map_err(io_error)?;
        let info = ObjectInfo {
            key: self.key.clone(),
            size: self.size,
            content_type: self.content_type.clone(),
            modified: now_micros(),
        };
        self.store.replace(&info, &self.file_name).await?;
        Ok(info)
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        // An unfinished write leaves nothing behind.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

struct LocalReader {
    file: tokio::fs::File,
    info: ObjectInfo,
    /// Bytes left in the range being read.
    remaining: u64,
}

#[async_trait]
impl BlobReader for LocalReader {
    fn info(&self) -> &ObjectInfo {
        &self.info
    }

    async fn read(&mut self, max: usize) -> Result<Vec<u8>, CapabilityError> {
        let max = max.min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let mut buffer = vec![0; max];
        let mut filled = 0;
        while filled < max {
            let n = self
                .file
                .read(&mut buffer[filled..])
                .await
                .map_err(io_error)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buffer.truncate(filled);
        self.remaining -= filled as u64;
        Ok(buffer)
    }
}
