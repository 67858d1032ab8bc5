//! Conversions between Rust values and the capability `value` variant.

use uuid::Uuid;

use crate::{ApiError, Timestamp};

pub use crate::bindings::summer::platform::types::Value;

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl From<Uuid> for Value {
    fn from(v: Uuid) -> Self {
        Value::Uuid(v.hyphenated().to_string())
    }
}

impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::Timestamp(v.micros())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A Rust type a cell can be read as. Conversions accept every form a
/// backend may store the type in (a UUID as `uuid` or text, a timestamp as
/// `timestamp`, RFC 3339 text or microseconds), so handlers read the same way
/// on every backend.
pub trait FromValue: Sized {
    /// The value as `Self`, or `None` when it is of another type.
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) | Value::Uuid(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Boolean(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bytes(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl FromValue for Uuid {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Uuid(s) | Value::Text(s) => Uuid::try_parse(s).ok(),
            _ => None,
        }
    }
}

impl FromValue for Timestamp {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Timestamp(micros) | Value::Int(micros) => Some(Timestamp(*micros)),
            Value::Text(s) => Timestamp::parse(s),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// Reads `value` as `T`, or explains which column did not fit.
pub(crate) fn convert<T: FromValue>(column: &str, value: &Value) -> Result<T, ApiError> {
    T::from_value(value).ok_or_else(|| {
        ApiError::internal(format!(
            "column {column} holds {value:?}, not a {}",
            std::any::type_name::<T>()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_read_from_uuid_or_text() {
        let id = Uuid::from_u128(0x0194_f3a2_7c1e_7b3a_9c1d_2e4f_5a6b_7c8d);
        assert_eq!(Uuid::from_value(&Value::from(id)), Some(id));
        assert_eq!(Uuid::from_value(&Value::Text(id.to_string())), Some(id));
        assert_eq!(Uuid::from_value(&Value::Text("nope".into())), None);
    }

    #[test]
    fn timestamps_read_from_every_stored_form() {
        let t = Timestamp(1_700_000_000_123_456);
        assert_eq!(Timestamp::from_value(&Value::Timestamp(t.0)), Some(t));
        assert_eq!(Timestamp::from_value(&Value::Text(t.to_rfc3339())), Some(t));
        assert_eq!(Timestamp::from_value(&Value::Int(t.0)), Some(t));
    }

    #[test]
    fn options_map_null() {
        assert_eq!(Option::<String>::from_value(&Value::Null), Some(None));
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Option::<i64>::from_value(&Value::Text("x".into())), None);
    }

    #[test]
    fn mismatches_name_the_column() {
        let err = convert::<i64>("age", &Value::Text("x".into())).unwrap_err();
        assert_eq!(err.status, 500);
        assert!(err.message.contains("age"), "{err}");
    }
}
