//! The PostgreSQL backend: a sqlx connection pool, typed parameters, rows
//! decoded by column type.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow,
    PgSslMode, PgTypeInfo, Postgres,
};
use sqlx::{Column, Executor, Row, TypeInfo, ValueRef};

use super::{Rows, SqlBackend, SqlTransaction, Value, begin_detached, canonical_uuid, classify};
use crate::capabilities::{Capability, CapabilityError, ErrorKind};
use crate::config::{PostgresServer, PostgresSettings, SslMode};

/// How long a request waits for a free connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// The PostgreSQL backend.
pub(crate) struct PostgresBackend {
    pool: PgPool,
    target: String,
    /// Host and port, to tell an unreachable server from a busy pool.
    address: (String, u16),
}

impl PostgresBackend {
    /// Connects the pool, failing with a message naming the server (and,
    /// for TLS, why its certificate was refused) when it cannot.
    pub(crate) async fn connect(
        settings: &PostgresSettings,
        server: &PostgresServer,
    ) -> Result<Self> {
        crate::capabilities::tls::install_provider();
        let (mut options, setting) = match server {
            PostgresServer::Url(url) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a PostgreSQL URL: {e}"))?;
                (options, "DATABASE_URL")
            }
            PostgresServer::Address {
                host,
                port,
                user,
                name,
            } => {
                let mut options = PgConnectOptions::new()
                    .host(host)
                    .port(*port)
                    .username(user)
                    .database(name);
                if let Some(password) = &settings.password {
                    options = options.password(password);
                }
                (options, "DATABASE_HOST")
            }
        };
        options = options.application_name("summer");
        if let Some(mode) = settings.ssl_mode {
            options = options.ssl_mode(ssl_mode(mode));
        }
        if let Some(authorities) = &settings.ssl_root_cert {
            options = options.ssl_root_cert(authorities);
        }
        let host = options.get_host().to_owned();
        let port = options.get_port();
        let target = format!(
            "{}@{host}:{port}/{}",
            options.get_username(),
            options.get_database().unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {target} ({setting})"))?;
        Ok(Self {
            pool,
            target,
            address: (host, port),
        })
    }
}

fn ssl_mode(mode: SslMode) -> PgSslMode {
    match mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require => PgSslMode::Require,
        SslMode::VerifyCa => PgSslMode::VerifyCa,
        SslMode::VerifyFull => PgSslMode::VerifyFull,
    }
}

impl PostgresBackend {
    async fn begin_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let pool = self.pool.clone();
        begin_detached(async move { pool.begin().await }).await
    }

    /// A time-out waiting for a connection is a 504 when the pool is busy,
    /// but a 503 when the server does not accept connections at all.
    async fn acquire_failed(&self, error: sqlx::Error) -> CapabilityError {
        if matches!(error, sqlx::Error::PoolTimedOut) && !self.accepts_connections().await {
            return CapabilityError::from_server(
                Capability::Sql,
                ErrorKind::Unavailable,
                format!("PostgreSQL at {} cannot be reached", self.target),
            );
        }
        classify(error)
    }

    async fn accepts_connections(&self) -> bool {
        let (host, port) = (&self.address.0, self.address.1);
        let connect = tokio::net::TcpStream::connect((host.as_str(), port));
        matches!(
            tokio::time::timeout(Duration::from_secs(1), connect).await,
            Ok(Ok(_))
        )
    }

    fn description(&self) -> String {
        format!(
            "postgres ({}, pool of {})",
            self.target,
            self.pool.options().get_max_connections()
        )
    }
}

struct PostgresTransaction(sqlx::Transaction<'static, Postgres>);

sqlx_backend!(PostgresBackend, PostgresTransaction);

async fn query_on(
    conn: &mut PgConnection,
    statement: &str,
    params: Vec<Value>,
) -> Result<Rows, CapabilityError> {
    let query = build(statement, params)?;
    let rows = query.fetch_all(&mut *conn).await.map_err(classify)?;
    let columns = match rows.first() {
        Some(row) => row.columns().iter().map(|c| c.name().to_owned()).collect(),
        None => describe_columns(conn, statement).await?,
    };
    let rows = rows.iter().map(decode_row).collect::<Result<_, _>>()?;
    Ok(Rows { columns, rows })
}

/// Column names of a statement that returned no rows.
async fn describe_columns(
    conn: &mut PgConnection,
    statement: &str,
) -> Result<Vec<String>, CapabilityError> {
    let described = conn.describe(statement).await.map_err(classify)?;
    Ok(described
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect())
}

async fn execute_on(
    conn: &mut PgConnection,
    statement: &str,
    params: Vec<Value>,
) -> Result<u64, CapabilityError> {
    let done = build(statement, params)?
        .execute(conn)
        .await
        .map_err(classify)?;
    Ok(done.rows_affected())
}

/// Binds each value with its own SQL type. A NULL is sent untyped so the
/// server infers its type; such a statement is not cached, so a later call
/// with a value in that place gets a statement prepared for the value's type.
fn build(statement: &str, params: Vec<Value>) -> Result<PgQuery<'_>, CapabilityError> {
    let cacheable = !params.iter().any(|p| matches!(p, Value::Null));
    let mut query = sqlx::query(statement).persistent(cacheable);
    for param in params {
        query = match param {
            Value::Null => query.bind(UntypedNull),
            Value::Boolean(b) => query.bind(b),
            Value::Int(i) => query.bind(i),
            Value::Float(f) => query.bind(f),
            Value::Text(s) => query.bind(s),
            Value::Bytes(b) => query.bind(b),
            Value::Uuid(u) => query.bind(canonical_uuid(&u)?),
            Value::Timestamp(micros) => query.bind(timestamp(micros)?),
        };
    }
    Ok(query)
}

fn timestamp(micros: i64) -> Result<DateTime<Utc>, CapabilityError> {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .ok_or_else(|| CapabilityError::invalid(format!("timestamp out of range: {micros}")))
}

/// A NULL whose type the server infers from where it is used.
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

fn decode_row(row: &PgRow) -> Result<Vec<Value>, CapabilityError> {
    (0..row.len()).map(|i| decode_cell(row, i)).collect()
}

fn decode_cell(row: &PgRow, index: usize) -> Result<Value, CapabilityError> {
    let raw = row.try_get_raw(index).map_err(classify)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let column = &row.columns()[index];
    let get = |e| classify(e);
    let value = match column.type_info().name() {
        "BOOL" => Value::Boolean(row.try_get(index).map_err(get)?),
        "INT2" => Value::Int(row.try_get::<i16, _>(index).map_err(get)?.into()),
        "INT4" => Value::Int(row.try_get::<i32, _>(index).map_err(get)?.into()),
        "INT8" => Value::Int(row.try_get(index).map_err(get)?),
        "FLOAT4" => Value::Float(row.try_get::<f32, _>(index).map_err(get)?.into()),
        "FLOAT8" => Value::Float(row.try_get(index).map_err(get)?),
        "NUMERIC" => numeric(
            raw.as_bytes()
                .map_err(|e| CapabilityError::invalid(e.to_string()))?,
        )?,
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => {
            Value::Text(row.try_get(index).map_err(get)?)
        }
        "BYTEA" => Value::Bytes(row.try_get(index).map_err(get)?),
        "UUID" => Value::Uuid(
            row.try_get::<uuid::Uuid, _>(index)
                .map_err(get)?
                .to_string(),
        ),
        "TIMESTAMPTZ" => Value::Timestamp(
            row.try_get::<DateTime<Utc>, _>(index)
                .map_err(get)?
                .timestamp_micros(),
        ),
        "TIMESTAMP" => Value::Timestamp(
            row.try_get::<NaiveDateTime, _>(index)
                .map_err(get)?
                .and_utc()
                .timestamp_micros(),
        ),
        "DATE" => Value::Text(row.try_get::<NaiveDate, _>(index).map_err(get)?.to_string()),
        other => {
            return Err(CapabilityError::invalid(format!(
                "column {} has type {other}, which the sql capability does not carry; \
                 cast it to one of the portable types",
                column.name()
            )));
        }
    };
    Ok(value)
}

/// Decodes PostgreSQL's binary NUMERIC: an integral value that fits becomes
/// `int` (what `SUM` of integers returns), anything else `float`.
fn numeric(bytes: &[u8]) -> Result<Value, CapabilityError> {
    let bad = || CapabilityError::internal("malformed NUMERIC value from the server");
    let word = |i: usize| -> Result<u16, CapabilityError> {
        bytes
            .get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(bad)
    };
    let (ndigits, weight, sign, scale) = (word(0)? as usize, word(1)? as i16, word(2)?, word(3)?);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Ok(Value::Float(f64::NAN)),
        _ => return Err(bad()),
    }
    let negative = sign == 0x4000;
    let mut float = 0f64;
    let mut int: Option<i128> = Some(0);
    for i in 0..ndigits {
        let digit = word(4 + i)?;
        let power = i32::from(weight) - i as i32;
        float += f64::from(digit) * 10_000f64.powi(power);
        int = match u32::try_from(power) {
            Ok(p) => {
                int.and_then(|acc| acc.checked_add(i128::from(digit) * 10_000i128.checked_pow(p)?))
            }
            Err(_) => None,
        };
    }
    // A scale of zero (SUM of integers, NUMERIC(n, 0)) is an integer type.
    match int.and_then(|v| i64::try_from(v).ok()) {
        Some(v) if scale == 0 => Ok(Value::Int(if negative { -v } else { v })),
        _ => Ok(Value::Float(if negative { -float } else { float })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(ndigits: &[u16], weight: i16, sign: u16, scale: u16) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [ndigits.len() as u16, weight as u16, sign, scale] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        for d in ndigits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn integral_numerics_become_ints() {
        assert_eq!(numeric(&encode(&[], 0, 0, 0)).unwrap(), Value::Int(0));
        assert_eq!(numeric(&encode(&[42], 0, 0, 0)).unwrap(), Value::Int(42));
        assert_eq!(
            numeric(&encode(&[1, 2345], 1, 0x4000, 0)).unwrap(),
            Value::Int(-12_345)
        );
        assert_eq!(
            numeric(&encode(&[1], 2, 0, 0)).unwrap(),
            Value::Int(100_000_000)
        );
    }

    #[test]
    fn fractional_numerics_become_floats() {
        assert_eq!(
            numeric(&encode(&[2, 5000], 0, 0, 1)).unwrap(),
            Value::Float(2.5)
        );
        assert_eq!(
            numeric(&encode(&[2500], -1, 0x4000, 2)).unwrap(),
            Value::Float(-0.25)
        );
    }
}
