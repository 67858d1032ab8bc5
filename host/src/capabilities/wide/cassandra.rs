//! The Cassandra (or ScyllaDB) wide backend: one shared, token-aware
//! session with a cache of prepared statements; each declared table is a
//! CQL table in one keyspace, and every statement is prepared and bound.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use scylla::client::caching_session::CachingSession;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::statement::batch::{Batch, BatchType};
use scylla::value::{CqlValue, Row};

use super::keys::encode_all;
use super::{ColumnType, Scan, TableSchema, TypedRow, Value, WideBackend};
use crate::capabilities::{Capability, CapabilityError, ErrorKind, tls};
use crate::config::{CassandraSettings, Tls};

/// Prepared statements kept per session.
const STATEMENT_CACHE: usize = 512;
/// The ledger of declarations, beside the tables in the keyspace.
const LEDGER: &str = "summer_wide_tables";
/// Rows of one partition sent per batch: small enough to stay well under
/// Cassandra's default batch size limit for typical rows.
const BATCH_BYTES: usize = 16 << 10;
/// Keys of one partition removed by one conditional batch (one Paxos round).
const CONDITIONAL_BATCH: usize = 100;

/// The Cassandra wide-column backend.
pub(crate) struct CassandraBackend {
    session: CachingSession,
    keyspace: String,
    address: String,
    over_tls: bool,
}

impl CassandraBackend {
    /// Connects, and creates the keyspace and the declarations ledger.
    pub(crate) async fn connect(settings: &CassandraSettings, host: &str) -> Result<Self> {
        check_keyspace_name(&settings.keyspace)?;
        let address = format!("{host}:{}", settings.port);
        let mut builder = SessionBuilder::new()
            .known_node(&address)
            .connection_timeout(std::time::Duration::from_secs(5));
        if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
            builder = builder.user(user, password);
        }
        let tls = settings.tls()?;
        if let Tls::Verified(authorities) = &tls {
            let config = tls::client_config(authorities.as_deref(), "CASSANDRA_TLS_CA_FILE")?;
            builder = builder.tls_context(Some(config));
        }
        let session = builder
            .build()
            .await
            .with_context(|| format!("connecting to Cassandra at {address} (CASSANDRA_HOST)"))?;
        let keyspace = settings.keyspace.clone();
        session
            .query_unpaged(
                format!(
                    "CREATE KEYSPACE IF NOT EXISTS \"{keyspace}\" WITH replication = \
                     {{'class': 'SimpleStrategy', 'replication_factor': {}}}",
                    settings.replication_factor
                ),
                (),
            )
            .await
            .with_context(|| format!("creating keyspace {keyspace}"))?;
        session
            .query_unpaged(
                format!(
                    "CREATE TABLE IF NOT EXISTS \"{keyspace}\".{LEDGER} \
                     (name text PRIMARY KEY, declaration text)"
                ),
                (),
            )
            .await
            .context("creating the table of wide declarations")?;
        Ok(Self {
            session: CachingSession::from(session, STATEMENT_CACHE),
            keyspace,
            address,
            over_tls: tls != Tls::Off,
        })
    }

    fn table_ref(&self, table: &TableSchema) -> String {
        format!("\"{}\".\"{}\"", self.keyspace, table.storage_name)
    }

    async fn stored_declaration(&self, table: &TableSchema) -> Result<Option<TableSchema>> {
        let statement = format!(
            "SELECT declaration FROM \"{}\".{LEDGER} WHERE name = ?",
            self.keyspace
        );
        let result = self
            .session
            .execute_unpaged(statement, (&table.storage_name,))
            .await?
            .into_rows_result()?;
        let Some((text,)) = result.maybe_first_row::<(String,)>()? else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_str(&text)?))
    }

    async fn record_declaration(&self, table: &TableSchema) -> Result<()> {
        let statement = format!(
            "INSERT INTO \"{}\".{LEDGER} (name, declaration) VALUES (?, ?)",
            self.keyspace
        );
        let declaration = serde_json::to_string(table)?;
        self.session
            .execute_unpaged(statement, (&table.storage_name, declaration))
            .await?;
        Ok(())
    }

    async fn ddl(&self, statement: String) -> Result<()> {
        let session = self.session.get_session();
        session
            .query_unpaged(statement.clone(), ())
            .await
            .with_context(|| format!("running {statement}"))?;
        session.await_schema_agreement().await?;
        Ok(())
    }

    fn create_statement(&self, table: &TableSchema) -> String {
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|c| format!("\"{}\" {}", c.name, cql_type(c.kind)))
            .collect();
        let partition = quoted_list(table.partition_columns().iter().map(|c| &c.name));
        let mut key = format!("({partition})");
        for column in table.clustering_columns() {
            key.push_str(&format!(", \"{}\"", column.name));
        }
        let mut statement = format!(
            "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({key}))",
            self.table_ref(table),
            columns.join(", ")
        );
        if table.clustering_len > 0 {
            let direction = table.clustering_order.keyword();
            let order: Vec<String> = table
                .clustering_columns()
                .iter()
                .map(|c| format!("\"{}\" {direction}", c.name))
                .collect();
            statement.push_str(&format!(" WITH CLUSTERING ORDER BY ({})", order.join(", ")));
        }
        statement
    }

    fn insert_statement(&self, table: &TableSchema) -> String {
        let names = quoted_list(table.columns.iter().map(|c| &c.name));
        let marks = vec!["?"; table.columns.len()].join(", ");
        format!(
            "INSERT INTO {} ({names}) VALUES ({marks})",
            self.table_ref(table)
        )
    }

    fn select_statement(&self, table: &TableSchema, key_columns: usize) -> String {
        let names = quoted_list(table.columns.iter().map(|c| &c.name));
        format!(
            "SELECT {names} FROM {} WHERE {}",
            self.table_ref(table),
            key_equalities(table, key_columns)
        )
    }

    async fn put_partition(
        &self,
        table: &TableSchema,
        rows: &[TypedRow],
    ) -> Result<(), CapabilityError> {
        let statement = self.insert_statement(table);
        if let [row] = rows {
            self.session
                .execute_unpaged(statement, bind_values(row))
                .await
                .map_err(classify)?;
            return Ok(());
        }
        let mut batch = Batch::new(BatchType::Unlogged);
        for _ in rows {
            batch.append_statement(statement.as_str());
        }
        let values: Vec<Vec<Option<CqlValue>>> = rows.iter().map(|row| bind_values(row)).collect();
        self.session.batch(&batch, values).await.map_err(classify)?;
        Ok(())
    }
}

impl CassandraBackend {
    /// Removes those of the rows `chunk` indexes in `keys` (one partition)
    /// that exist, with one conditional batch per attempt; which it removed.
    async fn delete_chunk_if_present(
        &self,
        table: &TableSchema,
        keys: &[Vec<Value>],
        chunk: &[usize],
    ) -> Result<Vec<usize>, CapabilityError> {
        let statement = format!(
            "DELETE FROM {} WHERE {} IF EXISTS",
            self.table_ref(table),
            key_equalities(table, table.key_len())
        );
        let mut present = chunk.to_vec();
        while !present.is_empty() {
            let mut batch = Batch::new(BatchType::Logged);
            for _ in &present {
                batch.append_statement(statement.as_str());
            }
            let values: Vec<Vec<Option<CqlValue>>> =
                present.iter().map(|i| bind_values(&keys[*i])).collect();
            let result = self.session.batch(&batch, values).await.map_err(classify)?;
            match conditional_outcome(table, result)? {
                None => return Ok(present),
                Some(existing) => present.retain(|i| existing.contains(&encode_all(&keys[*i]))),
            }
        }
        Ok(present)
    }
}

#[async_trait]
impl WideBackend for CassandraBackend {
    fn describe(&self) -> String {
        let tls = if self.over_tls { ", TLS" } else { "" };
        format!(
            "cassandra at {} (keyspace {}{tls})",
            self.address, self.keyspace
        )
    }

    async fn ping(&self) -> Result<(), CapabilityError> {
        self.session
            .get_session()
            .query_unpaged("SELECT release_version FROM system.local", ())
            .await
            .map(drop)
            .map_err(classify)
    }

    async fn declare(&self, table: &TableSchema) -> Result<()> {
        match self.stored_declaration(table).await? {
            None => self.ddl(self.create_statement(table)).await?,
            Some(stored) => {
                let added = table.additions_since(&stored).map_err(anyhow::Error::msg)?;
                for column in added {
                    let statement = format!(
                        "ALTER TABLE {} ADD \"{}\" {}",
                        self.table_ref(table),
                        column.name,
                        cql_type(column.kind)
                    );
                    self.ddl(statement).await?;
                }
            }
        }
        self.record_declaration(table).await
    }

    /// Rows are grouped by partition; each group goes as single-partition
    /// batches, which Cassandra applies atomically and in isolation.
    async fn put(&self, table: &TableSchema, rows: Vec<TypedRow>) -> Result<(), CapabilityError> {
        for rows in by_partition(table, rows, |row| row).values() {
            for chunk in chunks_by_size(rows) {
                self.put_partition(table, chunk).await?;
            }
        }
        Ok(())
    }

    async fn get(
        &self,
        table: &TableSchema,
        key: Vec<Value>,
    ) -> Result<Option<TypedRow>, CapabilityError> {
        let statement = self.select_statement(table, table.key_len());
        let result = self
            .session
            .execute_unpaged(statement, bind_values(&key))
            .await
            .map_err(classify)?;
        let rows = read_rows(table, result)?;
        Ok(rows.into_iter().next())
    }

    async fn delete(&self, table: &TableSchema, key: Vec<Value>) -> Result<(), CapabilityError> {
        let statement = format!(
            "DELETE FROM {} WHERE {}",
            self.table_ref(table),
            key_equalities(table, table.key_len())
        );
        self.session
            .execute_unpaged(statement, bind_values(&key))
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// One conditional batch per partition and chunk of keys: a single
    /// Paxos round removes the whole chunk (lightweight transactions on one
    /// partition would contend with each other). A batch whose condition
    /// fails is applied to nothing and returns the rows that do exist; it
    /// is retried with those until it applies or none is left, so each row
    /// goes to exactly one of the calls racing for it.
    async fn delete_existing(
        &self,
        table: &TableSchema,
        keys: Vec<Vec<Value>>,
    ) -> Result<Vec<bool>, CapabilityError> {
        let mut removed = vec![false; keys.len()];
        let partitions = by_partition(table, keys.iter().enumerate(), |(_, key)| key);
        for keys_of_one in partitions.values() {
            let indexes: Vec<usize> = keys_of_one.iter().map(|(index, _)| *index).collect();
            for chunk in indexes.chunks(CONDITIONAL_BATCH) {
                for index in self.delete_chunk_if_present(table, &keys, chunk).await? {
                    removed[index] = true;
                }
            }
        }
        Ok(removed)
    }

    async fn delete_partition(
        &self,
        table: &TableSchema,
        partition: Vec<Value>,
    ) -> Result<(), CapabilityError> {
        let statement = format!(
            "DELETE FROM {} WHERE {}",
            self.table_ref(table),
            key_equalities(table, table.partition_len)
        );
        self.session
            .execute_unpaged(statement, bind_values(&partition))
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn scan(
        &self,
        table: &TableSchema,
        scan: Scan,
    ) -> Result<Vec<TypedRow>, CapabilityError> {
        let mut statement = self.select_statement(table, table.partition_len);
        let mut values = scan.partition.clone();
        let comparison = scan.order.after();
        if let Some(after) = &scan.after {
            let names = quoted_list(table.clustering_columns().iter().map(|c| &c.name));
            let marks = vec!["?"; after.len()].join(", ");
            statement.push_str(&format!(" AND ({names}) {comparison} ({marks})"));
            values.extend(after.iter().cloned());
        }
        if table.clustering_len > 0 {
            let direction = scan.order.keyword();
            let order: Vec<String> = table
                .clustering_columns()
                .iter()
                .map(|c| format!("\"{}\" {direction}", c.name))
                .collect();
            statement.push_str(&format!(" ORDER BY {}", order.join(", ")));
        }
        statement.push_str(&format!(" LIMIT {}", scan.limit));
        let result = self
            .session
            .execute_unpaged(statement, bind_values(&values))
            .await
            .map_err(classify)?;
        read_rows(table, result)
    }
}

/// What a conditional batch answered: applied, or the keys (encoded) of
/// the rows that exist, which Cassandra returns when it did not apply.
fn conditional_outcome(
    table: &TableSchema,
    result: scylla::response::query_result::QueryResult,
) -> Result<Option<BTreeSet<Vec<u8>>>, CapabilityError> {
    let bad = |e: &dyn std::fmt::Display| {
        CapabilityError::internal(format!("reading a conditional batch's answer: {e}"))
    };
    let rows = result.into_rows_result().map_err(|e| bad(&e))?;
    let answered = rows
        .rows::<Row>()
        .map_err(|e| bad(&e))?
        .map(|row| row.map(|row| row.columns).map_err(|e| bad(&e)))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(Some(CqlValue::Boolean(true))) = answered.first().and_then(|row| row.first()) {
        return Ok(None);
    }
    let specs = rows.column_specs();
    if specs.len() <= 1 {
        // Only `[applied]`: none of the rows exists.
        return Ok(Some(BTreeSet::new()));
    }
    let positions = table.columns[..table.key_len()]
        .iter()
        .map(|column| {
            let (at, _) = specs
                .get_by_name(&column.name)
                .ok_or_else(|| bad(&format!("no column {} in the answer", column.name)))?;
            Ok((at, column.kind))
        })
        .collect::<Result<Vec<_>, CapabilityError>>()?;
    let mut existing = BTreeSet::new();
    for mut columns in answered {
        let key = positions
            .iter()
            .map(|(at, kind)| from_cql(*kind, columns.get_mut(*at).and_then(Option::take)))
            .collect::<Result<Vec<_>, _>>()?;
        existing.insert(encode_all(&key));
    }
    Ok(Some(existing))
}

/// Groups `items` by the partition of the key (or row) each has, in
/// partition key order and first-seen order within each.
fn by_partition<T>(
    table: &TableSchema,
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> &[Value],
) -> BTreeMap<Vec<u8>, Vec<T>> {
    let mut partitions: BTreeMap<Vec<u8>, Vec<T>> = BTreeMap::new();
    for item in items {
        let partition = encode_all(&key(&item)[..table.partition_len]);
        partitions.entry(partition).or_default().push(item);
    }
    partitions
}

/// Splits one partition's rows into batches of about `BATCH_BYTES`.
fn chunks_by_size(rows: &[TypedRow]) -> Vec<&[TypedRow]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, row) in rows.iter().enumerate() {
        let size: usize = row.iter().map(value_size).sum();
        if index > start && bytes + size > BATCH_BYTES {
            chunks.push(&rows[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    chunks.push(&rows[start..]);
    chunks
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::Text(text) => text.len(),
        Value::Bytes(bytes) => bytes.len(),
        _ => 16,
    }
}

fn check_keyspace_name(name: &str) -> Result<()> {
    let valid = name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!(
            "CASSANDRA_KEYSPACE {name:?} must be lowercase letters, digits and '_', starting with a letter"
        );
    }
    Ok(())
}

fn quoted_list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `"a" = ? AND "b" = ?` over the first `count` key columns.
fn key_equalities(table: &TableSchema, count: usize) -> String {
    table.columns[..count]
        .iter()
        .map(|c| format!("\"{}\" = ?", c.name))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Timestamps are stored as microseconds in a `bigint`: CQL's `timestamp`
/// keeps only milliseconds.
fn cql_type(kind: ColumnType) -> &'static str {
    match kind {
        ColumnType::Boolean => "boolean",
        ColumnType::Int | ColumnType::Timestamp => "bigint",
        ColumnType::Float => "double",
        ColumnType::Text => "text",
        ColumnType::Bytes => "blob",
        ColumnType::Uuid => "uuid",
    }
}

fn bind_values(values: &[Value]) -> Vec<Option<CqlValue>> {
    values.iter().map(to_cql).collect()
}

fn to_cql(value: &Value) -> Option<CqlValue> {
    Some(match value {
        Value::Null => return None,
        Value::Boolean(b) => CqlValue::Boolean(*b),
        Value::Int(i) | Value::Timestamp(i) => CqlValue::BigInt(*i),
        Value::Float(f) => CqlValue::Double(*f),
        Value::Text(text) => CqlValue::Text(text.clone()),
        Value::Bytes(bytes) => CqlValue::Blob(bytes.clone()),
        Value::Uuid(text) => CqlValue::Uuid(uuid::Uuid::try_parse(text).unwrap_or_default()),
    })
}

fn from_cql(kind: ColumnType, value: Option<CqlValue>) -> Result<Value, CapabilityError> {
    Ok(match (kind, value) {
        (_, None) => Value::Null,
        (ColumnType::Boolean, Some(CqlValue::Boolean(b))) => Value::Boolean(b),
        (ColumnType::Int, Some(CqlValue::BigInt(i))) => Value::Int(i),
        (ColumnType::Timestamp, Some(CqlValue::BigInt(i))) => Value::Timestamp(i),
        (ColumnType::Float, Some(CqlValue::Double(f))) => Value::Float(f),
        (ColumnType::Text, Some(CqlValue::Text(text) | CqlValue::Ascii(text))) => Value::Text(text),
        (ColumnType::Bytes, Some(CqlValue::Blob(bytes))) => Value::Bytes(bytes),
        (ColumnType::Uuid, Some(CqlValue::Uuid(uuid))) => Value::Uuid(uuid.to_string()),
        (kind, Some(other)) => {
            return Err(CapabilityError::internal(format!(
                "a stored {other:?} does not match the declared type {kind:?}"
            )));
        }
    })
}

fn read_rows(
    table: &TableSchema,
    result: scylla::response::query_result::QueryResult,
) -> Result<Vec<TypedRow>, CapabilityError> {
    let rows = result
        .into_rows_result()
        .map_err(|e| CapabilityError::internal(e.to_string()))?;
    rows.rows::<Row>()
        .map_err(|e| CapabilityError::internal(e.to_string()))?
        .map(|row| {
            let row = row.map_err(|e| CapabilityError::internal(e.to_string()))?;
            table
                .columns
                .iter()
                .zip(row.columns)
                .map(|(column, value)| from_cql(column.kind, value))
                .collect()
        })
        .collect()
}

/// Classifies a driver error into what the guest can act on.
fn classify(error: ExecutionError) -> CapabilityError {
    let kind = match &error {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, _)) => match db {
            DbError::SyntaxError | DbError::Invalid => ErrorKind::Invalid,
            DbError::Unauthorized | DbError::AuthenticationError => ErrorKind::Denied,
            DbError::ReadTimeout { .. } | DbError::WriteTimeout { .. } => ErrorKind::Timeout,
            DbError::Unavailable { .. } | DbError::Overloaded | DbError::IsBootstrapping => {
                ErrorKind::Unavailable
            }
            _ => ErrorKind::Internal,
        },
        ExecutionError::RequestTimeout(_) => ErrorKind::Timeout,
        ExecutionError::ConnectionPoolError(_)
        | ExecutionError::EmptyPlan
        | ExecutionError::LastAttemptError(RequestAttemptError::BrokenConnectionError(_)) => {
            ErrorKind::Unavailable
        }
        _ => ErrorKind::Internal,
    };
    CapabilityError::from_server(Capability::Wide, kind, error)
}
