//! Table declarations: the `wide` tables file a manifest entry points to,
//! the checked schema the backends create, and the typing of rows and keys
//! against it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::Value;
use crate::capabilities::CapabilityError;

/// The longest table name a backend accepts (Cassandra's limit).
const MAX_STORAGE_NAME: usize = 48;

/// The type of a column, as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Boolean,
    Int,
    Float,
    Text,
    Bytes,
    Uuid,
    Timestamp,
}

impl ColumnType {
    /// Whether `value` may be stored in a column of this type (null aside).
    pub(crate) fn admits(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (ColumnType::Boolean, Value::Boolean(_))
                | (ColumnType::Int, Value::Int(_))
                | (ColumnType::Float, Value::Float(_))
                | (ColumnType::Text, Value::Text(_))
                | (ColumnType::Bytes, Value::Bytes(_))
                | (ColumnType::Uuid, Value::Uuid(_))
                | (ColumnType::Timestamp, Value::Timestamp(_))
        )
    }

    fn name(self) -> &'static str {
        match self {
            ColumnType::Boolean => "boolean",
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Text => "text",
            ColumnType::Bytes => "bytes",
            ColumnType::Uuid => "uuid",
            ColumnType::Timestamp => "timestamp",
        }
    }
}

/// The stored order of a table's clustering key, and the direction of a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Ascending,
    Descending,
}

impl Order {
    /// The `ORDER BY` keyword of this order, in SQL and CQL alike.
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            Order::Ascending => "ASC",
            Order::Descending => "DESC",
        }
    }

    /// The comparison that selects keys after a given one in this order.
    pub(crate) fn after(self) -> &'static str {
        match self {
            Order::Ascending => ">",
            Order::Descending => "<",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: ColumnType,
}

/// A checked table: its columns are the partition key columns, then the
/// clustering key columns, then the others by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// The name the component uses.
    pub(crate) name: String,
    /// The name in the backend, unique across components.
    pub(crate) storage_name: String,
    pub(crate) columns: Vec<Column>,
    pub(crate) partition_len: usize,
    pub(crate) clustering_len: usize,
    pub(crate) clustering_order: Order,
}

/// A row typed against its schema: one value per column, in column order.
pub type TypedRow = Vec<Value>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTablesFile {
    #[serde(default)]
    tables: BTreeMap<String, RawTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    partition_key: Vec<String>,
    #[serde(default)]
    clustering_key: Vec<String>,
    #[serde(default = "ascending")]
    clustering_order: Order,
    columns: BTreeMap<String, ColumnType>,
}

fn ascending() -> Order {
    Order::Ascending
}

/// Reads the tables file of component `component`.
pub fn read_tables(component: &str, path: &Path) -> Result<Vec<TableSchema>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading wide tables {}", path.display()))?;
    parse_tables(component, &text).with_context(|| format!("in wide tables {}", path.display()))
}

/// Parses a tables file: a `[tables.<name>]` section per table.
pub fn parse_tables(component: &str, text: &str) -> Result<Vec<TableSchema>> {
    let raw: RawTablesFile = toml::from_str(text)?;
    if raw.tables.is_empty() {
        bail!("no tables are declared");
    }
    raw.tables
        .into_iter()
        .map(|(name, table)| {
            TableSchema::from_raw(component, &name, table)
                .with_context(|| format!("in table {name:?}"))
        })
        .collect()
}

impl TableSchema {
    fn from_raw(component: &str, name: &str, raw: RawTable) -> Result<Self> {
        check_identifier("table", name)?;
        for column in raw.columns.keys() {
            check_identifier("column", column)?;
        }
        let storage_name = format!("{}__{name}", component.replace('-', "_"));
        if storage_name.len() > MAX_STORAGE_NAME {
            bail!(
                "component and table name together must fit in {MAX_STORAGE_NAME} characters: {storage_name}"
            );
        }
        if raw.partition_key.is_empty() {
            bail!("partition_key must name at least one column");
        }
        let mut columns = Vec::new();
        for key in raw.partition_key.iter().chain(&raw.clustering_key) {
            let kind = *raw
                .columns
                .get(key)
                .with_context(|| format!("key column {key:?} is not among the columns"))?;
            if columns.iter().any(|c: &Column| &c.name == key) {
                bail!("column {key:?} appears twice in the key");
            }
            columns.push(Column {
                name: key.clone(),
                kind,
            });
        }
        for (column, kind) in &raw.columns {
            if !columns.iter().any(|c| &c.name == column) {
                columns.push(Column {
                    name: column.clone(),
                    kind: *kind,
                });
            }
        }
        Ok(Self {
            name: name.to_owned(),
            storage_name,
            columns,
            partition_len: raw.partition_key.len(),
            clustering_len: raw.clustering_key.len(),
            clustering_order: raw.clustering_order,
        })
    }

    pub(crate) fn key_len(&self) -> usize {
        self.partition_len + self.clustering_len
    }

    pub(crate) fn partition_columns(&self) -> &[Column] {
        &self.columns[..self.partition_len]
    }

    pub(crate) fn clustering_columns(&self) -> &[Column] {
        &self.columns[self.partition_len..self.key_len()]
    }

    pub(crate) fn key_columns(&self) -> &[Column] {
        &self.columns[..self.key_len()]
    }

    /// Types a row of named cells: every key column present and not null,
    /// no unknown or repeated column, every value of its column's type.
    pub fn typed_row(&self, cells: Vec<(String, Value)>) -> Result<TypedRow, CapabilityError> {
        let mut row = vec![Value::Null; self.columns.len()];
        let mut seen = vec![false; self.columns.len()];
        for (name, value) in cells {
            let index = self.column_index(&name)?;
            if std::mem::replace(&mut seen[index], true) {
                return Err(self.invalid(format!("column {name:?} is given twice")));
            }
            row[index] = value;
        }
        row.into_iter()
            .zip(&self.columns)
            .enumerate()
            .map(|(index, (value, column))| self.checked(column, value, index < self.key_len()))
            .collect()
    }

    /// Types key values against the first `values.len()` key columns, which
    /// must be exactly the partition key (`whole_key` false) or the whole
    /// primary key (`whole_key` true).
    pub(crate) fn typed_key(
        &self,
        values: Vec<Value>,
        whole_key: bool,
    ) -> Result<Vec<Value>, CapabilityError> {
        let (expected, what) = if whole_key {
            (self.key_columns(), "primary key")
        } else {
            (self.partition_columns(), "partition key")
        };
        if values.len() != expected.len() {
            let names: Vec<&str> = expected.iter().map(|c| c.name.as_str()).collect();
            return Err(self.invalid(format!(
                "the {what} is {} value(s) ({}), not {}",
                expected.len(),
                names.join(", "),
                values.len()
            )));
        }
        values
            .into_iter()
            .zip(expected)
            .map(|(value, column)| self.checked(column, value, true))
            .collect()
    }

    /// The row as named cells, leaving out nulls.
    pub fn cells(&self, row: TypedRow) -> Vec<(String, Value)> {
        self.columns
            .iter()
            .zip(row)
            .filter(|(_, value)| *value != Value::Null)
            .map(|(column, value)| (column.name.clone(), value))
            .collect()
    }

    fn column_index(&self, name: &str) -> Result<usize, CapabilityError> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| self.invalid(format!("there is no column {name:?}")))
    }

    /// Checks `value` against `column`; uuids come back in canonical form.
    fn checked(
        &self,
        column: &Column,
        value: Value,
        is_key: bool,
    ) -> Result<Value, CapabilityError> {
        match value {
            Value::Null if is_key => {
                Err(self.invalid(format!("key column {:?} needs a value", column.name)))
            }
            Value::Null => Ok(Value::Null),
            Value::Float(f) if is_key && f.is_nan() => {
                Err(self.invalid(format!("key column {:?} cannot be NaN", column.name)))
            }
            Value::Uuid(text) if column.kind == ColumnType::Uuid => {
                match uuid::Uuid::try_parse(&text) {
                    Ok(uuid) => Ok(Value::Uuid(uuid.to_string())),
                    Err(_) => {
                        Err(self.invalid(format!("column {:?}: not a uuid: {text:?}", column.name)))
                    }
                }
            }
            value if column.kind.admits(&value) => Ok(value),
            _ => Err(self.invalid(format!(
                "column {:?} holds {} values",
                column.name,
                column.kind.name()
            ))),
        }
    }

    fn invalid(&self, message: String) -> CapabilityError {
        CapabilityError::invalid(format!("table {}: {message}", self.name))
    }

    /// How a stored declaration may become this one: the keys, their order
    /// and the types of existing columns must not change; new columns may
    /// be added. Returns the added columns.
    pub(crate) fn additions_since(&self, stored: &TableSchema) -> Result<Vec<Column>, String> {
        if self.key_columns() != stored.key_columns()
            || self.partition_len != stored.partition_len
            || self.clustering_order != stored.clustering_order
        {
            return Err(format!(
                "table {} was created with a different key or clustering order; keys cannot change",
                self.name
            ));
        }
        for old in &stored.columns {
            match self.columns.iter().find(|c| c.name == old.name) {
                None => {
                    return Err(format!(
                        "table {}: column {:?} was removed from the declaration; columns cannot be dropped",
                        self.name, old.name
                    ));
                }
                Some(new) if new.kind != old.kind => {
                    return Err(format!(
                        "table {}: column {:?} changed type from {} to {}",
                        self.name,
                        old.name,
                        old.kind.name(),
                        new.kind.name()
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(self
            .columns
            .iter()
            .filter(|c| !stored.columns.iter().any(|old| old.name == c.name))
            .cloned()
            .collect())
    }
}

/// Lowercase letters, digits and single underscores, starting with a letter.
fn check_identifier(what: &str, name: &str) -> Result<()> {
    let valid = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_');
    if !valid {
        bail!(
            "{what} name {name:?} must be up to 40 lowercase letters, digits and single underscores, starting with a letter"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGES: &str = r#"
        [tables.messages]
        partition_key = ["conversation_id"]
        clustering_key = ["sent_at", "id"]
        clustering_order = "descending"
        columns = { conversation_id = "uuid", sent_at = "timestamp", id = "uuid", body = "text", author = "uuid" }
    "#;

    fn messages() -> TableSchema {
        parse_tables("chat-app", MESSAGES).unwrap().remove(0)
    }

    #[test]
    fn key_columns_come_first_then_the_rest_by_name() {
        let table = messages();
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["conversation_id", "sent_at", "id", "author", "body"]
        );
        assert_eq!(table.storage_name, "chat_app__messages");
        assert_eq!(table.clustering_order, Order::Descending);
    }

    #[test]
    fn bad_declarations_are_refused_with_a_reason() {
        for (text, reason) in [
            (
                "[tables.t]\npartition_key = []\ncolumns = { a = \"int\" }",
                "at least one",
            ),
            (
                "[tables.t]\npartition_key = [\"b\"]\ncolumns = { a = \"int\" }",
                "not among",
            ),
            (
                "[tables.t]\npartition_key = [\"a\", \"a\"]\ncolumns = { a = \"int\" }",
                "twice",
            ),
            (
                "[tables.T]\npartition_key = [\"a\"]\ncolumns = { a = \"int\" }",
                "lowercase",
            ),
            (
                "[tables.t]\npartition_key = [\"a\"]\ncolumns = { a__b = \"int\" }",
                "single underscores",
            ),
            (
                "[tables.t]\npartition_key = [\"a\"]\ncolumns = { a = \"decimal\" }",
                "unknown variant",
            ),
            ("tables = {}", "no tables"),
        ] {
            let error = format!("{:#}", parse_tables("c", text).unwrap_err());
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn rows_are_typed_by_name_and_checked() {
        let table = messages();
        let id = uuid::Uuid::new_v4().to_string();
        let row = table
            .typed_row(vec![
                ("body".into(), Value::Text("hi".into())),
                ("conversation_id".into(), Value::Uuid(id.clone())),
                ("sent_at".into(), Value::Timestamp(5)),
                ("id".into(), Value::Uuid(id.clone())),
            ])
            .unwrap();
        assert_eq!(row[4], Value::Text("hi".into()));
        assert_eq!(row[3], Value::Null);
        assert_eq!(table.cells(row).len(), 4);

        let missing_key =
            table.typed_row(vec![("conversation_id".into(), Value::Uuid(id.clone()))]);
        assert!(missing_key.unwrap_err().message.contains("needs a value"));
        let key = |extra: (&str, Value)| {
            vec![
                ("conversation_id".into(), Value::Uuid(id.clone())),
                ("sent_at".into(), Value::Timestamp(5)),
                ("id".into(), Value::Uuid(id.clone())),
                (extra.0.to_owned(), extra.1),
            ]
        };
        let wrong_type = table.typed_row(key(("body", Value::Int(1))));
        assert!(wrong_type.unwrap_err().message.contains("text values"));
        let unknown = table.typed_row(key(("nope", Value::Int(1))));
        assert!(unknown.unwrap_err().message.contains("no column"));
        let twice = table.typed_row(key(("id", Value::Uuid(id.clone()))));
        assert!(twice.unwrap_err().message.contains("given twice"));
        let unknown = table.typed_row(key(("nope", Value::Int(1))));
        assert!(unknown.unwrap_err().message.contains("no column"));
        let bad_key = table.typed_key(vec![Value::Uuid("x".into())], false);
        assert!(bad_key.unwrap_err().message.contains("not a uuid"));
        let short_key = table.typed_key(vec![Value::Uuid(id)], true);
        assert!(
            short_key
                .unwrap_err()
                .message
                .contains("primary key is 3 value(s)")
        );
    }

    #[test]
    fn declarations_may_only_grow_by_columns() {
        let stored = messages();
        let grown = parse_tables(
            "chat-app",
            &MESSAGES.replace(
                "author = \"uuid\"",
                "author = \"uuid\", edited = \"boolean\"",
            ),
        )
        .unwrap()
        .remove(0);
        let added = grown.additions_since(&stored).unwrap();
        assert_eq!(
            added,
            [Column {
                name: "edited".into(),
                kind: ColumnType::Boolean
            }]
        );
        assert_eq!(stored.additions_since(&stored).unwrap(), []);

        let retyped = parse_tables(
            "chat-app",
            &MESSAGES.replace("body = \"text\"", "body = \"bytes\""),
        )
        .unwrap()
        .remove(0);
        assert!(
            retyped
                .additions_since(&stored)
                .unwrap_err()
                .contains("changed type")
        );
        let dropped = parse_tables("chat-app", &MESSAGES.replace("body = \"text\", ", ""))
            .unwrap()
            .remove(0);
        assert!(
            dropped
                .additions_since(&stored)
                .unwrap_err()
                .contains("cannot be dropped")
        );
        let reordered = parse_tables(
            "chat-app",
            &MESSAGES.replace("\"descending\"", "\"ascending\""),
        )
        .unwrap()
        .remove(0);
        assert!(
            reordered
                .additions_since(&stored)
                .unwrap_err()
                .contains("keys cannot change")
        );
    }
}
