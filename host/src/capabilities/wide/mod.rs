//! The `wide` capability: Cassandra-style tables declared per component,
//! the `WideBackend` trait, its backends (an embedded ordered store on
//! SQLite, Cassandra), and the WIT host functions over them.

mod cassandra;
mod embedded;
mod host;
mod keys;
mod schema;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;

pub(crate) use cassandra::CassandraBackend;
pub(crate) use embedded::EmbeddedBackend;
pub(crate) use host::{WideView, add_to_linker};
pub use schema::{Column, ColumnType, Order, TableSchema, TypedRow, parse_tables, read_tables};

use super::CapabilityError;
pub use super::bindings::summer::platform::types::Value;
use crate::config::Settings;
use keys::Cursor;

/// The most rows one scan page or one `put-many` may hold.
pub(crate) const MAX_ROWS: u32 = 1000;

/// The tables a component declared, by the name it uses.
pub type TableSet = BTreeMap<String, Arc<TableSchema>>;

/// One scan of a partition, as a backend runs it.
#[derive(Clone, Debug)]
pub struct Scan {
    /// The partition key values, typed.
    pub(crate) partition: Vec<Value>,
    pub(crate) order: Order,
    /// Only rows strictly after this clustering key, in `order`.
    pub(crate) after: Option<Vec<Value>>,
    pub(crate) limit: u32,
}

/// A wide-column store that components reach through `summer:platform/wide`.
/// Rows arrive typed against their table (see `TableSchema::typed_row`).
#[async_trait]
pub trait WideBackend: Send + Sync {
    /// A short description for logs.
    fn describe(&self) -> String;

    /// Closes the backend's connections at shutdown, after the last request.
    async fn close(&self) {}

    /// A round trip to the store, for readiness checks.
    async fn ping(&self) -> Result<(), CapabilityError>;

    /// Creates the table of a declaration, or brings an existing one up to
    /// it (new columns only); refuses changes to keys or types.
    async fn declare(&self, table: &TableSchema) -> Result<()>;

    /// Writes whole rows of one table, all or none.
    async fn put(&self, table: &TableSchema, rows: Vec<TypedRow>) -> Result<(), CapabilityError>;

    /// The row with this primary key.
    async fn get(
        &self,
        table: &TableSchema,
        key: Vec<Value>,
    ) -> Result<Option<TypedRow>, CapabilityError>;

    async fn delete(&self, table: &TableSchema, key: Vec<Value>) -> Result<(), CapabilityError>;

    /// Removes the rows with these primary keys that exist; for each key,
    /// whether this call removed it. Of concurrent calls for one row,
    /// exactly one removes it.
    async fn delete_existing(
        &self,
        table: &TableSchema,
        keys: Vec<Vec<Value>>,
    ) -> Result<Vec<bool>, CapabilityError>;

    async fn delete_partition(
        &self,
        table: &TableSchema,
        partition: Vec<Value>,
    ) -> Result<(), CapabilityError>;

    /// Up to `scan.limit` rows of one partition in clustering order.
    async fn scan(&self, table: &TableSchema, scan: Scan)
    -> Result<Vec<TypedRow>, CapabilityError>;
}

/// Opens Cassandra when `CASSANDRA_HOST` is set, the embedded ordered store
/// under the data directory otherwise.
pub(crate) async fn open_backend(settings: &Settings) -> Result<Arc<dyn WideBackend>> {
    if let Some(host) = &settings.cassandra.host {
        return Ok(Arc::new(
            CassandraBackend::connect(&settings.cassandra, host).await?,
        ));
    }
    let path = settings.data_dir.join("wide.db");
    Ok(Arc::new(EmbeddedBackend::open(&path).await?))
}

/// What a client asks of one page of a scan.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub order: Order,
    /// From 1 to `MAX_ROWS`.
    pub limit: u32,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

/// One page of a scan, with the cursor of the next page when there is one.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanPage {
    pub rows: Vec<TypedRow>,
    pub next: Option<String>,
}

/// Scans one page of a partition. Asks the backend for one row more than
/// the page holds, so a cursor is handed out only when more rows follow.
pub async fn scan_page(
    backend: &dyn WideBackend,
    table: &TableSchema,
    partition: Vec<Value>,
    request: PageRequest,
) -> Result<ScanPage, CapabilityError> {
    let partition = table.typed_key(partition, false)?;
    if !(1..=MAX_ROWS).contains(&request.limit) {
        return Err(CapabilityError::invalid(format!(
            "the limit must be from 1 to {MAX_ROWS}, not {}",
            request.limit
        )));
    }
    let order = request.order;
    let clustering_kinds = table.clustering_columns().iter().map(|c| c.kind);
    let after = request
        .cursor
        .map(|text| {
            Cursor::decode(
                &text,
                &table.storage_name,
                &partition,
                order,
                clustering_kinds,
            )
        })
        .transpose()?
        .map(|cursor| cursor.after);
    if after.as_ref().is_some_and(Vec::is_empty) {
        // Without a clustering key a partition holds one row: nothing follows it.
        return Ok(ScanPage {
            rows: Vec::new(),
            next: None,
        });
    }
    let limit = request.limit as usize;
    let scan = Scan {
        partition: partition.clone(),
        order,
        after,
        limit: request.limit + 1,
    };
    let mut rows = backend.scan(table, scan).await?;
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        let last = &rows[limit - 1];
        let cursor = Cursor {
            after: last[table.partition_len..table.key_len()].to_vec(),
        };
        cursor.encode(&table.storage_name, &partition, order)
    });
    Ok(ScanPage { rows, next })
}

/// Declares every table of a component on `backend`.
pub(crate) async fn declare_tables(
    backend: &dyn WideBackend,
    tables: &[TableSchema],
) -> Result<TableSet> {
    let mut set = TableSet::new();
    for table in tables {
        backend.declare(table).await?;
        set.insert(table.name.clone(), Arc::new(table.clone()));
    }
    Ok(set)
}

#[cfg(test)]
mod conformance;
