//! The embedded SQL backend: one SQLite file under the data directory, pooled
//! by sqlx, in WAL mode so readers never wait for the writer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use sqlx::sqlite::{
    Sqlite, SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Column, Connection, Executor, Row, Statement, TypeInfo, ValueRef};

use super::{Rows, SqlBackend, SqlTransaction, Value, begin_detached, canonical_uuid, classify};
use crate::capabilities::CapabilityError;

/// SQLite has one writer at a time; a few connections let reads overlap it.
const POOL_SIZE: u32 = 4;
/// How long a writer waits for the write lock before the call fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// The embedded SQL backend.
pub(crate) struct SqliteBackend {
    pool: SqlitePool,
    path: PathBuf,
}

/// Starts a transaction that takes the write lock at once. A deferred one
/// that reads before it writes fails with "database is locked" when another
/// writer got in between (SQLite cannot upgrade its read snapshot); this
/// one waits its turn instead, up to the busy time-out.
/// Cancel-safe: see [`begin_detached`].
pub(crate) async fn begin_immediate(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
    let pool = pool.clone();
    begin_detached(async move { pool.begin_with("BEGIN IMMEDIATE").await }).await
}

impl SqliteBackend {
    /// Opens (creating if needed) the database file at `path`.
    pub(crate) async fn open(path: &Path) -> Result<Self> {
        Ok(Self {
            pool: open_pool(path).await?,
            path: path.to_owned(),
        })
    }
}

/// A pool that never lends a connection still inside a transaction: one
/// whose rollback (queued when a cancelled call dropped its transaction)
/// has not run yet is waited for, and one still inside after that is
/// closed, which rolls it back, so no borrower inherits its write lock.
pub(crate) fn lend_outside_transactions(options: SqlitePoolOptions) -> SqlitePoolOptions {
    options.after_release(|connection, _| {
        Box::pin(async move {
            if connection.is_in_transaction() {
                // Commands run in order: the queued rollback runs first.
                connection.ping().await?;
            }
            Ok(!connection.is_in_transaction())
        })
    })
}

/// Opens a pool on the SQLite file at `path`, creating the file and its
/// directory if needed: WAL mode, full sync, a busy time-out, foreign keys.
/// Every embedded store (sql, wide, graph) keeps its file this way.
pub(super) async fn open_pool(path: &Path) -> Result<SqlitePool> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    lend_outside_transactions(SqlitePoolOptions::new())
        .max_connections(POOL_SIZE)
        .min_connections(1)
        .connect_with(options)
        .await
        .with_context(|| format!("opening sqlite database {}", path.display()))
}

/// A round trip to an embedded store's file, for readiness checks; `store`
/// names it when it fails.
pub(crate) async fn ping_store(pool: &SqlitePool, store: &str) -> Result<(), CapabilityError> {
    sqlx::query("SELECT 1")
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| CapabilityError::unavailable(format!("{store}: {e}")))
}

/// Opens the SQLite file of an embedded store ([`open_pool`]) and creates
/// its tables with `schema`; `store` names it in messages.
pub(crate) async fn open_store(path: &Path, schema: &str, store: &str) -> Result<SqlitePool> {
    let pool = open_pool(path).await?;
    sqlx::raw_sql(schema)
        .execute(&pool)
        .await
        .with_context(|| format!("creating the {store}'s tables"))?;
    Ok(pool)
}

impl SqliteBackend {
    /// Guest transactions take the write lock up front (see [`begin_immediate`]).
    async fn begin_transaction(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        begin_immediate(&self.pool).await
    }

    /// A file database is always there: a time-out means it is busy.
    async fn acquire_failed(&self, error: sqlx::Error) -> CapabilityError {
        classify(error)
    }

    fn description(&self) -> String {
        format!("embedded sqlite ({})", self.path.display())
    }
}

struct SqliteTransaction(sqlx::Transaction<'static, Sqlite>);

sqlx_backend!(SqliteBackend, SqliteTransaction);

async fn query_on(
    conn: &mut SqliteConnection,
    statement: &str,
    params: Vec<Value>,
) -> Result<Rows, CapabilityError> {
    let prepared = conn.prepare(statement).await.map_err(classify)?;
    let columns: Vec<String> = prepared
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let query = bind_all(prepared.query(), params)?;
    let rows = query.fetch_all(&mut *conn).await.map_err(classify)?;
    let rows = rows.iter().map(decode_row).collect::<Result<_, _>>()?;
    Ok(Rows { columns, rows })
}

async fn execute_on(
    conn: &mut SqliteConnection,
    statement: &str,
    params: Vec<Value>,
) -> Result<u64, CapabilityError> {
    let query = bind_all(sqlx::query(statement), params)?;
    let done = query.execute(conn).await.map_err(classify)?;
    Ok(done.rows_affected())
}

fn bind_all(
    mut query: SqliteQuery<'_>,
    params: Vec<Value>,
) -> Result<SqliteQuery<'_>, CapabilityError> {
    for param in params {
        query = match param {
            Value::Null => query.bind(None::<i64>),
            Value::Boolean(b) => query.bind(b),
            Value::Int(i) => query.bind(i),
            Value::Float(f) => query.bind(f),
            Value::Text(s) => query.bind(s),
            Value::Bytes(b) => query.bind(b),
            Value::Uuid(u) => query.bind(canonical_uuid(&u)?.hyphenated().to_string()),
            Value::Timestamp(micros) => query.bind(timestamp_text(micros)?),
        };
    }
    Ok(query)
}

/// Timestamps are stored as fixed-width RFC 3339 text, so they sort in time order.
fn timestamp_text(micros: i64) -> Result<String, CapabilityError> {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .ok_or_else(|| CapabilityError::invalid(format!("timestamp out of range: {micros}")))
}

fn parse_timestamp(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

fn decode_row(row: &SqliteRow) -> Result<Vec<Value>, CapabilityError> {
    (0..row.len()).map(|i| decode_cell(row, i)).collect()
}

/// Maps a cell by its declared column type where SQLite keeps one
/// (`BOOLEAN`, `TIMESTAMP`/`DATETIME`), by its storage class otherwise.
fn decode_cell(row: &SqliteRow, index: usize) -> Result<Value, CapabilityError> {
    let raw = row.try_get_raw(index).map_err(classify)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let storage = raw.type_info().name().to_owned();
    let declared = row.columns()[index].type_info().name();
    let value = match (declared, storage.as_str()) {
        ("BOOLEAN", "INTEGER") => {
            Value::Boolean(row.try_get::<i64, _>(index).map_err(classify)? != 0)
        }
        ("DATETIME", "TEXT") => {
            let text: String = row.try_get(index).map_err(classify)?;
            parse_timestamp(&text).map_or(Value::Text(text), Value::Timestamp)
        }
        ("DATETIME", "INTEGER") => Value::Timestamp(row.try_get(index).map_err(classify)?),
        (_, "INTEGER") => Value::Int(row.try_get(index).map_err(classify)?),
        (_, "REAL") => Value::Float(row.try_get(index).map_err(classify)?),
        (_, "BLOB") => Value::Bytes(row.try_get(index).map_err(classify)?),
        _ => Value::Text(row.try_get(index).map_err(classify)?),
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_text() {
        let micros = 1_764_158_400_123_456;
        let text = timestamp_text(micros).unwrap();
        assert_eq!(text, "2025-11-26T12:00:00.123456Z");
        assert_eq!(parse_timestamp(&text), Some(micros));
    }

    #[test]
    fn sqlite_current_timestamp_format_parses() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:01"), Some(1_000_000));
    }

    #[test]
    fn timestamp_text_sorts_like_time() {
        let earlier = timestamp_text(1_000_000).unwrap();
        let later = timestamp_text(10_000_000_000).unwrap();
        assert!(earlier < later);
    }
}
