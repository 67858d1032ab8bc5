//! Order-preserving byte encoding of typed values (byte order equals value
//! order, so an ordered store can compare keys with `memcmp`), and the
//! opaque scan cursors built on it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::Value;
use super::schema::{ColumnType, Order};
use crate::capabilities::CapabilityError;

const SIGN: u64 = 1 << 63;
/// Ends a variable-length value; a zero byte inside one is sent as `0, ESCAPED`.
const TERMINATOR: [u8; 2] = [0, 0];
const ESCAPED: u8 = 0xff;

/// Appends `value` to `out` so that byte order follows value order. Nulls
/// are not keys and encode as nothing.
pub(super) fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => {}
        Value::Boolean(b) => out.push(u8::from(*b)),
        Value::Int(i) | Value::Timestamp(i) => out.extend((*i as u64 ^ SIGN).to_be_bytes()),
        Value::Float(f) => out.extend(float_order_bits(*f).to_be_bytes()),
        Value::Text(text) => encode_bytes(text.as_bytes(), out),
        Value::Bytes(bytes) => encode_bytes(bytes, out),
        Value::Uuid(text) => {
            let uuid = uuid::Uuid::try_parse(text).unwrap_or_default();
            out.extend(uuid.as_bytes());
        }
    }
}

/// Encodes several values one after the other.
pub(super) fn encode_all(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        encode(value, &mut out);
    }
    out
}

/// Reads one value of type `kind` from the front of `input`.
pub(super) fn decode(kind: ColumnType, input: &mut &[u8]) -> Option<Value> {
    Some(match kind {
        ColumnType::Boolean => match take(input, 1)? {
            [0] => Value::Boolean(false),
            [1] => Value::Boolean(true),
            _ => return None,
        },
        ColumnType::Int => Value::Int((take_u64(input)? ^ SIGN) as i64),
        ColumnType::Timestamp => Value::Timestamp((take_u64(input)? ^ SIGN) as i64),
        ColumnType::Float => Value::Float(float_from_order_bits(take_u64(input)?)),
        ColumnType::Text => Value::Text(String::from_utf8(decode_bytes(input)?).ok()?),
        ColumnType::Bytes => Value::Bytes(decode_bytes(input)?),
        ColumnType::Uuid => {
            let bytes: [u8; 16] = take(input, 16)?.try_into().ok()?;
            Value::Uuid(uuid::Uuid::from_bytes(bytes).to_string())
        }
    })
}

/// Reads values of the given types; `None` unless `input` holds exactly them.
pub(super) fn decode_all(
    kinds: impl IntoIterator<Item = ColumnType>,
    mut input: &[u8],
) -> Option<Vec<Value>> {
    let values = kinds
        .into_iter()
        .map(|kind| decode(kind, &mut input))
        .collect::<Option<Vec<_>>>()?;
    input.is_empty().then_some(values)
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

fn take_u64(input: &mut &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = take(input, 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Negative floats have every bit flipped, positive ones only the sign, so
/// the unsigned integers sort like the floats.
fn float_order_bits(f: f64) -> u64 {
    let bits = f.to_bits();
    if bits & SIGN != 0 { !bits } else { bits ^ SIGN }
}

fn float_from_order_bits(ordered: u64) -> f64 {
    let bits = if ordered & SIGN != 0 {
        ordered ^ SIGN
    } else {
        !ordered
    };
    f64::from_bits(bits)
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &byte in bytes {
        out.push(byte);
        if byte == 0 {
            out.push(ESCAPED);
        }
    }
    out.extend(TERMINATOR);
}

fn decode_bytes(input: &mut &[u8]) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    loop {
        match take(input, 1)?[0] {
            0 => match take(input, 1)?[0] {
                0 => return Some(bytes),
                ESCAPED => bytes.push(0),
                _ => return None,
            },
            byte => bytes.push(byte),
        }
    }
}

/// Where a scan stopped: the table, partition and order it belongs to, and
/// the clustering key of the last row returned.
pub(super) struct Cursor {
    pub(crate) after: Vec<Value>,
}

const CURSOR_VERSION: u8 = 1;
const SCOPE_LEN: usize = 8;

/// Binds a cursor to one table, partition and order.
fn scope(storage_name: &str, partition: &[Value], order: Order) -> [u8; SCOPE_LEN] {
    let mut hash = Sha256::new();
    hash.update(storage_name.as_bytes());
    hash.update([0, order as u8]);
    hash.update(encode_all(partition));
    hash.finalize()[..SCOPE_LEN]
        .try_into()
        .expect("hash is long enough")
}

impl Cursor {
    pub(super) fn encode(&self, storage_name: &str, partition: &[Value], order: Order) -> String {
        let mut bytes = vec![CURSOR_VERSION];
        bytes.extend(scope(storage_name, partition, order));
        bytes.extend(encode_all(&self.after));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a cursor a client handed back; it must belong to this scan.
    pub(super) fn decode(
        text: &str,
        storage_name: &str,
        partition: &[Value],
        order: Order,
        clustering: impl IntoIterator<Item = ColumnType>,
    ) -> Result<Self, CapabilityError> {
        let invalid = || CapabilityError::invalid("the cursor does not belong to this scan");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let (header, rest) = bytes.split_at_checked(1 + SCOPE_LEN).ok_or_else(invalid)?;
        if header[0] != CURSOR_VERSION || header[1..] != scope(storage_name, partition, order) {
            return Err(invalid());
        }
        let after = decode_all(clustering, rest).ok_or_else(invalid)?;
        Ok(Self { after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered_as_encoded(values: &[Value]) {
        for pair in values.windows(2) {
            assert!(
                encode_all(&pair[..1]) < encode_all(&pair[1..]),
                "{:?} should sort before {:?}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn byte_order_follows_value_order() {
        ordered_as_encoded(&[i64::MIN, -2, -1, 0, 1, 300, i64::MAX].map(Value::Int));
        ordered_as_encoded(
            &[
                f64::NEG_INFINITY,
                -2.5,
                -0.0,
                0.0,
                1e-300,
                3.0,
                f64::INFINITY,
            ]
            .map(Value::Float),
        );
        ordered_as_encoded(
            &["", "\0", "\0\0", "a", "a\0b", "ab", "b"].map(|s| Value::Text(s.into())),
        );
        ordered_as_encoded(&[Value::Boolean(false), Value::Boolean(true)]);
    }

    #[test]
    fn composite_keys_order_by_first_value_then_the_next() {
        let key = |a: &str, b: i64| encode_all(&[Value::Text(a.into()), Value::Int(b)]);
        assert!(key("a", 9) < key("ab", 0));
        assert!(key("a", -1) < key("a", 0));
    }

    #[test]
    fn every_type_round_trips() {
        let values = vec![
            Value::Boolean(true),
            Value::Int(-7),
            Value::Float(-0.5),
            Value::Text("zero\0inside".into()),
            Value::Bytes(vec![0, 255, 0, 0]),
            Value::Uuid(uuid::Uuid::new_v4().to_string()),
            Value::Timestamp(1_700_000_000_000_000),
        ];
        let kinds = [
            ColumnType::Boolean,
            ColumnType::Int,
            ColumnType::Float,
            ColumnType::Text,
            ColumnType::Bytes,
            ColumnType::Uuid,
            ColumnType::Timestamp,
        ];
        assert_eq!(decode_all(kinds, &encode_all(&values)), Some(values));
        assert_eq!(decode_all([ColumnType::Int], &[1, 2, 3]), None);
    }

    #[test]
    fn cursors_only_continue_their_own_scan() {
        let partition = [Value::Int(1)];
        let cursor = Cursor {
            after: vec![Value::Timestamp(42)],
        };
        let text = cursor.encode("t", &partition, Order::Descending);
        let kinds = [ColumnType::Timestamp];
        let back = Cursor::decode(&text, "t", &partition, Order::Descending, kinds).unwrap();
        assert_eq!(back.after, [Value::Timestamp(42)]);
        for (name, partition, order) in [
            ("u", &partition, Order::Descending),
            ("t", &[Value::Int(2)], Order::Descending),
            ("t", &partition, Order::Ascending),
        ] {
            assert!(Cursor::decode(&text, name, partition, order, kinds).is_err());
        }
        assert!(Cursor::decode("not base64!", "t", &partition, Order::Descending, kinds).is_err());
        assert!(Cursor::decode("", "t", &partition, Order::Descending, kinds).is_err());
    }
}
