//! The `summer:platform/wide` host functions: table names are looked up in
//! the calling component's declarations, rows and keys are typed against
//! them, and scans are paged with opaque cursors.

use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{HasData, Linker};

use super::{MAX_ROWS, Order, PageRequest, TableSchema, TableSet, Value, WideBackend, scan_page};
use crate::capabilities::BackendName;
use crate::capabilities::bindings::summer::platform::{types::Error, wide as wit};
use crate::capabilities::{CapabilityError, CapabilityState, guest_call};

/// What the `wide` host functions need from the store.
pub(crate) struct WideView<'a> {
    pub(crate) backend: &'a Arc<dyn WideBackend>,
    pub(crate) meter: &'a BackendName,
    /// The tables the calling component declared.
    pub(crate) tables: &'a TableSet,
}

struct WideData;

impl HasData for WideData {
    type Data<'a> = WideView<'a>;
}

/// Links `summer:platform/wide` into `linker`.
pub(crate) fn add_to_linker<T: CapabilityState>(linker: &mut Linker<T>) -> Result<()> {
    wit::add_to_linker::<T, WideData>(linker, |state| state.wide())?;
    Ok(())
}

type GuestResult<T> = wasmtime::Result<Result<T, Error>>;

/// Refuses a call on more than [`MAX_ROWS`] rows; `what` is done to them.
fn at_most_max_rows(what: &str, count: usize) -> Result<(), CapabilityError> {
    if count > MAX_ROWS as usize {
        return Err(CapabilityError::invalid(format!(
            "at most {MAX_ROWS} rows may be {what} at once, not {count}"
        )));
    }
    Ok(())
}

impl WideView<'_> {
    fn table(&self, name: &str) -> Result<&TableSchema, CapabilityError> {
        self.tables.get(name).map(|t| &**t).ok_or_else(|| {
            CapabilityError::invalid(format!(
                "no wide table named {name:?} is declared for this component"
            ))
        })
    }

    async fn put_rows(&self, table: &str, rows: Vec<wit::Cells>) -> Result<(), CapabilityError> {
        let table = self.table(table)?;
        if rows.is_empty() {
            return Ok(());
        }
        at_most_max_rows("written", rows.len())?;
        let rows = rows
            .into_iter()
            .map(|cells| table.typed_row(cells))
            .collect::<Result<Vec<_>, _>>()?;
        self.backend.put(table, rows).await
    }

    async fn get_row(
        &self,
        table: &str,
        key: Vec<Value>,
    ) -> Result<Option<wit::Cells>, CapabilityError> {
        let table = self.table(table)?;
        let key = table.typed_key(key, true)?;
        let row = self.backend.get(table, key).await?;
        Ok(row.map(|row| table.cells(row)))
    }

    async fn delete_row(&self, table: &str, key: Vec<Value>) -> Result<(), CapabilityError> {
        let table = self.table(table)?;
        let key = table.typed_key(key, true)?;
        self.backend.delete(table, key).await
    }

    async fn delete_existing_rows(
        &self,
        table: &str,
        keys: Vec<Vec<Value>>,
    ) -> Result<Vec<bool>, CapabilityError> {
        let table = self.table(table)?;
        at_most_max_rows("deleted", keys.len())?;
        let keys = keys
            .into_iter()
            .map(|key| table.typed_key(key, true))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.backend.delete_existing(table, keys).await
    }

    async fn delete_whole_partition(
        &self,
        table: &str,
        partition: Vec<Value>,
    ) -> Result<(), CapabilityError> {
        let table = self.table(table)?;
        let partition = table.typed_key(partition, false)?;
        self.backend.delete_partition(table, partition).await
    }

    async fn scan_rows(
        &self,
        table: &str,
        partition: Vec<Value>,
        range: wit::Range,
    ) -> Result<wit::Page, CapabilityError> {
        let table = self.table(table)?;
        let order = match range.order {
            wit::Order::Ascending => Order::Ascending,
            wit::Order::Descending => Order::Descending,
        };
        let request = PageRequest {
            order,
            limit: range.limit,
            cursor: range.cursor,
        };
        let page = scan_page(&**self.backend, table, partition, request).await?;
        Ok(wit::Page {
            rows: page.rows.into_iter().map(|row| table.cells(row)).collect(),
            next: page.next,
        })
    }
}

impl wit::Host for WideView<'_> {
    async fn put(&mut self, table: String, row: wit::Cells) -> GuestResult<()> {
        guest_call(self.meter, "put", self.put_rows(&table, vec![row])).await
    }

    async fn put_many(&mut self, table: String, rows: Vec<wit::Cells>) -> GuestResult<()> {
        guest_call(self.meter, "put-many", self.put_rows(&table, rows)).await
    }

    async fn get(&mut self, table: String, key: Vec<Value>) -> GuestResult<Option<wit::Cells>> {
        guest_call(self.meter, "get", self.get_row(&table, key)).await
    }

    async fn delete(&mut self, table: String, key: Vec<Value>) -> GuestResult<()> {
        guest_call(self.meter, "delete", self.delete_row(&table, key)).await
    }

    async fn delete_existing(
        &mut self,
        table: String,
        keys: Vec<Vec<Value>>,
    ) -> GuestResult<Vec<bool>> {
        guest_call(
            self.meter,
            "delete-existing",
            self.delete_existing_rows(&table, keys),
        )
        .await
    }

    async fn delete_partition(&mut self, table: String, partition: Vec<Value>) -> GuestResult<()> {
        guest_call(
            self.meter,
            "delete-partition",
            self.delete_whole_partition(&table, partition),
        )
        .await
    }

    async fn scan(
        &mut self,
        table: String,
        partition: Vec<Value>,
        range: wit::Range,
    ) -> GuestResult<wit::Page> {
        guest_call(self.meter, "scan", self.scan_rows(&table, partition, range)).await
    }
}
