//! PATCH bodies: each field is optional, but a field that is given must
//! have a value. `null` is refused (400) as it is in POST bodies, rather
//! than read as "leave unchanged".

use serde::{Deserialize, Deserializer};

/// `#[serde(default, deserialize_with = "summer_trip::patch::not_null")]`
/// on an `Option<T>` field: absent is `None`, `null` is an error.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Changes {
        #[serde(default, deserialize_with = "not_null")]
        name: Option<String>,
    }

    #[test]
    fn absent_is_none_and_null_is_refused() {
        let absent: Changes = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.name, None);
        let given: Changes = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert_eq!(given.name.as_deref(), Some("x"));
        let error = serde_json::from_str::<Changes>(r#"{"name":null}"#).unwrap_err();
        assert!(error.to_string().contains("null"), "{error}");
    }
}
