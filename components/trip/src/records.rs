//! The SQL side of users and groups: rows listed in id order (UUIDv7 ids,
//! so creation order), fetched by id, and deleted together with their node
//! in the graph.

use summer_sdk::graph::{self, NodeRef};
use summer_sdk::http::Request;
use summer_sdk::sql::{self, Row, Transaction};
use summer_sdk::{ApiError, params};
use uuid::Uuid;

use crate::{Page, paging, parse_id};

/// A kind of record kept in one SQL table.
pub struct Table<T> {
    /// The table's name.
    pub name: &'static str,
    /// The columns to read, as a `SELECT` list.
    pub columns: &'static str,
    /// What one record is called in messages ("user", "group").
    pub what: &'static str,
    pub from_row: fn(Row<'_>) -> Result<T, ApiError>,
    pub id_of: fn(&T) -> Uuid,
}

impl<T> Table<T> {
    /// `?limit=N&cursor=C`: a page of records in id order; the cursor is
    /// the page's last id.
    pub fn list(&self, request: &Request) -> Result<Page<T>, ApiError> {
        let limit = paging::limit(request)?;
        let after = paging::after(request)?
            .map(|after| {
                parse_id("cursor", &after).map_err(|_| ApiError::invalid("invalid cursor"))
            })
            .transpose()?;
        let (name, columns) = (self.name, self.columns);
        let fetch = i64::from(limit) + 1;
        let rows = match after {
            Some(after) => sql::query(
                &format!("SELECT {columns} FROM {name} WHERE id > $1 ORDER BY id LIMIT $2"),
                &params![after, fetch],
            )?,
            None => sql::query(
                &format!("SELECT {columns} FROM {name} ORDER BY id LIMIT $1"),
                &params![fetch],
            )?,
        };
        let records = rows
            .iter()
            .map(self.from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(records, limit, |r| {
            (self.id_of)(r).to_string()
        }))
    }

    /// The record `id`, or a 404.
    pub fn find(&self, id: Uuid) -> Result<T, ApiError> {
        let statement = format!("SELECT {} FROM {} WHERE id = $1", self.columns, self.name);
        let rows = sql::query(&statement, &params![id])?;
        let row = rows.first().ok_or_else(|| self.not_found(id))?;
        (self.from_row)(row)
    }

    pub fn not_found(&self, id: Uuid) -> ApiError {
        ApiError::not_found(format!("no {} with id {id}", self.what))
    }

    /// Deletes the record `id` and its graph `node` (with every link of it).
    /// The row goes in a transaction that commits only once the node is
    /// gone, so a graph that is down leaves both whole.
    pub fn delete_with_node(&self, id: Uuid, node: &NodeRef) -> Result<(), ApiError> {
        let transaction = Transaction::begin()?;
        let statement = format!("DELETE FROM {} WHERE id = $1", self.name);
        if transaction.execute(&statement, &params![id])? == 0 {
            return Err(self.not_found(id));
        }
        graph::delete_node(node)?;
        transaction.commit()
    }
}
