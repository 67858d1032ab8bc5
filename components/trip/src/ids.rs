//! Ids are UUIDv7: unique, and ordered by when they were made, to a quarter
//! of a microsecond.

use std::time::{SystemTime, UNIX_EPOCH};

use summer_sdk::{ApiError, Timestamp};
use uuid::Uuid;

/// Bits of the UUIDv7 `rand_a` field that hold the fraction of the
/// millisecond (RFC 9562, method 3).
const FRACTION_BITS: u8 = 12;

/// A new id, later than every id made before it (more than a quarter of a
/// microsecond before). Each request runs in a fresh instance, so no
/// counter could order ids within a millisecond: the sub-millisecond time
/// in `rand_a` does.
pub fn new_id() -> Uuid {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let nanos = now.subsec_nanos();
    let fraction = u128::from(nanos % 1_000_000) * (1 << FRACTION_BITS) / 1_000_000;
    Uuid::new_v7(uuid::Timestamp::from_unix_time(
        now.as_secs(),
        nanos,
        fraction,
        FRACTION_BITS,
    ))
}

/// `text` as an id; anything else is a 400 naming `what`.
pub fn parse_id(what: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text)
        .map_err(|_| ApiError::invalid(format!("{what} {text:?} is not a valid id (a UUID)")))
}

/// When a UUIDv7 was made, to the millisecond; `None` for other UUIDs.
pub fn timestamp_of(id: Uuid) -> Option<Timestamp> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    let millis = i64::try_from(secs).ok()? * 1000 + i64::from(nanos / 1_000_000);
    Some(Timestamp(millis * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_creation_time() {
        let before = Timestamp::now().micros() / 1000;
        let id = new_id();
        let at = timestamp_of(id).unwrap().micros() / 1000;
        assert!(at >= before && at <= Timestamp::now().micros() / 1000);
        assert_eq!(timestamp_of(Uuid::nil()), None);
    }

    #[test]
    fn ids_made_apart_within_a_millisecond_keep_their_order() {
        let made: Vec<Uuid> = (0..200)
            .map(|_| {
                std::thread::sleep(std::time::Duration::from_micros(2));
                new_id()
            })
            .collect();
        let mut sorted = made.clone();
        sorted.sort();
        assert_eq!(sorted, made);
    }

    #[test]
    fn bad_ids_are_a_400_naming_the_field() {
        let err = parse_id("user_id", "42").unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("user_id"), "{err}");
        assert!(parse_id("user_id", &new_id().to_string()).is_ok());
    }
}
