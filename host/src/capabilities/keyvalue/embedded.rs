//! The embedded key-value store: one SQLite table under the data directory,
//! so values outlive a restart as they do on Redis with persistence.

use std::path::{Path, PathBuf};

use anyhow::Result;
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqlitePool;

use super::{KeyPage, KeyValueBackend, Keyspace, PAGE_SIZE, add_counter};
use crate::capabilities::CapabilityError;
use crate::capabilities::parse_counter;
use crate::capabilities::sql::{begin_immediate, classify, open_sqlite_store, ping_sqlite_store};

/// `rowid` orders pages: a cursor is the last row id a page held, so rows
/// written during a listing never shift the ones still to come.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS keyvalue (
        namespace TEXT NOT NULL,
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        UNIQUE (namespace, bucket, key)
    );
    CREATE INDEX IF NOT EXISTS keyvalue_by_bucket ON keyvalue (namespace, bucket);
";

/// The embedded key-value backend.
pub(crate) struct EmbeddedBackend {
    pool: SqlitePool,
    path: PathBuf,
}

impl EmbeddedBackend {
    /// Opens (creating if needed) the store file at `path`.
    pub(crate) async fn open(path: &Path) -> Result<Self> {
        let pool = open_sqlite_store(path, SCHEMA, "key-value store").await?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }
}

const SELECT: &str = "SELECT value FROM keyvalue WHERE namespace = ?1 AND bucket = ?2 AND key = ?3";
const UPSERT: &str = "INSERT INTO keyvalue (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (namespace, bucket, key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM keyvalue WHERE namespace = ?1 AND bucket = ?2 AND key = ?3";

fn query<'q>(
    statement: &'q str,
    space: &'q Keyspace,
    key: &'q str,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    sqlx::query(statement)
        .bind(&*space.namespace)
        .bind(&space.bucket)
        .bind(key)
}

/// The value at `key`, read through `executor`: the pool, a connection or
/// a transaction.
async fn read<'e, E>(
    executor: E,
    space: &'e Keyspace,
    key: &'e str,
) -> Result<Option<Vec<u8>>, CapabilityError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let row = query(SELECT, space, key)
        .fetch_optional(executor)
        .await
        .map_err(classify)?;
    Ok(row.map(|row| row.get(0)))
}

#[async_trait]
impl KeyValueBackend for EmbeddedBackend {
    fn describe(&self) -> String {
        format!("embedded sqlite store ({})", self.path.display())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> Result<(), CapabilityError> {
        ping_sqlite_store(&self.pool, "embedded key-value store").await
    }

    async fn get(&self, space: &Keyspace, key: &str) -> Result<Option<Vec<u8>>, CapabilityError> {
        read(&self.pool, space, key).await
    }

    async fn get_many(
        &self,
        space: &Keyspace,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, CapabilityError> {
        let mut connection = self.pool.acquire().await.map_err(classify)?;
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(read(&mut *connection, space, key).await?);
        }
        Ok(values)
    }

    async fn set(
        &self,
        space: &Keyspace,
        key: &str,
        value: Vec<u8>,
    ) -> Result<(), CapabilityError> {
        query(UPSERT, space, key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(classify)
    }

    async fn set_many(
        &self,
        space: &Keyspace,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), CapabilityError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        for (key, value) in entries {
            query(UPSERT, space, &key)
                .bind(value)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn delete_many(&self, space: &Keyspace, keys: &[String]) -> Result<(), CapabilityError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        for key in keys {
            query(DELETE, space, key)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn exists(&self, space: &Keyspace, key: &str) -> Result<bool, CapabilityError> {
        Ok(self.get(space, key).await?.is_some())
    }

    async fn list_keys(
        &self,
        space: &Keyspace,
        cursor: Option<u64>,
    ) -> Result<KeyPage, CapabilityError> {
        let after = i64::try_from(cursor.unwrap_or(0))
            .map_err(|_| CapabilityError::invalid("the cursor is not one list-keys returned"))?;
        let rows = sqlx::query(
            "SELECT rowid, key FROM keyvalue WHERE namespace = ?1 AND bucket = ?2 AND rowid > ?3 \
             ORDER BY rowid LIMIT ?4",
        )
        .bind(&*space.namespace)
        .bind(&space.bucket)
        .bind(after)
        .bind(PAGE_SIZE as i64 + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        let more = rows.len() > PAGE_SIZE;
        let page = &rows[..rows.len().min(PAGE_SIZE)];
        let cursor = more
            .then(|| page.last().map(|row| row.get::<i64, _>(0) as u64))
            .flatten();
        Ok(KeyPage {
            keys: page.iter().map(|row| row.get(1)).collect(),
            cursor,
        })
    }

    async fn increment(
        &self,
        space: &Keyspace,
        key: &str,
        delta: i64,
    ) -> Result<i64, CapabilityError> {
        let mut tx = begin_immediate(&self.pool).await.map_err(classify)?;
        let current = read(&mut *tx, space, key).await?;
        let current = current.as_deref().map(parse_counter).transpose()?;
        let next = add_counter(current.unwrap_or(0), delta)?;
        query(UPSERT, space, key)
            .bind(next.to_string().into_bytes())
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(next)
    }

    async fn compare_and_swap(
        &self,
        space: &Keyspace,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
    ) -> Result<bool, CapabilityError> {
        let mut tx = begin_immediate(&self.pool).await.map_err(classify)?;
        let current = read(&mut *tx, space, key).await?;
        if current.as_deref() != expected {
            return Ok(false);
        }
        query(UPSERT, space, key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }
}
