//! Typed access to `summer:platform/sql`: `$1`-style parameters from Rust
//! values, rows read by column name. Needs `grants = ["sql"]`; the guide,
//! with the SQL that runs the same on SQLite and PostgreSQL, is
//! `docs/sql.md`.
//!
//! ```no_run
//! use summer_sdk::{params, sql, ApiError, Timestamp};
//!
//! # fn example() -> Result<(), ApiError> {
//! sql::execute(
//!     "INSERT INTO notes (slug, text, updated_at) VALUES ($1, $2, $3)",
//!     &params!["packing", "passport", Timestamp::now()],
//! )?;
//! let rows = sql::query("SELECT text FROM notes WHERE slug = $1", &params!["packing"])?;
//! let text: Option<String> = rows.first().map(|row| row.get("text")).transpose()?;
//!
//! let transaction = sql::Transaction::begin()?;
//! transaction.execute("DELETE FROM notes WHERE slug = $1", &params!["packing"])?;
//! transaction.commit()?; // dropped without commit, it rolls back
//! # let _ = text; Ok(()) }
//! ```

use crate::ApiError;
use crate::bindings::summer::platform::sql as wit;
use crate::value::{FromValue, Value, convert};

/// Builds a parameter array from Rust values: `&params![id, name, 42]`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        [$($crate::Value::from($value)),*]
    };
}

/// Rows returned by a query.
#[derive(Clone, Debug)]
pub struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    /// Column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The cells of every row, in column order.
    pub fn values(&self) -> &[Vec<Value>] {
        &self.rows
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows, in order, each read by column name.
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    /// The first row, if any.
    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }
}

impl From<wit::Rows> for Rows {
    fn from(rows: wit::Rows) -> Self {
        Self {
            columns: rows.columns,
            rows: rows.rows,
        }
    }
}

/// One row, read by column name.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl Row<'_> {
    /// The cell of `column` as `T`; a missing column or a cell of another
    /// type is a 500 naming the column.
    pub fn get<T: FromValue>(&self, column: &str) -> Result<T, ApiError> {
        let index = self
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column))
            .ok_or_else(|| ApiError::internal(format!("the query returned no column {column}")))?;
        convert(column, &self.values[index])
    }
}

/// Runs a statement that returns rows.
pub fn query(statement: &str, params: &[Value]) -> Result<Rows, ApiError> {
    Ok(wit::query(statement, params)?.into())
}

/// Runs a statement; returns how many rows it changed.
pub fn execute(statement: &str, params: &[Value]) -> Result<u64, ApiError> {
    Ok(wit::execute(statement, params)?)
}

/// A transaction: dropped without [`Transaction::commit`], it rolls back.
pub struct Transaction(wit::Transaction);

impl Transaction {
    /// Opens a transaction.
    pub fn begin() -> Result<Self, ApiError> {
        Ok(Self(wit::begin()?))
    }

    /// Runs a statement that returns rows, inside the transaction.
    pub fn query(&self, statement: &str, params: &[Value]) -> Result<Rows, ApiError> {
        Ok(self.0.query(statement, params)?.into())
    }

    /// Runs a statement inside the transaction; returns how many rows it changed.
    pub fn execute(&self, statement: &str, params: &[Value]) -> Result<u64, ApiError> {
        Ok(self.0.execute(statement, params)?)
    }

    /// Makes the transaction's changes durable.
    pub fn commit(self) -> Result<(), ApiError> {
        Ok(wit::Transaction::commit(self.0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_column_name() {
        let rows = Rows {
            columns: vec!["id".into(), "name".into()],
            rows: vec![vec![Value::Int(1), Value::Text("Ada".into())]],
        };
        let row = rows.first().unwrap();
        assert_eq!(row.get::<i64>("id").unwrap(), 1);
        assert_eq!(row.get::<String>("NAME").unwrap(), "Ada");
        assert_eq!(row.get::<String>("email").unwrap_err().status, 500);
    }

    #[test]
    fn params_macro_converts_each_value() {
        let values = crate::params!["a", 1i64, true, None::<String>];
        assert_eq!(
            values,
            [
                Value::Text("a".into()),
                Value::Int(1),
                Value::Boolean(true),
                Value::Null
            ]
        );
    }
}
