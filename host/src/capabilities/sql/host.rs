//! The `summer:platform/sql` host functions: guest calls land here and go to
//! the configured `SqlBackend`.

use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::{Rows, SqlBackend, SqlTransaction, Value};
use crate::capabilities::BackendName;
use crate::capabilities::bindings::summer::platform::{sql as wit, types::Error};
use crate::capabilities::{CapabilityState, guest_call, observed};

/// A guest's open transaction, kept in the store's resource table.
pub struct TransactionHandle(Box<dyn SqlTransaction>);

/// What the `sql` host functions need from the store.
pub(crate) struct SqlView<'a> {
    pub(crate) backend: &'a Arc<dyn SqlBackend>,
    pub(crate) meter: &'a BackendName,
    pub(crate) table: &'a mut ResourceTable,
}

struct SqlData;

impl HasData for SqlData {
    type Data<'a> = SqlView<'a>;
}

/// Links `summer:platform/sql` into `linker`.
pub(crate) fn add_to_linker<T: CapabilityState>(linker: &mut Linker<T>) -> Result<()> {
    wit::add_to_linker::<T, SqlData>(linker, |state| state.sql())?;
    Ok(())
}

type GuestResult<T> = wasmtime::Result<Result<T, Error>>;

impl wit::Host for SqlView<'_> {
    async fn query(&mut self, statement: String, params: Vec<Value>) -> GuestResult<Rows> {
        guest_call(self.meter, "query", self.backend.query(&statement, params)).await
    }

    async fn execute(&mut self, statement: String, params: Vec<Value>) -> GuestResult<u64> {
        guest_call(
            self.meter,
            "execute",
            self.backend.execute(&statement, params),
        )
        .await
    }

    async fn begin(&mut self) -> GuestResult<Resource<TransactionHandle>> {
        match observed(self.meter, "begin", self.backend.begin()).await {
            Ok(tx) => Ok(Ok(self.table.push(TransactionHandle(tx))?)),
            Err(e) => Ok(Err(e.into())),
        }
    }
}

impl wit::HostTransaction for SqlView<'_> {
    async fn query(
        &mut self,
        tx: Resource<TransactionHandle>,
        statement: String,
        params: Vec<Value>,
    ) -> GuestResult<Rows> {
        let tx = self.table.get_mut(&tx)?;
        guest_call(
            self.meter,
            "transaction.query",
            tx.0.query(&statement, params),
        )
        .await
    }

    async fn execute(
        &mut self,
        tx: Resource<TransactionHandle>,
        statement: String,
        params: Vec<Value>,
    ) -> GuestResult<u64> {
        let tx = self.table.get_mut(&tx)?;
        guest_call(
            self.meter,
            "transaction.execute",
            tx.0.execute(&statement, params),
        )
        .await
    }

    async fn commit(&mut self, tx: Resource<TransactionHandle>) -> GuestResult<()> {
        let tx = self.table.delete(tx)?;
        guest_call(self.meter, "transaction.commit", tx.0.commit()).await
    }

    async fn drop(&mut self, tx: Resource<TransactionHandle>) -> wasmtime::Result<()> {
        // Dropping the driver's transaction rolls it back.
        self.table.delete(tx)?;
        Ok(())
    }
}
