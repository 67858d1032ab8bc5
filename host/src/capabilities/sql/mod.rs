//! The `sql` capability: the `SqlBackend` trait, its backends (embedded
//! SQLite, PostgreSQL), migrations, and the WIT host functions over them.

mod host;
mod migrate;

/// Implements `SqlBackend` for a sqlx-pooled backend (a `pool` field and a
/// `description` method) and `SqlTransaction` for its transaction newtype,
/// over the `query_on` and `execute_on` of the backend's module.
macro_rules! sqlx_backend {
    ($backend:ident, $transaction:ident) => {
        #[async_trait::async_trait]
        impl SqlBackend for $backend {
            fn describe(&self) -> String {
                self.description()
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            async fn query(
                &self,
                statement: &str,
                params: Vec<Value>,
            ) -> Result<Rows, CapabilityError> {
                let mut conn = match self.pool.acquire().await {
                    Ok(conn) => conn,
                    Err(e) => return Err(self.acquire_failed(e).await),
                };
                query_on(&mut conn, statement, params).await
            }

            async fn execute(
                &self,
                statement: &str,
                params: Vec<Value>,
            ) -> Result<u64, CapabilityError> {
                let mut conn = match self.pool.acquire().await {
                    Ok(conn) => conn,
                    Err(e) => return Err(self.acquire_failed(e).await),
                };
                execute_on(&mut conn, statement, params).await
            }

            async fn begin(&self) -> Result<Box<dyn SqlTransaction>, CapabilityError> {
                let tx = match self.begin_transaction().await {
                    Ok(tx) => tx,
                    Err(e) => return Err(self.acquire_failed(e).await),
                };
                Ok(Box::new($transaction(tx)))
            }
        }

        #[async_trait::async_trait]
        impl SqlTransaction for $transaction {
            async fn query(
                &mut self,
                statement: &str,
                params: Vec<Value>,
            ) -> Result<Rows, CapabilityError> {
                query_on(&mut self.0, statement, params).await
            }

            async fn execute(
                &mut self,
                statement: &str,
                params: Vec<Value>,
            ) -> Result<u64, CapabilityError> {
                execute_on(&mut self.0, statement, params).await
            }

            async fn execute_script(&mut self, script: &str) -> Result<(), CapabilityError> {
                // A plain string with no arguments may hold several statements.
                sqlx::Executor::execute(&mut *self.0, script)
                    .await
                    .map_err(classify)?;
                Ok(())
            }

            async fn commit(self: Box<Self>) -> Result<(), CapabilityError> {
                self.0.commit().await.map_err(classify)
            }
        }
    };
}

mod postgres;
mod sqlite;

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;

pub use host::TransactionHandle;
pub(crate) use host::{SqlView, add_to_linker};
pub(crate) use migrate::{Migration, apply_migrations};
pub(crate) use postgres::PostgresBackend;
pub(crate) use sqlite::{
    SqliteBackend, begin_immediate, lend_outside_transactions, open_store as open_sqlite_store,
    ping_store as ping_sqlite_store,
};

pub(crate) use super::bindings::summer::platform::sql::Rows;
pub(crate) use super::bindings::summer::platform::types::Value;
use super::{Capability, CapabilityError, ErrorKind};
use crate::config::Settings;

/// Starts a transaction in a task of its own, which runs to its end even
/// when the caller is cancelled (a request past its deadline, a client that
/// went away). sqlx 0.8 has await points after the server has begun a
/// transaction and before the `Transaction` that would roll it back exists;
/// cancelled there, the connection goes back to the pool inside a
/// transaction that holds its locks (on SQLite, the file's write lock) for
/// every later borrower. Run to its end, the `Transaction` always exists,
/// and dropping it rolls back.
pub(crate) async fn begin_detached<DB: sqlx::Database>(
    begin: impl Future<Output = Result<sqlx::Transaction<'static, DB>, sqlx::Error>> + Send + 'static,
) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
    tokio::spawn(begin).await.map_err(|e| {
        sqlx::Error::Io(std::io::Error::other(format!(
            "starting a transaction: {e}"
        )))
    })?
}

/// A relational database that components reach through `summer:platform/sql`.
///
/// Statements use `$1`, `$2`, ... placeholders on every backend.
#[async_trait]
pub trait SqlBackend: Send + Sync {
    /// A short description for logs, e.g. `sqlite (data/summer.db)`.
    fn describe(&self) -> String;

    /// Closes the backend's connections at shutdown, after the last request.
    async fn close(&self) {}

    /// A round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<(), CapabilityError> {
        self.query("SELECT 1", Vec::new()).await.map(drop)
    }

    /// Runs a statement that returns rows.
    async fn query(&self, statement: &str, params: Vec<Value>) -> Result<Rows, CapabilityError>;

    /// Runs a statement and returns how many rows it changed.
    async fn execute(&self, statement: &str, params: Vec<Value>) -> Result<u64, CapabilityError>;

    /// Starts a transaction; dropping it without commit rolls it back.
    async fn begin(&self) -> Result<Box<dyn SqlTransaction>, CapabilityError>;
}

/// An open transaction on a `SqlBackend`.
#[async_trait]
pub trait SqlTransaction: Send {
    async fn query(&mut self, statement: &str, params: Vec<Value>)
    -> Result<Rows, CapabilityError>;

    async fn execute(
        &mut self,
        statement: &str,
        params: Vec<Value>,
    ) -> Result<u64, CapabilityError>;

    /// Runs a script of several statements without parameters (migrations).
    async fn execute_script(&mut self, script: &str) -> Result<(), CapabilityError>;

    async fn commit(self: Box<Self>) -> Result<(), CapabilityError>;
}

/// Opens PostgreSQL when `DATABASE_HOST` is set, the embedded SQLite
/// database under the data directory otherwise.
pub(crate) async fn open_backend(settings: &Settings) -> Result<Arc<dyn SqlBackend>> {
    if let Some(server) = settings.postgres.server()? {
        return Ok(Arc::new(
            PostgresBackend::connect(&settings.postgres, &server).await?,
        ));
    }
    let path = settings.data_dir.join("summer.db");
    Ok(Arc::new(SqliteBackend::open(&path).await?))
}

/// Classifies a driver error into what the guest can act on.
pub(crate) fn classify(error: sqlx::Error) -> CapabilityError {
    use sqlx::error::ErrorKind as DbKind;
    match error {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let kind = match db.kind() {
                DbKind::UniqueViolation | DbKind::ForeignKeyViolation => ErrorKind::Conflict,
                _ if is_busy_code(&code) => ErrorKind::Timeout,
                _ if is_unavailable_code(&code) => ErrorKind::Unavailable,
                _ => ErrorKind::Invalid,
            };
            CapabilityError::from_server(Capability::Sql, kind, db.message())
        }
        sqlx::Error::PoolTimedOut => CapabilityError::from_server(
            Capability::Sql,
            ErrorKind::Timeout,
            "no connection was free in time",
        ),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => {
            CapabilityError::from_server(Capability::Sql, ErrorKind::Unavailable, error)
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::Encode(_)
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::ColumnNotFound(_) => CapabilityError::invalid(error.to_string()),
        other => CapabilityError::internal(other.to_string()),
    }
}

/// SQLite's SQLITE_BUSY and SQLITE_LOCKED: another writer held the database too long.
fn is_busy_code(code: &str) -> bool {
    matches!(code, "5" | "6")
}

/// PostgreSQL's connection-exception, insufficient-resources and
/// operator-intervention classes: the server, not the statement, is at fault.
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
}

/// Checks a `uuid` value and returns its canonical lowercase form.
fn canonical_uuid(text: &str) -> Result<uuid::Uuid, CapabilityError> {
    uuid::Uuid::try_parse(text)
        .map_err(|_| CapabilityError::invalid(format!("not a uuid: {text:?}")))
}

#[cfg(test)]
mod conformance;
