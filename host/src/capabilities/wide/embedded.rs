//! The embedded wide store: every table's rows in one SQLite table keyed by
//! (table, partition, clustering), where keys are order-preserving byte
//! strings, so a partition scan is one index range in either direction.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, Sqlite};

use super::keys::{decode, decode_all, encode, encode_all};
use super::{Scan, TableSchema, TypedRow, Value, WideBackend};
use crate::capabilities::CapabilityError;
use crate::capabilities::sql::{begin_immediate, classify, open_sqlite_store, ping_sqlite_store};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS wide_tables (
        name TEXT PRIMARY KEY,
        declaration TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS wide_rows (
        tbl TEXT NOT NULL,
        partition BLOB NOT NULL,
        clustering BLOB NOT NULL,
        cells BLOB NOT NULL,
        PRIMARY KEY (tbl, partition, clustering)
    ) WITHOUT ROWID;
";

/// The embedded wide-column backend.
pub(crate) struct EmbeddedBackend {
    pool: SqlitePool,
    path: PathBuf,
}

impl EmbeddedBackend {
    /// Opens (creating if needed) the store file at `path`.
    pub(crate) async fn open(path: &Path) -> Result<Self> {
        let pool = open_sqlite_store(path, SCHEMA, "wide store").await?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }
}

/// Splits a typed row into its partition bytes, clustering bytes and cells.
fn encode_row(table: &TableSchema, row: &TypedRow) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (p, k) = (table.partition_len, table.key_len());
    let mut cells = Vec::new();
    for (column, value) in table.columns[k..].iter().zip(&row[k..]) {
        if *value != Value::Null {
            cells.push(column.name.len() as u8);
            cells.extend(column.name.as_bytes());
            encode(value, &mut cells);
        }
    }
    (encode_all(&row[..p]), encode_all(&row[p..k]), cells)
}

/// Rebuilds a typed row from its key values and stored cells.
fn decode_row(
    table: &TableSchema,
    mut key: Vec<Value>,
    mut cells: &[u8],
) -> Result<TypedRow, CapabilityError> {
    let corrupt =
        || CapabilityError::internal(format!("a stored row of {} cannot be read", table.name));
    key.resize(table.columns.len(), Value::Null);
    while let Some((&len, rest)) = cells.split_first() {
        let (name, mut rest) = rest.split_at_checked(len as usize).ok_or_else(corrupt)?;
        let index = table
            .columns
            .iter()
            .position(|c| c.name.as_bytes() == name)
            .ok_or_else(corrupt)?;
        key[index] = decode(table.columns[index].kind, &mut rest).ok_or_else(corrupt)?;
        cells = rest;
    }
    Ok(key)
}

#[async_trait]
impl WideBackend for EmbeddedBackend {
    fn describe(&self) -> String {
        format!("embedded ordered store ({})", self.path.display())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> Result<(), CapabilityError> {
        ping_sqlite_store(&self.pool, "embedded wide store").await
    }

    async fn declare(&self, table: &TableSchema) -> Result<()> {
        let mut tx = begin_immediate(&self.pool).await?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT declaration FROM wide_tables WHERE name = ?")
                .bind(&table.storage_name)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(stored) = stored {
            let stored: TableSchema = serde_json::from_str(&stored)
                .with_context(|| format!("reading the stored declaration of {}", table.name))?;
            if let Err(reason) = table.additions_since(&stored) {
                bail!(reason);
            }
        }
        sqlx::query("INSERT OR REPLACE INTO wide_tables (name, declaration) VALUES (?, ?)")
            .bind(&table.storage_name)
            .bind(serde_json::to_string(table)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put(&self, table: &TableSchema, rows: Vec<TypedRow>) -> Result<(), CapabilityError> {
        let mut tx = begin_immediate(&self.pool).await.map_err(classify)?;
        for row in &rows {
            let (partition, clustering, cells) = encode_row(table, row);
            sqlx::query(
                "INSERT OR REPLACE INTO wide_rows (tbl, partition, clustering, cells) VALUES (?, ?, ?, ?)",
            )
            .bind(&table.storage_name)
            .bind(partition)
            .bind(clustering)
            .bind(cells)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn get(
        &self,
        table: &TableSchema,
        key: Vec<Value>,
    ) -> Result<Option<TypedRow>, CapabilityError> {
        let p = table.partition_len;
        let cells: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT cells FROM wide_rows WHERE tbl = ? AND partition = ? AND clustering = ?",
        )
        .bind(&table.storage_name)
        .bind(encode_all(&key[..p]))
        .bind(encode_all(&key[p..]))
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        cells
            .map(|cells| decode_row(table, key, &cells))
            .transpose()
    }

    async fn delete(&self, table: &TableSchema, key: Vec<Value>) -> Result<(), CapabilityError> {
        let p = table.partition_len;
        sqlx::query("DELETE FROM wide_rows WHERE tbl = ? AND partition = ? AND clustering = ?")
            .bind(&table.storage_name)
            .bind(encode_all(&key[..p]))
            .bind(encode_all(&key[p..]))
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// One write transaction: SQLite runs one at a time, so each row is
    /// removed by exactly one caller.
    async fn delete_existing(
        &self,
        table: &TableSchema,
        keys: Vec<Vec<Value>>,
    ) -> Result<Vec<bool>, CapabilityError> {
        let p = table.partition_len;
        let mut tx = begin_immediate(&self.pool).await.map_err(classify)?;
        let mut removed = Vec::with_capacity(keys.len());
        for key in &keys {
            let done = sqlx::query(
                "DELETE FROM wide_rows WHERE tbl = ? AND partition = ? AND clustering = ?",
            )
            .bind(&table.storage_name)
            .bind(encode_all(&key[..p]))
            .bind(encode_all(&key[p..]))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            removed.push(done.rows_affected() > 0);
        }
        tx.commit().await.map_err(classify)?;
        Ok(removed)
    }

    async fn delete_partition(
        &self,
        table: &TableSchema,
        partition: Vec<Value>,
    ) -> Result<(), CapabilityError> {
        sqlx::query("DELETE FROM wide_rows WHERE tbl = ? AND partition = ?")
            .bind(&table.storage_name)
            .bind(encode_all(&partition))
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn scan(
        &self,
        table: &TableSchema,
        scan: Scan,
    ) -> Result<Vec<TypedRow>, CapabilityError> {
        let (direction, comparison) = (scan.order.keyword(), scan.order.after());
        let bound = match &scan.after {
            Some(_) => format!("AND clustering {comparison} ?"),
            None => String::new(),
        };
        let statement = format!(
            "SELECT clustering, cells FROM wide_rows WHERE tbl = ? AND partition = ? {bound} \
             ORDER BY clustering {direction} LIMIT ?"
        );
        let mut query = sqlx::query::<Sqlite>(&statement)
            .bind(&table.storage_name)
            .bind(encode_all(&scan.partition));
        if let Some(after) = &scan.after {
            query = query.bind(encode_all(after));
        }
        let rows = query
            .bind(i64::from(scan.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        let clustering_kinds: Vec<_> = table.clustering_columns().iter().map(|c| c.kind).collect();
        rows.iter()
            .map(|row| {
                let clustering: Vec<u8> = row.get(0);
                let cells: Vec<u8> = row.get(1);
                let clustering = decode_all(clustering_kinds.iter().copied(), &clustering)
                    .ok_or_else(|| {
                        CapabilityError::internal("a stored clustering key cannot be read")
                    })?;
                let mut key = scan.partition.clone();
                key.extend(clustering);
                decode_row(table, key, &cells)
            })
            .collect()
    }
}
