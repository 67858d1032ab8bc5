//! Typed access to `summer:platform/wide`: rows written and read as named
//! cells, keys as value lists, and partitions scanned a page at a time,
//! newest first or oldest first.
//!
//! ```no_run
//! use summer_sdk::{wide, Timestamp, Value};
//!
//! # fn example(conversation: &str, id: &str, body: &str) -> Result<(), summer_sdk::ApiError> {
//! wide::put("messages", [
//!     ("conversation_id", Value::from(conversation)),
//!     ("sent_at", Value::from(Timestamp::now())),
//!     ("id", Value::from(id)),
//!     ("body", Value::from(body)),
//! ])?;
//! let page = wide::scan("messages", &[Value::from(conversation)], wide::Order::Descending, 20, None)?;
//! for row in &page.rows {
//!     let body: String = row.get("body")?;
//!     let sent_at: Timestamp = row.get("sent_at")?;
//! #   let _ = (body, sent_at);
//! }
//! // `page.next` continues the scan where this page stopped.
//! # Ok(()) }
//! ```
//!
//! Needs `grants = ["wide"]` and the tables declared in a file the manifest
//! names; the guide is `docs/wide.md`.

use crate::ApiError;
use crate::bindings::summer::platform::types::{Error as CapabilityError, ErrorKind};
use crate::bindings::summer::platform::wide as wit;
use crate::value::{FromValue, Value, convert};

pub use wit::Order;

/// A row of a wide table; columns that are null are absent.
#[derive(Clone, Debug, PartialEq)]
pub struct WideRow {
    cells: Vec<(String, Value)>,
}

impl WideRow {
    /// The cell of `column` as `T`; an absent (null) cell reads as
    /// `Value::Null`, so optional columns are read as `Option<T>`.
    pub fn get<T: FromValue>(&self, column: &str) -> Result<T, ApiError> {
        let value = self
            .cells
            .iter()
            .find(|(name, _)| name == column)
            .map_or(&Value::Null, |(_, value)| value);
        convert(column, value)
    }

    /// Every non-null cell, key columns first.
    pub fn cells(&self) -> &[(String, Value)] {
        &self.cells
    }
}

/// One page of a scan.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The rows, in the order asked for.
    pub rows: Vec<WideRow>,
    /// Present when more rows follow: pass it to the next `scan`.
    pub next: Option<String>,
}

fn cells<'a>(row: impl IntoIterator<Item = (&'a str, Value)>) -> Vec<(String, Value)> {
    row.into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// Writes a whole row (every key column, and any others), replacing the
/// row with the same primary key.
pub fn put<'a>(
    table: &str,
    row: impl IntoIterator<Item = (&'a str, Value)>,
) -> Result<(), ApiError> {
    Ok(wit::put(table, &cells(row))?)
}

/// Writes up to 1000 rows of one table.
pub fn put_many<'a, R>(table: &str, rows: impl IntoIterator<Item = R>) -> Result<(), ApiError>
where
    R: IntoIterator<Item = (&'a str, Value)>,
{
    let rows: Vec<_> = rows.into_iter().map(cells).collect();
    Ok(wit::put_many(table, &rows)?)
}

/// The row with this primary key (partition key values, then clustering
/// key values).
pub fn get(table: &str, key: &[Value]) -> Result<Option<WideRow>, ApiError> {
    Ok(wit::get(table, key)?.map(|cells| WideRow { cells }))
}

/// Removes the row with this primary key.
pub fn delete(table: &str, key: &[Value]) -> Result<(), ApiError> {
    Ok(wit::delete(table, key)?)
}

/// Removes those rows (up to 1000, by primary key) that exist, and says for
/// each key whether this call removed it. Of concurrent calls for one row
/// exactly one gets `true`, so it counts or claims each row once.
pub fn delete_existing(table: &str, keys: &[Vec<Value>]) -> Result<Vec<bool>, ApiError> {
    Ok(wit::delete_existing(table, keys)?)
}

/// Removes every row of one partition.
pub fn delete_partition(table: &str, partition: &[Value]) -> Result<(), ApiError> {
    Ok(wit::delete_partition(table, partition)?)
}

/// Up to `limit` rows (1 to 1000) of one partition in clustering order,
/// continuing after `cursor` when given.
pub fn scan(
    table: &str,
    partition: &[Value],
    order: Order,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page, ApiError> {
    let range = wit::Range {
        limit,
        order,
        cursor: cursor.map(str::to_owned),
    };
    let page = match wit::scan(table, partition, &range) {
        Ok(page) => page,
        Err(e) if e.kind == ErrorKind::Invalid && cursor.is_some() => {
            return Err(blame_the_cursor(table, partition, order, e));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Page {
        rows: page
            .rows
            .into_iter()
            .map(|cells| WideRow { cells })
            .collect(),
        next: page.next,
    })
}

/// A scan with a cursor was refused as invalid: when the same scan without
/// the cursor is fine, the cursor (which came from a client) is at fault, a
/// 400; otherwise the component's call is, a 500.
fn blame_the_cursor(
    table: &str,
    partition: &[Value],
    order: Order,
    error: CapabilityError,
) -> ApiError {
    let probe = wit::Range {
        limit: 1,
        order,
        cursor: None,
    };
    match wit::scan(table, partition, &probe) {
        Ok(_) => ApiError::invalid("invalid cursor"),
        Err(_) => error.into(),
    }
}
